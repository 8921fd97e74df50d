package tokenhttp_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/token/tokenhttp"
)

// issuer is a hand-written issuer whose answers a test sets: the
// directory, signature and proof bodies, whether the signature and proof
// go in headers, and the ETag of each path.
type issuer struct {
	dir, sig, proof    []byte
	sigHeader, prfHdr  string // header values; none when empty
	dirTag, sigTag     string
	proofTag           string
	proofCode          int // the proof path's status; 200 when zero
	requests           atomic.Int64
	tokenReq           func(w http.ResponseWriter, r *http.Request)
	lastAuth, lastType atomic.Value
}

func (is *issuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	is.requests.Add(1)
	switch r.URL.Path {
	case "/base/.well-known/statustoken-directory":
		w.Header().Set("ETag", is.dirTag)
		if is.sigHeader != "" {
			w.Header().Set("Statustoken-Directory-Signature", is.sigHeader)
		}
		if is.prfHdr != "" {
			w.Header().Set("Statustoken-Directory-Proof", is.prfHdr)
		}
		w.Write(is.dir)
	case "/base/.well-known/statustoken-directory.sig":
		w.Header().Set("ETag", is.sigTag)
		w.Write(is.sig)
	case "/base/.well-known/statustoken-directory.proof":
		w.Header().Set("ETag", is.proofTag)
		if is.proofCode != 0 {
			w.WriteHeader(is.proofCode)
		}
		w.Write(is.proof)
	case "/base/token-request":
		is.lastAuth.Store(r.Header.Get("Authorization"))
		is.lastType.Store(r.Header.Get("Content-Type"))
		is.tokenReq(w, r)
	default:
		http.NotFound(w, r)
	}
}

func newIssuer() *issuer {
	sig := bytes.Repeat([]byte{7}, token.DirectorySignatureSize)
	proof := []byte("c2sp.org/tlog-proof@v1\nindex 0\n\nproof\n")
	return &issuer{
		dir: []byte(`{"version":1}`), sig: sig, proof: proof,
		sigHeader: base64.StdEncoding.EncodeToString(sig), prfHdr: base64.StdEncoding.EncodeToString(proof),
		dirTag: `"1"`, sigTag: `"1"`, proofTag: `"1"`,
	}
}

