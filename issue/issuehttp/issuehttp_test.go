package issuehttp_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/statustoken/statustoken/holder"
	"github.com/statustoken/statustoken/internal/testkeys"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/issue/issuehttp"
	"github.com/statustoken/statustoken/issue/issuetest"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/token/tokenhttp"
	"github.com/statustoken/statustoken/verify"
)

var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

const (
	green token.Status = 1
	red   token.Status = 2
)

// env is an issuer behind a Handler on a test server, with a published
// directory, and a client of it.
type env struct {
	pub       *issuetest.Publisher
	published token.Published
	h         *issuehttp.Handler
	srv       *httptest.Server
	client    *tokenhttp.Client
	// now is the handler's clock; authorize answers for the handler.
	now       atomic.Pointer[time.Time]
	authorize atomic.Pointer[issuehttp.AuthorizeFunc]
	// calls counts the calls of authorize.
	calls atomic.Int64
}

// holders maps the credentials the default authorize knows to statuses.
var holders = map[string]token.Status{"alice-key": green, "bob-key": red}

func newEnv(t *testing.T) *env {
	t.Helper()
	store := issue.NewMemoryKeyStore()
	start := uint32(testNow.Unix()) / 86400 * 86400
	for e := range uint32(2) {
		for j, st := range []token.Status{green, red} {
			ref := issue.KeyRef{Status: st, NotBefore: start + e*86400, EpochLength: 86400}
			if err := store.Put(ref, testkeys.RSA(int(e)*2+j)); err != nil {
				t.Fatal(err)
			}
		}
	}
	p, err := issuetest.NewPublisher(issue.Config{
		EpochLength: 24 * time.Hour,
		Statuses:    []token.StatusName{{Code: green, Name: "green"}, {Code: red, Name: "red"}},
		Suites:      []token.Suite{token.RSABSSA},
		RSAKeys:     store,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	published, err := p.Publish(testNow, 1)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{pub: p, published: published}
	now := testNow
	e.now.Store(&now)
	def := issuehttp.AuthorizeFunc(func(r *http.Request, cred string) (token.Status, error) {
		if st, ok := holders[cred]; ok {
			return st, nil
		}
		return 0, issuehttp.ErrUnknownCredential
	})
	e.authorize.Store(&def)
	e.h, err = issuehttp.NewHandler(issuehttp.Options{
		Issuer: p.Issuer,
		Authorize: func(r *http.Request, cred string) (token.Status, error) {
			e.calls.Add(1)
			return (*e.authorize.Load())(r, cred)
		},
		Now: func() time.Time { return *e.now.Load() },
	})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.h)
	t.Cleanup(e.srv.Close)
	if e.client, err = tokenhttp.NewClient(e.srv.URL, nil); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) publish(t *testing.T) {
	t.Helper()
	if err := e.h.Publish(e.published, testNow.Add(12*time.Hour)); err != nil {
		t.Fatal(err)
	}
}

func (e *env) setAuthorize(f issuehttp.AuthorizeFunc) { e.authorize.Store(&f) }

// wallet returns a holder of the directory fetched from the handler and
// a request of n green tokens.
func (e *env) wallet(t *testing.T, n int) (*holder.Holder, *holder.Pending, []byte) {
	t.Helper()
	p, err := e.client.FetchDirectory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w, err := holder.New(p, e.pub.Trust, &holder.Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	pending, req, err := w.Request(green, testNow, n)
	if err != nil {
		t.Fatal(err)
	}
	return w, pending, req
}

// TestIssuance: a wallet fetches the directory through the client,
// requests tokens, and a scanner that fetched the same directory verifies
// them.
func TestIssuance(t *testing.T) {
	e := newEnv(t)
	e.publish(t)
	w, pending, req := e.wallet(t, 3)
	resp, err := e.client.RequestTokens(context.Background(), "alice-key", req)
	if err != nil {
		t.Fatal(err)
	}
	toks, err := w.Finalize(pending, resp)
	if err != nil {
		t.Fatal(err)
	}
	p, dir, acc, err := e.client.Open(context.Background(), e.pub.Trust, token.Accepted{}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if dir.Serial != 1 || acc.Serial != 1 || !bytes.Equal(p.Directory, e.published.Directory) {
		t.Fatalf("Open: serial %d, accepted %d", dir.Serial, acc.Serial)
	}
	v, err := verify.New(p, e.pub.Trust, &verify.Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range toks {
		text, err := tok.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		if res, err := v.VerifyText(context.Background(), string(text)); err != nil || res.Status != green {
			t.Fatalf("token refused: %v %+v", err, res)
		}
	}
}

// get makes a request to the test server with the headers h (name, value
// pairs) and returns the answer with its body read.
func (e *env) do(t *testing.T, method, path string, body io.Reader, h ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(h); i += 2 {
		req.Header.Add(h[i], h[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// wantHeaders checks that resp carries each name, value pair of h.
func wantHeaders(t *testing.T, what string, resp *http.Response, h ...string) {
	t.Helper()
	for i := 0; i < len(h); i += 2 {
		if got := resp.Header.Get(h[i]); got != h[i+1] {
			t.Errorf("%s: %s is %q, want %q", what, h[i], got, h[i+1])
		}
	}
}

// TestDirectoryWire: the directory paths answer as SPEC.md, "Publishing
// and fetching a directory", says, byte for byte.
func TestDirectoryWire(t *testing.T) {
	e := newEnv(t)
	e.publish(t)
	pub := e.published
	cors := []string{"Access-Control-Allow-Origin", "*", "Access-Control-Expose-Headers", "Statustoken-Directory-Signature, Statustoken-Directory-Proof"}

	resp, body := e.do(t, "GET", "/.well-known/statustoken-directory", nil)
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || !bytes.Equal(body, pub.Directory) || !strings.HasPrefix(etag, `"1-`) {
		t.Fatalf("directory: %s, %d bytes, ETag %s", resp.Status, len(body), etag)
	}
	wantHeaders(t, "directory", resp, append(cors,
		"Content-Type", "application/json",
		"Content-Length", strconv.Itoa(len(pub.Directory)),
		"Cache-Control", "public, max-age=300",
		"Statustoken-Directory-Signature", base64.StdEncoding.EncodeToString(pub.Signature),
		"Statustoken-Directory-Proof", base64.StdEncoding.EncodeToString(pub.Proof))...)

	for _, c := range []struct {
		path, ctype string
		want        []byte
	}{
		{"/.well-known/statustoken-directory.sig", "application/octet-stream", pub.Signature},
		{"/.well-known/statustoken-directory.proof", "text/plain; charset=utf-8", pub.Proof},
	} {
		resp, body := e.do(t, "GET", c.path, nil)
		if resp.StatusCode != 200 || !bytes.Equal(body, c.want) {
			t.Fatalf("%s: %s, %q", c.path, resp.Status, body)
		}
		wantHeaders(t, c.path, resp, append(cors, "Content-Type", c.ctype, "ETag", etag, "Cache-Control", "public, max-age=300")...)
		if resp.Header.Get("Statustoken-Directory-Signature") != "" {
			t.Errorf("%s carries the signature header", c.path)
		}
	}

	// Conditional and HEAD requests.
	resp, body = e.do(t, "GET", "/.well-known/statustoken-directory", nil, "If-None-Match", etag)
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Fatalf("If-None-Match: %s, %d bytes", resp.Status, len(body))
	}
	resp, body = e.do(t, "HEAD", "/.well-known/statustoken-directory", nil)
	if resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("Statustoken-Directory-Signature") == "" {
		t.Fatalf("HEAD: %s, %d bytes", resp.Status, len(body))
	}

	// Near the end of the epoch, caches keep the directory only until then.
	now := testNow.Add(12*time.Hour - 90*time.Second)
	e.now.Store(&now)
	resp, _ = e.do(t, "GET", "/.well-known/statustoken-directory", nil)
	wantHeaders(t, "late", resp, "Cache-Control", "public, max-age=90")

	// Preflight, and methods that are not the path's.
	resp, body = e.do(t, "OPTIONS", "/.well-known/statustoken-directory.proof", nil, "Origin", "https://scanner.example", "Access-Control-Request-Method", "GET")
	if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("preflight: %s", resp.Status)
	}
	wantHeaders(t, "preflight", resp, append(cors, "Access-Control-Allow-Methods", "GET, HEAD",
		"Access-Control-Allow-Headers", "If-None-Match", "Access-Control-Max-Age", "86400")...)
	for _, c := range []struct{ method, path, allow string }{
		{"POST", "/.well-known/statustoken-directory", "GET, HEAD, OPTIONS"},
		{"PUT", "/.well-known/statustoken-directory.sig", "GET, HEAD, OPTIONS"},
		{"GET", "/token-request", "POST"},
		{"OPTIONS", "/token-request", "POST"},
	} {
		resp, _ := e.do(t, c.method, c.path, nil)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != c.allow {
			t.Errorf("%s %s: %s, Allow %q", c.method, c.path, resp.Status, resp.Header.Get("Allow"))
		}
		if c.path == "/token-request" && resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s %s answers cross-origin requests", c.method, c.path)
		}
	}
}

// TestNotPublished: before the first Publish every directory path answers
// 503 with Retry-After, which the client reports as ErrUnavailable.
func TestNotPublished(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/.well-known/statustoken-directory", "/.well-known/statustoken-directory.sig", "/.well-known/statustoken-directory.proof"} {
		resp, body := e.do(t, "GET", path, nil)
		if resp.StatusCode != 503 || !strings.HasPrefix(string(body), "no directory published yet") {
			t.Fatalf("%s: %s %q", path, resp.Status, body)
		}
		wantHeaders(t, path, resp, "Retry-After", "60", "Content-Type", "text/plain; charset=utf-8",
			"Cache-Control", "no-store", "X-Content-Type-Options", "nosniff", "Access-Control-Allow-Origin", "*")
	}
	_, err := e.client.FetchDirectory(context.Background())
	var se *tokenhttp.StatusError
	if !errors.Is(err, tokenhttp.ErrUnavailable) || !errors.As(err, &se) || se.RetryAfter != time.Minute || se.Code != 503 {
		t.Fatalf("fetch: %v", err)
	}
}

// TestPublishRefuses: Publish refuses what is not a publication and keeps
// serving the one before.
func TestPublishRefuses(t *testing.T) {
	e := newEnv(t)
	e.publish(t)
	good := e.published
	for name, p := range map[string]token.Published{
		"short signature": {Directory: good.Directory, Signature: good.Signature[:63], Proof: good.Proof},
		"long proof":      {Directory: good.Directory, Signature: good.Signature, Proof: make([]byte, token.MaxProofSize+1)},
		"not a directory": {Directory: []byte("{}"), Signature: good.Signature, Proof: good.Proof},
	} {
		if err := e.h.Publish(p, testNow); !errors.Is(err, issuehttp.ErrPublication) {
			t.Errorf("%s: %v", name, err)
		}
	}
	p, err := e.client.FetchDirectory(context.Background())
	if err != nil || !bytes.Equal(p.Proof, good.Proof) || !bytes.Equal(p.Signature, good.Signature) {
		t.Fatalf("after refusals: %v", err)
	}
}

// TestTokenRequestAnswers: every answer of the token request path, its
// status, headers and the client's sentinel.
func TestTokenRequestAnswers(t *testing.T) {
	e := newEnv(t)
	e.publish(t)
	_, _, req := e.wallet(t, 2)
	errBackend := errors.New("backend down")
	octet := []string{"Content-Type", "application/octet-stream"}
	auth := func(key string) []string { return append([]string{"Authorization", "Bearer " + key}, octet...) }

	for _, c := range []struct {
		name      string
		authorize issuehttp.AuthorizeFunc // nil: the default
		body      []byte
		headers   []string
		later     time.Duration // the handler's clock ahead of testNow
		code      int
		want      error // the client's sentinel; nil: the client is not used
		calls     int64
		extra     []string // headers the answer must carry
		text      string   // the start of the answer's text
	}{
		{name: "ok", body: req, headers: auth("alice-key"), code: 200, calls: 1},
		{name: "no credential", body: req, headers: octet, code: 401,
			extra: []string{"WWW-Authenticate", `Bearer realm="statustoken"`}, text: "missing API key"},
		{name: "basic", body: req, headers: append([]string{"Authorization", "Basic YTpi"}, octet...), code: 401, text: "missing API key"},
		{name: "two credentials", body: req, headers: append(auth("alice-key"), "Authorization", "Bearer bob-key"), code: 401, text: "missing API key"},
		{name: "unknown", body: req, headers: auth("eve-key"), code: 401, want: tokenhttp.ErrUnauthorized, calls: 1,
			extra: []string{"WWW-Authenticate", `Bearer realm="statustoken", error="invalid_token"`}, text: "unknown API key"},
		{name: "not a b64token", body: req, headers: auth("alice key"), code: 401, want: tokenhttp.ErrUnauthorized,
			extra: []string{"WWW-Authenticate", `Bearer realm="statustoken", error="invalid_token"`}, text: "unknown API key"},
		{name: "rate limited", body: req, headers: auth("alice-key"), code: 429, want: tokenhttp.ErrRateLimited, calls: 1,
			authorize: func(*http.Request, string) (token.Status, error) {
				return 0, &issuehttp.RetryError{Err: issuehttp.ErrRateLimited, After: 90*time.Second + 1, Limit: "at most 3 token requests per hour"}
			},
			extra: []string{"Retry-After", "91"}, text: "rate limit: retry in 2 min (at most 3 token requests per hour)"},
		{name: "rate limited, no wait", body: req, headers: auth("alice-key"), code: 429, want: tokenhttp.ErrRateLimited, calls: 1,
			authorize: func(*http.Request, string) (token.Status, error) {
				return 0, &issuehttp.RetryError{Err: issuehttp.ErrRateLimited}
			},
			extra: []string{"Retry-After", "1"}, text: "rate limit: retry in 1 s"},
		{name: "rate limited, plain sentinel", body: req, headers: auth("alice-key"), code: 429, want: tokenhttp.ErrRateLimited, calls: 1,
			authorize: func(*http.Request, string) (token.Status, error) {
				return 0, fmt.Errorf("holder over its limit: %w", issuehttp.ErrRateLimited)
			},
			extra: []string{"Retry-After", "1"}, text: "rate limit: retry in 1 s\n"},
		{name: "busy", body: req, headers: auth("alice-key"), code: 503, want: tokenhttp.ErrUnavailable, calls: 1,
			authorize: func(*http.Request, string) (token.Status, error) {
				return 0, &issuehttp.RetryError{Err: issuehttp.ErrBusy, After: 5 * time.Second}
			},
			extra: []string{"Retry-After", "5"}, text: "too many holders are being served: retry in 5 s"},
		{name: "authorize fails", body: req, headers: auth("alice-key"), code: 503, want: tokenhttp.ErrUnavailable, calls: 1,
			authorize: func(*http.Request, string) (token.Status, error) { return 0, errBackend },
			extra:     []string{"Retry-After", "30"}, text: "cannot check the API key right now"},
		{name: "status 0", body: req, headers: auth("alice-key"), code: 500, want: tokenhttp.ErrUnexpectedStatus, calls: 1,
			authorize: func(*http.Request, string) (token.Status, error) { return 0, nil }, text: "internal error"},
		{name: "not assigned", body: req, headers: auth("bob-key"), code: 403, want: tokenhttp.ErrForbidden, calls: 1,
			text: "the requested status is not the one assigned"},
		{name: "malformed", body: req[:len(req)-1], headers: auth("alice-key"), code: 400, want: tokenhttp.ErrBadRequest, calls: 1,
			text: "issue: malformed token request"},
		{name: "empty", body: nil, headers: auth("alice-key"), code: 400, want: tokenhttp.ErrBadRequest, calls: 1},
		{name: "key no longer issued", body: req, headers: auth("alice-key"), later: 72 * time.Hour, code: 409, want: tokenhttp.ErrNotIssuing, calls: 1,
			text: "the request names no key this issuer issues with now"},
		{name: "no media type", body: req, headers: []string{"Authorization", "Bearer alice-key"}, code: 415,
			text: "the request body must be application/octet-stream"},
		{name: "other media type", body: req, headers: []string{"Authorization", "Bearer alice-key", "Content-Type", "application/json"}, code: 415},
		{name: "media type with parameter", body: req, headers: []string{"Authorization", "Bearer alice-key", "Content-Type", "Application/Octet-Stream; x=y"}, code: 200, calls: 1},
		{name: "too large", body: make([]byte, issue.MaxRequestSize+1), headers: auth("alice-key"), code: 413,
			text: "request body of 25611 bytes is larger than the limit of 25610 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.authorize != nil {
				e.setAuthorize(c.authorize)
			} else {
				e.setAuthorize(func(r *http.Request, cred string) (token.Status, error) {
					if st, ok := holders[cred]; ok {
						return st, nil
					}
					return 0, issuehttp.ErrUnknownCredential
				})
			}
			now := testNow.Add(c.later)
			e.now.Store(&now)
			e.calls.Store(0)
			resp, body := e.do(t, "POST", "/token-request", bytes.NewReader(c.body), c.headers...)
			if resp.StatusCode != c.code || e.calls.Load() != c.calls {
				t.Fatalf("%s, %d calls, %q", resp.Status, e.calls.Load(), body)
			}
			wantHeaders(t, c.name, resp, "Cache-Control", "no-store")
			wantHeaders(t, c.name, resp, c.extra...)
			if c.code == 200 {
				wantHeaders(t, c.name, resp, "Content-Type", "application/octet-stream", "Content-Length", strconv.Itoa(len(body)))
				if len(body) != len(req) || !bytes.Equal(body[:10], req[:10]) {
					t.Fatalf("response of %d bytes to a request of %d", len(body), len(req))
				}
			} else {
				wantHeaders(t, c.name, resp, "Content-Type", "text/plain; charset=utf-8", "X-Content-Type-Options", "nosniff")
				if !strings.HasPrefix(string(body), c.text) || strings.Count(string(body), "\n") != 1 || !strings.HasSuffix(string(body), "\n") {
					t.Fatalf("answer %q, want one line starting %q", body, c.text)
				}
			}
			if c.want == nil {
				return
			}
			cred := strings.TrimPrefix(c.headers[1], "Bearer ")
			e.calls.Store(0)
			_, err := e.client.RequestTokens(context.Background(), cred, c.body)
			var se *tokenhttp.StatusError
			if !errors.Is(err, c.want) || !errors.As(err, &se) || se.Code != c.code || e.calls.Load() != c.calls {
				t.Fatalf("client: %v (%d calls)", err, e.calls.Load())
			}
			if ra := resp.Header.Get("Retry-After"); ra != "" && strconv.Itoa(int(se.RetryAfter/time.Second)) != ra {
				t.Fatalf("client: RetryAfter %v, header %s", se.RetryAfter, ra)
			}
			if !strings.HasPrefix(se.Message, strings.TrimSpace(c.text)) || strings.Contains(err.Error(), cred+" ") {
				t.Fatalf("client: message %q", se.Message)
			}
		})
	}
}

// TestOversizedChunked: a body sent without a length is refused with 413
// once it passes the limit, after the holder was authorized (the rate
// limit counts it), and the client refuses to send it at all.
func TestOversizedChunked(t *testing.T) {
	e := newEnv(t)
	e.publish(t)
	big := io.MultiReader(bytes.NewReader(make([]byte, issue.MaxRequestSize)), strings.NewReader("x"))
	resp, body := e.do(t, "POST", "/token-request", io.NopCloser(big), "Authorization", "Bearer alice-key", "Content-Type", "application/octet-stream")
	if resp.StatusCode != 413 || e.calls.Load() != 1 || !strings.HasPrefix(string(body), "request body is larger than the limit of 25610 bytes") {
		t.Fatalf("%s, %d calls, %q", resp.Status, e.calls.Load(), body)
	}
	_, err := e.client.RequestTokens(context.Background(), "alice-key", make([]byte, issue.MaxRequestSize+1))
	var se *tokenhttp.StatusError
	if !errors.Is(err, tokenhttp.ErrBadRequest) || errors.As(err, &se) || e.calls.Load() != 1 {
		t.Fatalf("client sent an oversized request: %v", err)
	}
}

// TestAuthorizeSeesRequest: the AuthorizeFunc gets the request's context
// and the credential, and the body is still unread.
func TestAuthorizeSeesRequest(t *testing.T) {
	e := newEnv(t)
	e.publish(t)
	_, _, req := e.wallet(t, 1)
	e.setAuthorize(func(r *http.Request, cred string) (token.Status, error) {
		if r.Context().Err() != nil || r.URL.Path != "/token-request" || cred != "alice-key" {
			return 0, errors.New("unexpected request")
		}
		return green, nil
	})
	if _, err := e.client.RequestTokens(context.Background(), "alice-key", req); err != nil {
		t.Fatal(err)
	}
}

// TestMaxConcurrent: requests beyond MaxConcurrent wait for a slot, and a
// client that goes away while waiting gets nothing signed.
func TestMaxConcurrent(t *testing.T) {
	e := newEnv(t)
	e.publish(t)
	_, _, req := e.wallet(t, 1)
	entered, release := make(chan struct{}), make(chan struct{})
	h, err := issuehttp.NewHandler(issuehttp.Options{
		Issuer:        e.pub.Issuer,
		MaxConcurrent: 1,
		Now:           func() time.Time { return testNow },
		Authorize:     func(*http.Request, string) (token.Status, error) { return green, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	// The first request holds the only slot while its body is read.
	first := make(chan int, 1)
	go func() {
		rec := httptest.NewRecorder()
		body := io.MultiReader(readerFunc(func([]byte) (int, error) {
			close(entered)
			<-release
			return 0, io.EOF
		}), bytes.NewReader(req))
		r := httptest.NewRequest("POST", "/token-request", body)
		r.Header.Set("Authorization", "Bearer k")
		r.Header.Set("Content-Type", "application/octet-stream")
		h.ServeHTTP(rec, r)
		first <- rec.Code
	}()
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	r := httptest.NewRequestWithContext(ctx, "POST", "/token-request", bytes.NewReader(req))
	r.Header.Set("Authorization", "Bearer k")
	r.Header.Set("Content-Type", "application/octet-stream")
	h.ServeHTTP(rec, r)
	if rec.Body.Len() != 0 {
		t.Fatalf("a request that gave up waiting got %d %q", rec.Code, rec.Body)
	}
	close(release)
	if code := <-first; code != 200 {
		t.Fatalf("first request: %d", code)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(b []byte) (int, error) { return f(b) }

// TestNewHandlerRefuses: the required options.
func TestNewHandlerRefuses(t *testing.T) {
	e := newEnv(t)
	ok := func(*http.Request, string) (token.Status, error) { return green, nil }
	for name, o := range map[string]issuehttp.Options{
		"no issuer":         {Authorize: ok},
		"zero issuer":       {Issuer: new(issue.Issuer), Authorize: ok},
		"no authorize":      {Issuer: e.pub.Issuer},
		"negative capacity": {Issuer: e.pub.Issuer, Authorize: ok, MaxConcurrent: -1},
	} {
		if _, err := issuehttp.NewHandler(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestCrossOrigin: the wrapper an embedder puts on its log paths.
func TestCrossOrigin(t *testing.T) {
	h := issuehttp.CrossOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "checkpoint\n")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/log/checkpoint", nil))
	if rec.Code != 200 || rec.Body.String() != "checkpoint\n" || rec.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("GET: %d %q %v", rec.Code, rec.Body, rec.Header())
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("OPTIONS", "/log/checkpoint", nil))
	if rec.Code != 204 || rec.Body.Len() != 0 || rec.Header().Get("Access-Control-Allow-Methods") != "GET, HEAD" {
		t.Fatalf("OPTIONS: %d %q %v", rec.Code, rec.Body, rec.Header())
	}
}

// TestClientHandlerBytes: what the client sends is what the handler
// reads, and what the handler writes is what the client returns, byte for
// byte, with the publication's signature and proof taken from the
// directory's headers or, when a proxy drops them, from their own paths.
func TestClientHandlerBytes(t *testing.T) {
	e := newEnv(t)
	e.publish(t)
	var dropHeaders atomic.Bool
	type seen struct {
		method, path, ctype, auth string
		body, answer              []byte
	}
	var mu sync.Mutex
	var log []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, r)
		if dropHeaders.Load() {
			rec.Header().Del(tokenhttp.SignatureHeader)
			rec.Header().Del(tokenhttp.ProofHeader)
		}
		// Logged before the answer is written, so that the client sees
		// the log complete once it has the answer.
		mu.Lock()
		log = append(log, seen{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), body, rec.Body.Bytes()})
		mu.Unlock()
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	logged := func() []seen {
		mu.Lock()
		defer mu.Unlock()
		l := log
		log = nil
		return l
	}
	defer srv.Close()
	c, err := tokenhttp.NewClient(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, drop := range []bool{false, true} {
		dropHeaders.Store(drop)
		p, err := c.FetchDirectory(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p.Directory, e.published.Directory) || !bytes.Equal(p.Signature, e.published.Signature) || !bytes.Equal(p.Proof, e.published.Proof) {
			t.Fatalf("headers dropped %v: the fetched publication differs from the published one", drop)
		}
		want := []string{tokenhttp.DirectoryPath}
		if drop {
			want = append(want, tokenhttp.SignaturePath, tokenhttp.ProofPath)
		}
		l := logged()
		if len(l) != len(want) {
			t.Fatalf("headers dropped %v: %d requests", drop, len(l))
		}
		for i, s := range l {
			if s.method != "GET" || s.path != want[i] || len(s.body) != 0 {
				t.Fatalf("headers dropped %v: request %d is %s %s", drop, i, s.method, s.path)
			}
		}
	}

	w, pending, req := e.wallet(t, 4)
	resp, err := c.RequestTokens(context.Background(), "alice-key", req)
	if err != nil {
		t.Fatal(err)
	}
	l := logged()
	if len(l) != 1 {
		t.Fatalf("%d requests", len(l))
	}
	s := l[0]
	if s.method != "POST" || s.path != "/token-request" || s.ctype != "application/octet-stream" || s.auth != "Bearer alice-key" ||
		!bytes.Equal(s.body, req) || !bytes.Equal(s.answer, resp) {
		t.Fatalf("request %s %s %q %q: body sent as read %v, answer returned as written %v",
			s.method, s.path, s.ctype, s.auth, bytes.Equal(s.body, req), bytes.Equal(s.answer, resp))
	}
	if toks, err := w.Finalize(pending, resp); err != nil || len(toks) != 4 {
		t.Fatalf("finalize: %v", err)
	}
}
