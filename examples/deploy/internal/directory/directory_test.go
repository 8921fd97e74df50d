package directory

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

func TestIssuerURL(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:8080", "https://issuer.example/", "https://issuer.example/base"} {
		if _, err := IssuerURL(ok); err != nil {
			t.Errorf("IssuerURL(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "ftp://x", "127.0.0.1:8080", "https://", "https://x/?a=b", "https://u:p@x"} {
		if _, err := IssuerURL(bad); err == nil {
			t.Errorf("IssuerURL(%q) accepted", bad)
		}
	}
	for u, want := range map[string]bool{"http://localhost:1": true, "http://127.0.0.2": true, "http://[::1]:80": true,
		"http://10.0.0.1": false, "http://127.0.0.1.example": false, "http://example.test": false} {
		p, _ := IssuerURL(u)
		if got := Loopback(p); got != want {
			t.Errorf("Loopback(%s) = %v", u, got)
		}
	}
}

func TestFetch(t *testing.T) {
	_, root, _ := ed25519.GenerateKey(rand.Reader)
	seed := make([]byte, issue.SeedSize)
	is, err := issue.NewIssuer(issue.Config{RootKey: root, Seed: seed, EpochLength: time.Hour,
		Statuses: []token.StatusName{{Code: 1, Name: "green"}}})
	if err != nil {
		t.Fatal(err)
	}
	data, sig, _ := is.Directory(time.Now(), 7)
	proof := []byte("c2sp.org/tlog-proof@v1\nindex 0\n\nlog\n")
	header, hasProof, proofETag := true, true, `"7"`
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"7"`)
		if header {
			w.Header().Set(SignatureHeader, base64.StdEncoding.EncodeToString(sig))
			w.Header().Set(ProofHeader, base64.StdEncoding.EncodeToString(proof))
		}
		w.Write(data)
	})
	mux.HandleFunc("GET "+SignaturePath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"7"`)
		w.Write(sig)
	})
	mux.HandleFunc("GET "+ProofPath, func(w http.ResponseWriter, r *http.Request) {
		if !hasProof {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("ETag", proofETag)
		w.Write(proof)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	base, _ := IssuerURL(srv.URL)
	for _, h := range []bool{true, false} {
		header = h
		p, err := Fetch(context.Background(), srv.Client(), base)
		if err != nil || string(p.Directory) != string(data) || string(p.Signature) != string(sig) || string(p.Proof) != string(proof) {
			t.Fatalf("Fetch (headers %v): %v", h, err)
		}
		if _, err := token.OpenDirectory(p.Directory, p.Signature, is.RootPublicKey()); err != nil {
			t.Fatal(err)
		}
	}
	// No proof at all: an empty one, for the library to refuse.
	hasProof = false
	if p, err := Fetch(context.Background(), srv.Client(), base); err != nil || p.Proof != nil {
		t.Fatalf("Fetch without a proof: %v %q", err, p.Proof)
	}
	// A proof of another version.
	hasProof, proofETag = true, `"8"`
	if _, err := Fetch(context.Background(), srv.Client(), base); err == nil || !strings.Contains(err.Error(), "changed while it was fetched") {
		t.Fatalf("Fetch with a proof of another version: %v", err)
	}
	other, _ := IssuerURL(srv.URL + "/elsewhere")
	if _, err := Fetch(context.Background(), srv.Client(), other); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("Fetch of a missing directory: %v", err)
	}
}

func TestResponseError(t *testing.T) {
	resp := &http.Response{
		Status:     "429 Too Many Requests",
		StatusCode: 429,
		Header:     http.Header{"Retry-After": {"120\x1b[2J"}},
		Body:       io.NopCloser(strings.NewReader("rate limit exceeded\x1b[31m; retry later\nsecond line\n")),
	}
	got := ResponseError(resp).Error()
	want := "issuer answered 429 Too Many Requests: rate limit exceeded[31m; retry later (Retry-After: 1202 s)"
	if got != want {
		t.Fatalf("ResponseError = %q, want %q", got, want)
	}
}