func serve(t *testing.T, h http.Handler) *tokenhttp.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := tokenhttp.NewClient(srv.URL+"/base/", nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFetchDirectory(t *testing.T) {
	is := newIssuer()
	c := serve(t, is)
	want := token.Published{Directory: is.dir, Signature: is.sig, Proof: is.proof}
	check := func(name string, requests int64) {
		t.Helper()
		is.requests.Store(0)
		p, err := c.FetchDirectory(context.Background())
		if err != nil || !bytes.Equal(p.Directory, want.Directory) || !bytes.Equal(p.Signature, want.Signature) || !bytes.Equal(p.Proof, want.Proof) {
			t.Fatalf("%s: %v, %d+%d+%d bytes", name, err, len(p.Directory), len(p.Signature), len(p.Proof))
		}
		if n := is.requests.Load(); n != requests {
			t.Fatalf("%s: %d requests, want %d", name, n, requests)
		}
	}
	check("headers", 1)
	is.sigHeader = ""
	check("signature from its path", 2)
	is.prfHdr = ""
	check("both from their paths", 3)
	is.proofCode, want.Proof = 404, nil
	check("no proof", 3)
}

// TestFetchRefuses: every way a 200 answer to a directory fetch can break
// the protocol, and a directory that changes between the requests.
func TestFetchRefuses(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(is *issuer)
		want   error
	}{
		{"directory too large", func(is *issuer) { is.dir = make([]byte, token.MaxDirectorySize+1) }, tokenhttp.ErrMalformedResponse},
		{"signature header not base64", func(is *issuer) { is.sigHeader = "!!" }, tokenhttp.ErrMalformedResponse},
		{"signature header unpadded", func(is *issuer) { is.sigHeader = strings.TrimRight(is.sigHeader, "=") }, tokenhttp.ErrMalformedResponse},
		{"signature header URL alphabet", func(is *issuer) {
			is.sigHeader = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 64))
			is.sigHeader = strings.NewReplacer("+", "-", "/", "_").Replace(is.sigHeader)
		}, tokenhttp.ErrMalformedResponse},
		{"signature header short", func(is *issuer) { is.sigHeader = base64.StdEncoding.EncodeToString(is.sig[:63]) }, tokenhttp.ErrMalformedResponse},
		{"signature header long", func(is *issuer) { is.sigHeader = base64.StdEncoding.EncodeToString(append(is.sig, 0)) }, tokenhttp.ErrMalformedResponse},
		{"signature path short", func(is *issuer) { is.sigHeader, is.sig = "", is.sig[:63] }, tokenhttp.ErrMalformedResponse},
		{"signature path long", func(is *issuer) { is.sigHeader, is.sig = "", append(is.sig, 0) }, tokenhttp.ErrMalformedResponse},
		{"proof header too large", func(is *issuer) {
			is.prfHdr = base64.StdEncoding.EncodeToString(make([]byte, token.MaxProofSize+1))
		}, tokenhttp.ErrMalformedResponse},
		{"proof path too large", func(is *issuer) { is.prfHdr, is.proof = "", make([]byte, token.MaxProofSize+1) }, tokenhttp.ErrMalformedResponse},
		{"signature of another version", func(is *issuer) { is.sigHeader, is.sigTag = "", `"2"` }, tokenhttp.ErrChanged},
		{"proof of another version", func(is *issuer) { is.prfHdr, is.proofTag = "", `"2"` }, tokenhttp.ErrChanged},
		{"proof path fails", func(is *issuer) { is.prfHdr, is.proofCode = "", 500 }, tokenhttp.ErrUnexpectedStatus},
		{"proof path unavailable", func(is *issuer) { is.prfHdr, is.proofCode = "", 503 }, tokenhttp.ErrUnavailable},
	} {
		t.Run(c.name, func(t *testing.T) {
			is := newIssuer()
			c.change(is)
			p, err := serve(t, is).FetchDirectory(context.Background())
			if !errors.Is(err, c.want) || p.Directory != nil || p.Signature != nil || p.Proof != nil {
				t.Fatalf("got %v, %d+%d+%d bytes; want %v and nothing", err, len(p.Directory), len(p.Signature), len(p.Proof), c.want)
			}
		})
	}
}

