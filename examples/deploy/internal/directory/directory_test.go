package directory

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

func TestParseRootKey(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	std := base64.StdEncoding.EncodeToString(pub)
	file := filepath.Join(t.TempDir(), "root.pub")
	os.WriteFile(file, []byte(std+"\n"), 0o644)
	for _, v := range []string{std, base64.RawURLEncoding.EncodeToString(pub), " " + std + "\n", file} {
		k, err := ParseRootKey(v)
		if err != nil || !k.Equal(pub) {
			t.Errorf("ParseRootKey(%q): %v", v, err)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.pub")
	os.WriteFile(bad, []byte("hello\n"), 0o644)
	for _, v := range []string{"", "abc", base64.StdEncoding.EncodeToString(pub[:31]), bad, filepath.Join(t.TempDir(), "missing")} {
		if _, err := ParseRootKey(v); err == nil {
			t.Errorf("ParseRootKey(%q) accepted", v)
		}
	}
}

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
	header := true
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"7"`)
		if header {
			w.Header().Set(SignatureHeader, base64.StdEncoding.EncodeToString(sig))
		}
		w.Write(data)
	})
	mux.HandleFunc("GET "+SignaturePath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"7"`)
		w.Write(sig)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	base, _ := IssuerURL(srv.URL)
	for _, h := range []bool{true, false} {
		header = h
		d, s, err := Fetch(context.Background(), srv.Client(), base)
		if err != nil || string(d) != string(data) || string(s) != string(sig) {
			t.Fatalf("Fetch (signature header %v): %v", h, err)
		}
		if _, err := token.OpenDirectory(d, s, is.RootPublicKey()); err != nil {
			t.Fatal(err)
		}
	}
	other, _ := IssuerURL(srv.URL + "/elsewhere")
	if _, _, err := Fetch(context.Background(), srv.Client(), other); err == nil || !strings.Contains(err.Error(), "404") {
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

func TestCheckNewer(t *testing.T) {
	_, root, _ := ed25519.GenerateKey(rand.Reader)
	is, err := issue.NewIssuer(issue.Config{RootKey: root, Seed: make([]byte, issue.SeedSize), EpochLength: time.Hour,
		Statuses: []token.StatusName{{Code: 1, Name: "green"}}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	d5, _, _ := is.Directory(now, 5)
	d6, _, _ := is.Directory(now, 6)
	d5later, _, _ := is.Directory(now.Add(2*time.Hour), 5)
	if err := CheckNewer(nil, d5); err != nil {
		t.Fatal(err)
	}
	if err := CheckNewer(d5, d6); err != nil {
		t.Fatal(err)
	}
	if err := CheckNewer(d5, d5); err != nil {
		t.Fatal(err)
	}
	if err := CheckNewer(d6, d5); !errors.Is(err, ErrRollback) {
		t.Fatalf("older serial: %v", err)
	}
	if err := CheckNewer(d5, d5later); !errors.Is(err, ErrRollback) {
		t.Fatalf("same serial, other bytes: %v", err)
	}
	if err := CheckNewer([]byte("{"), d5); err == nil {
		t.Fatal("unreadable stored directory accepted")
	}
}