// TestStatusErrors: each status code gives its sentinel, with the
// issuer's message and Retry-After.
func TestStatusErrors(t *testing.T) {
	for _, c := range []struct {
		code       int
		want       error
		body       string
		retryAfter string
		msg        string
		after      time.Duration
	}{
		{400, tokenhttp.ErrBadRequest, "issue: malformed token request\n", "", "issue: malformed token request", 0},
		{401, tokenhttp.ErrUnauthorized, "unknown API key\n", "", "unknown API key", 0},
		{403, tokenhttp.ErrForbidden, "no\r\nsecond line\n", "", "no", 0},
		{404, tokenhttp.ErrUnexpectedStatus, "404 page not found\n", "", "404 page not found", 0},
		{405, tokenhttp.ErrBadRequest, "Method Not Allowed\n", "", "Method Not Allowed", 0},
		{409, tokenhttp.ErrNotIssuing, "fetch the directory again\n", "", "fetch the directory again", 0},
		{413, tokenhttp.ErrBadRequest, "too large\n", "", "too large", 0},
		{415, tokenhttp.ErrBadRequest, "", "", "", 0},
		{429, tokenhttp.ErrRateLimited, "rate limit\x1b[31m red\n", "3600", "rate limit[31m red", time.Hour},
		{429, tokenhttp.ErrRateLimited, "", "Fri, 07 Aug 2026 10:00:00 GMT", "", 0},
		{429, tokenhttp.ErrRateLimited, "", "-5", "", 0},
		{429, tokenhttp.ErrRateLimited, "", "99999999999", "", 0},
		{503, tokenhttp.ErrUnavailable, "busy\n", "9999999", "busy", 7 * 24 * time.Hour},
		{500, tokenhttp.ErrUnexpectedStatus, "internal error\n", "", "internal error", 0},
		{302, tokenhttp.ErrUnexpectedStatus, "", "", "", 0},
		{204, tokenhttp.ErrUnexpectedStatus, "", "", "", 0},
		{400, tokenhttp.ErrBadRequest, strings.Repeat("x", 2000), "", strings.Repeat("x", tokenhttp.MaxErrorSize), 0},
	} {
		is := newIssuer()
		is.tokenReq = func(w http.ResponseWriter, r *http.Request) {
			if c.retryAfter != "" {
				w.Header().Set("Retry-After", c.retryAfter)
			}
			if c.code == 302 {
				w.Header().Set("Location", "/elsewhere")
			}
			w.WriteHeader(c.code)
			io.WriteString(w, c.body)
		}
		_, err := serve(t, is).RequestTokens(context.Background(), "secret-key", []byte("request"))
		var se *tokenhttp.StatusError
		if !errors.Is(err, c.want) || !errors.As(err, &se) || se.Code != c.code || se.Message != c.msg || se.RetryAfter != c.after {
			t.Errorf("%d %q: %#v", c.code, c.body, err)
			continue
		}
		if strings.Contains(err.Error(), "secret-key") || !strings.Contains(err.Error(), http.StatusText(c.code)) {
			t.Errorf("%d: error text %q", c.code, err)
		}
	}
}

func TestRequestTokens(t *testing.T) {
	is := newIssuer()
	resp := bytes.Repeat([]byte{1}, tokenhttp.MaxResponseSize)
	is.tokenReq = func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != "POST" || string(body) != "request" {
			http.Error(w, "bad", 400)
			return
		}
		w.Write(resp)
	}
	c := serve(t, is)
	got, err := c.RequestTokens(context.Background(), "k", []byte("request"))
	if err != nil || !bytes.Equal(got, resp) {
		t.Fatalf("%v, %d bytes", err, len(got))
	}
	if is.lastAuth.Load() != "Bearer k" || is.lastType.Load() != "application/octet-stream" {
		t.Fatalf("sent %q, %q", is.lastAuth.Load(), is.lastType.Load())
	}
	resp = append(resp, 1)
	if got, err := c.RequestTokens(context.Background(), "k", []byte("request")); !errors.Is(err, tokenhttp.ErrMalformedResponse) || got != nil {
		t.Fatalf("oversized response: %v", err)
	}
	is.requests.Store(0)
	if _, err := c.RequestTokens(context.Background(), "k", make([]byte, tokenhttp.MaxRequestSize+1)); !errors.Is(err, tokenhttp.ErrBadRequest) || is.requests.Load() != 0 {
		t.Fatalf("oversized request: %v, %d requests", err, is.requests.Load())
	}
}

// TestInsecure: a credential goes over plain http only to this machine.
func TestInsecure(t *testing.T) {
	var sent atomic.Bool
	hc := &http.Client{Transport: roundTripper(func(*http.Request) (*http.Response, error) {
		sent.Store(true)
		return nil, errors.New("no network in this test")
	})}
	for base, want := range map[string]error{
		"http://issuer.example":   tokenhttp.ErrInsecure,
		"http://192.0.2.1:8080/x": tokenhttp.ErrInsecure,
		"http://[::2]":            tokenhttp.ErrInsecure,
		"http://localhost:1":      nil,
		"http://127.0.0.2":        nil,
		"http://[::1]:80":         nil,
		"https://issuer.example":  nil,
	} {
		c, err := tokenhttp.NewClient(base, hc)
		if err != nil {
			t.Fatal(err)
		}
		sent.Store(false)
		_, err = c.RequestTokens(context.Background(), "k", []byte("r"))
		if want != nil && (!errors.Is(err, want) || sent.Load()) || want == nil && !sent.Load() {
			t.Errorf("%s: %v, sent %v", base, err, sent.Load())
		}
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestNewClient(t *testing.T) {
	for _, s := range []string{"", "issuer.example", "ftp://issuer.example", "https://", "https://u:p@issuer.example",
		"https://issuer.example?x=1", "https://issuer.example/?", "https://issuer.example#f", "https:issuer.example", "http://%zz"} {
		if _, err := tokenhttp.NewClient(s, nil); !errors.Is(err, tokenhttp.ErrBaseURL) {
			t.Errorf("%q: %v", s, err)
		}
	}
	for s, want := range map[string]string{
		"https://issuer.example/":       "https://issuer.example",
		"https://issuer.example:8443/h": "https://issuer.example:8443/h",
		"http://127.0.0.1:80//":         "http://127.0.0.1:80",
	} {
		c, err := tokenhttp.NewClient(s, nil)
		if err != nil || c.BaseURL() != want {
			t.Errorf("%q: %v", s, err)
		}
	}
}

// TestNoRedirect: the default client does not follow a redirect, which
// would take the credential or the directory from elsewhere.
func TestNoRedirect(t *testing.T) {
	var followed atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("/base/.well-known/statustoken-directory", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/other", http.StatusFound)
	})
	mux.HandleFunc("/other", func(w http.ResponseWriter, r *http.Request) { followed.Store(true) })
	_, err := serve(t, mux).FetchDirectory(context.Background())
	var se *tokenhttp.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusFound || !errors.Is(err, tokenhttp.ErrUnexpectedStatus) || followed.Load() {
		t.Fatalf("%v, followed %v", err, followed.Load())
	}
}

// TestRequestDecision: the commitment and evidence go in their headers,
// and 200 and 403 come back with the receipt, bounded and strictly
// decoded; other answers carry no decision.
func TestRequestDecision(t *testing.T) {
	is := newIssuer()
	receipt := bytes.Repeat([]byte{4}, token.ReceiptSize)
	var code atomic.Int64
	var receiptHeader atomic.Value
	receiptHeader.Store(base64.StdEncoding.EncodeToString(receipt))
	var gotCommitment, gotEvidence atomic.Value
	is.tokenReq = func(w http.ResponseWriter, r *http.Request) {
		gotCommitment.Store(r.Header.Values(tokenhttp.CommitmentHeader))
		gotEvidence.Store(r.Header.Values(tokenhttp.EvidenceHeader))
		if v := receiptHeader.Load().(string); v != "" {
			w.Header().Set(tokenhttp.ReceiptHeader, v)
		}
		switch code.Load() {
		case 403:
			http.Error(w, "refused: Administrative (reason 2)", 403)
		case 429:
			w.Header().Set("Retry-After", "5")
			http.Error(w, "rate limit", 429)
		default:
			w.Write([]byte("response"))
		}
	}
	c := serve(t, is)
	ctx := context.Background()
	commitment := [32]byte{1, 2, 3}
	d, err := c.RequestDecision(ctx, "k", []byte("request"), commitment, []byte("evidence"))
	if err != nil || string(d.Response) != "response" || !bytes.Equal(d.Receipt, receipt) || d.Refusal != nil {
		t.Fatalf("grant: %v, %+v", err, d)
	}
	if v := gotCommitment.Load().([]string); len(v) != 1 || v[0] != base64.StdEncoding.EncodeToString(commitment[:]) {
		t.Fatalf("commitment sent: %q", v)
	}
	if v := gotEvidence.Load().([]string); len(v) != 1 || v[0] != base64.StdEncoding.EncodeToString([]byte("evidence")) {
		t.Fatalf("evidence sent: %q", v)
	}
	code.Store(403)
	d, err = c.RequestDecision(ctx, "k", []byte("request"), commitment, nil)
	if err != nil || d.Response != nil || !bytes.Equal(d.Receipt, receipt) || d.Refusal == nil ||
		!errors.Is(d.Refusal, tokenhttp.ErrForbidden) || d.Refusal.Message != "refused: Administrative (reason 2)" {
		t.Fatalf("refusal: %v, %+v", err, d)
	}
	if v := gotEvidence.Load().([]string); len(v) != 0 {
		t.Fatalf("evidence sent without evidence: %q", v)
	}
	// No receipt: the decision without one, for the wallet to refuse.
	receiptHeader.Store("")
	if d, err = c.RequestDecision(ctx, "k", []byte("request"), commitment, nil); err != nil || d.Receipt != nil || d.Refusal == nil {
		t.Fatalf("refusal without a receipt: %v, %+v", err, d)
	}
	code.Store(0)
	for _, v := range []string{"*not base64*", base64.RawStdEncoding.EncodeToString(receipt), base64.StdEncoding.EncodeToString(append(receipt, 0))} {
		receiptHeader.Store(v)
		if d, err := c.RequestDecision(ctx, "k", []byte("request"), commitment, nil); !errors.Is(err, tokenhttp.ErrMalformedResponse) || d != nil {
			t.Errorf("receipt header %.20q: %v", v, err)
		}
	}
	receiptHeader.Store(base64.StdEncoding.EncodeToString(receipt))
	code.Store(429)
	var se *tokenhttp.StatusError
	if d, err := c.RequestDecision(ctx, "k", []byte("request"), commitment, nil); !errors.As(err, &se) || !errors.Is(err, tokenhttp.ErrRateLimited) || se.RetryAfter != 5*time.Second || d != nil {
		t.Fatalf("429: %v", err)
	}
	is.requests.Store(0)
	if _, err := c.RequestDecision(ctx, "k", []byte("request"), commitment, make([]byte, tokenhttp.MaxEvidenceSize+1)); !errors.Is(err, tokenhttp.ErrBadRequest) || is.requests.Load() != 0 {
		t.Fatalf("evidence too long: %v, %d requests", err, is.requests.Load())
	}
}

// TestFetchDecisionProof: the record is named in lower-case hex; 404 is
// not yet logged, with its Retry-After; the body is bounded.
func TestFetchDecisionProof(t *testing.T) {
	hash := [32]byte{0xab, 0xcd}
	var body atomic.Value
	body.Store([]byte("proof"))
	var notFound atomic.Bool
	c := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/base/decisions/proof/abcd"+strings.Repeat("00", 30) {
			http.Error(w, "wrong path", 400)
			return
		}
		if notFound.Load() {
			w.Header().Set("Retry-After", "120")
			http.Error(w, "not yet", 404)
			return
		}
		w.Write(body.Load().([]byte))
	}))
	ctx := context.Background()
	if p, err := c.FetchDecisionProof(ctx, hash); err != nil || string(p) != "proof" {
		t.Fatalf("%v, %q", err, p)
	}
	notFound.Store(true)
	var se *tokenhttp.StatusError
	if _, err := c.FetchDecisionProof(ctx, hash); !errors.Is(err, tokenhttp.ErrNotYetLogged) || !errors.As(err, &se) || se.RetryAfter != 2*time.Minute {
		t.Fatalf("not yet logged: %v", err)
	}
	notFound.Store(false)
	for _, b := range [][]byte{nil, make([]byte, token.MaxProofSize+1)} {
		body.Store(b)
		if _, err := c.FetchDecisionProof(ctx, hash); !errors.Is(err, tokenhttp.ErrMalformedResponse) {
			t.Errorf("proof of %d bytes: %v", len(b), err)
		}
	}
}
