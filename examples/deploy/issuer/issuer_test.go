package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/witnesstest"
	"github.com/statustoken/statustoken/holder"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var testStatuses = []token.StatusName{{Code: 1, Name: "green"}, {Code: 2, Name: "red"}}

const testOrigin = "statustoken.test/issuer/directory"

// fixture is an issuer service on a fresh state directory, with one holder
// of each status and three witnesses in the test process.
type fixture struct {
	t         *testing.T
	cfg       *config
	srv       *server
	http      *httptest.Server
	log       *syncBuffer
	greenKey  string
	redKey    string
	witnesses []*witnesstest.Witness
}

// testConfig returns the configuration of a service on a fresh state
// directory.
func testConfig(t *testing.T) *config {
	return &config{
		stateDir:       filepath.Join(t.TempDir(), "state"),
		statuses:       testStatuses,
		epoch:          24 * time.Hour,
		epochs:         1,
		rateLimit:      10,
		rateWindow:     time.Hour,
		maxHolders:     1000,
		maxConcurrent:  2,
		witnesses:      filepath.Join(t.TempDir(), "witnesses"),
		quorum:         2,
		logOrigin:      testOrigin,
		cosignEvery:    time.Hour,
		cosignRetry:    time.Minute,
		witnessTimeout: 5 * time.Second,
	}
}

// setupWitnesses does what an operator does before the first start:
// creates the log key (as "issuer log-key"), registers the log with three
// witnesses and lists them in the witnesses file.
func setupWitnesses(t *testing.T, cfg *config) []*witnesstest.Witness {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"log-key", "-state", cfg.stateDir, "-log-origin", cfg.logOrigin}, &out, &errOut); code != 0 {
		t.Fatalf("log-key: %d %s", code, errOut.String())
	}
	vkey := strings.TrimSpace(out.String())
	var ws []*witnesstest.Witness
	var lines []string
	for i := range 3 {
		w := witnesstest.New(fmt.Sprintf("w%d.example", i+1))
		if err := w.AddLog(vkey); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, w.Line(w.Start(t)))
		ws = append(ws, w)
	}
	if err := os.WriteFile(cfg.witnesses, []byte("# test witnesses\n"+strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return ws
}

func newFixture(t *testing.T, rateLimit int) *fixture {
	t.Helper()
	cfg := testConfig(t)
	cfg.rateLimit = rateLimit
	f := &fixture{t: t, cfg: cfg, log: &syncBuffer{}}
	f.witnesses = setupWitnesses(t, cfg)
	var err error
	if f.greenKey, err = addHolder(cfg.holdersPath(), "green", testStatuses); err != nil {
		t.Fatal(err)
	}
	if f.redKey, err = addHolder(cfg.holdersPath(), "red", testStatuses); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(f.log, nil))
	if f.srv, _, err = newServer(context.Background(), cfg, logger, time.Now); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.srv.pub.logs.Close() })
	f.http = httptest.NewServer(f.srv.handler())
	t.Cleanup(f.http.Close)
	return f
}

func (f *fixture) root() ed25519.PublicKey {
	f.t.Helper()
	data, err := os.ReadFile(filepath.Join(f.cfg.stateDir, rootPubFile))
	if err != nil {
		f.t.Fatal(err)
	}
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(k) != ed25519.PublicKeySize {
		f.t.Fatalf("root.pub: %q", data)
	}
	return k
}

// trust returns the trust policy the issuer wrote.
func (f *fixture) trust() *token.Trust {
	f.t.Helper()
	text, err := os.ReadFile(filepath.Join(f.cfg.stateDir, trustFile))
	if err != nil {
		f.t.Fatal(err)
	}
	tr, err := token.ParseTrust(text)
	if err != nil {
		f.t.Fatalf("trust.txt: %v\n%s", err, text)
	}
	return tr
}

// published fetches the directory, its signature and its proof.
func (f *fixture) published() token.Published {
	f.t.Helper()
	resp := f.get(directoryPath)
	data := readAll(f.t, resp)
	if resp.StatusCode != http.StatusOK {
		f.t.Fatalf("directory: %d %s", resp.StatusCode, data)
	}
	sig, err := base64.StdEncoding.DecodeString(resp.Header.Get(signatureHeader))
	if err != nil {
		f.t.Fatal(err)
	}
	proof, err := base64.StdEncoding.DecodeString(resp.Header.Get(proofHeader))
	if err != nil {
		f.t.Fatal(err)
	}
	return token.Published{Directory: data, Signature: sig, Proof: proof}
}

func (f *fixture) get(path string, header ...string) *http.Response {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.http.URL+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp
}

func readAll(t *testing.T, r *http.Response) []byte {
	t.Helper()
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// holder fetches the directory and returns a Holder for it.
func (f *fixture) holder() *holder.Holder {
	f.t.Helper()
	h, err := holder.New(f.published(), f.trust(), nil)
	if err != nil {
		f.t.Fatalf("directory does not open under the trust policy: %v", err)
	}
	return h
}

// post sends a token request body with the API key (none when empty),
// and returns the response status, body and headers.
func (f *fixture) post(apiKey string, body io.Reader, contentLength int64) (int, string, http.Header) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.http.URL+tokenPath, body)
	req.ContentLength = contentLength
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, string(readAll(f.t, resp)), resp.Header
}

// issueTokens runs one whole blind issuance for status and checks the
// tokens with a verifier.
func (f *fixture) issueTokens(apiKey string, status token.Status, n int) ([]*token.Token, []byte) {
	f.t.Helper()
	h := f.holder()
	pending, req, err := h.Request(status, time.Now(), n)
	if err != nil {
		f.t.Fatal(err)
	}
	code, body, _ := f.post(apiKey, bytes.NewReader(req), int64(len(req)))
	if code != http.StatusOK {
		f.t.Fatalf("token request: %d %q", code, body)
	}
	toks, err := h.Finalize(pending, []byte(body))
	if err != nil {
		f.t.Fatalf("finalize: %v", err)
	}
	return toks, req
}

func oneLine(t *testing.T, body string) {
	t.Helper()
	if !strings.HasSuffix(body, "\n") || strings.Count(body, "\n") != 1 || len(strings.TrimSpace(body)) < 10 {
		t.Errorf("error body %q is not one clear line", body)
	}
}

func TestDirectoryEndpoints(t *testing.T) {
	f := newFixture(t, 10)
	resp := f.get(directoryPath)
	data := readAll(t, resp)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("directory: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	cc := resp.Header.Get("Cache-Control")
	m := regexp.MustCompile(`^public, max-age=(\d+)$`).FindStringSubmatch(cc)
	if m == nil {
		t.Fatalf("Cache-Control %q", cc)
	}
	if age, _ := strconv.Atoi(m[1]); age > int(directoryMaxAge/time.Second) {
		t.Fatalf("max-age %d beyond %v", age, directoryMaxAge)
	}
	etag := resp.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || len(etag) < 4 {
		t.Fatalf("ETag %q", etag)
	}
	sig, err := base64.StdEncoding.DecodeString(resp.Header.Get(signatureHeader))
	if err != nil {
		t.Fatal(err)
	}
	d, err := token.OpenDirectory(data, sig, f.root())
	if err != nil {
		t.Fatalf("directory and header signature: %v", err)
	}
	if d.Serial != 1 || len(d.Keys) != 2 || d.Keys[0].Suite != token.RSABSSA {
		t.Fatalf("directory: serial %d, %d keys", d.Serial, len(d.Keys))
	}

	sresp := f.get(signaturePath)
	if got := readAll(t, sresp); !bytes.Equal(got, sig) || sresp.Header.Get("ETag") != etag {
		t.Fatalf("signature path: %x (ETag %s), want %x (%s)", got, sresp.Header.Get("ETag"), sig, etag)
	}

	nm := f.get(directoryPath, "If-None-Match", etag)
	readAll(t, nm)
	if nm.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d, want 304", nm.StatusCode)
	}
	if r := f.get(healthPath); r.StatusCode != 200 || string(readAll(t, r)) != "ok\n" {
		t.Fatalf("health: %d", r.StatusCode)
	}
}

func TestTokenRequestErrors(t *testing.T) {
	f := newFixture(t, 4)
	h := f.holder()
	_, greenReq, err := h.Request(1, time.Now(), 2)
	if err != nil {
		t.Fatal(err)
	}
	_, redReq, err := h.Request(2, time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	unknownKey := bytes.Clone(greenReq)
	unknownKey[1] ^= 0xff

	huge := bytes.Repeat([]byte{1}, issue.MaxRequestSize+1)
	cases := []struct {
		name   string
		key    string
		body   []byte
		length int64 // -1: unknown (chunked)
		code   int
		want   string
	}{
		{"no API key", "", greenReq, int64(len(greenReq)), 401, "missing API key"},
		{"unknown API key", "not-a-key", greenReq, int64(len(greenReq)), 401, "unknown API key"},
		{"declared too large", f.greenKey, huge, int64(len(huge)), 413, "larger than the limit"},
		{"chunked too large", f.greenKey, huge, -1, 413, "larger than the limit"},
		{"empty body", f.redKey, nil, 0, 400, "malformed token request"},
		{"garbage", f.redKey, []byte("hello, issuer"), 13, 400, "malformed token request"},
		{"truncated", f.redKey, greenReq[:len(greenReq)-1], int64(len(greenReq) - 1), 400, "malformed token request"},
		{"unknown key", f.redKey, unknownKey, int64(len(unknownKey)), 400, "fetch the directory again"},
		{"status not assigned", f.greenKey, redReq, int64(len(redReq)), 403, "not the one assigned"},
	}
	for _, c := range cases {
		code, body, hdr := f.post(c.key, bytes.NewReader(c.body), c.length)
		if code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %q, want %d containing %q", c.name, code, body, c.code, c.want)
		}
		oneLine(t, body)
		if code == 401 && hdr.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", c.name)
		}
		if ct := hdr.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", c.name, ct)
		}
	}

	// The red holder used its 4 requests (empty, garbage, truncated,
	// unknown key): its next is beyond the limit.
	code, body, hdr := f.post(f.redKey, bytes.NewReader(redReq), int64(len(redReq)))
	if code != http.StatusTooManyRequests || !strings.Contains(body, "rate limit") {
		t.Fatalf("beyond the rate limit: %d %q", code, body)
	}
	oneLine(t, body)
	if ra, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || ra < 1 || ra > 3600 {
		t.Fatalf("Retry-After %q", hdr.Get("Retry-After"))
	}

	// Wrong method on the token path.
	resp := f.get(tokenPath)
	readAll(t, resp)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET %s: %d", tokenPath, resp.StatusCode)
	}

	// The service keeps serving: the green holder, who used 2 of its 4
	// requests (the body declared too large was refused before it
	// counted), still gets valid tokens.
	toks, _ := f.issueTokens(f.greenKey, 1, 2)
	v, err := verify.New(f.published(), f.trust(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range toks {
		raw, _ := tk.MarshalBinary()
		if r, err := v.Verify(t.Context(), raw); err != nil || r.StatusName != "green" {
			t.Fatalf("issued token: %v %+v", err, r)
		}
	}
	// Its fourth request is served, its fifth is beyond the limit.
	for i, want := range []int{http.StatusOK, http.StatusTooManyRequests} {
		if code, _, _ := f.post(f.greenKey, bytes.NewReader(greenReq), int64(len(greenReq))); code != want {
			t.Fatalf("green request %d: %d, want %d", 4+i, code, want)
		}
	}
}

func TestLogsHoldNoSecrets(t *testing.T) {
	f := newFixture(t, 10)
	toks, req := f.issueTokens(f.greenKey, 1, 3)
	f.post(f.redKey, bytes.NewReader(req), int64(len(req)))       // 403
	f.post("wrong-"+f.greenKey, bytes.NewReader(req), -1)         // 401
	f.post(f.greenKey, strings.NewReader("garbage-body-xyz"), -1) // 400
	readAll(t, f.get("/no/such/path?api_key="+f.redKey))

	logs := f.log.String()
	secrets := map[string]string{
		"green API key":         f.greenKey,
		"red API key":           f.redKey,
		"request body (base64)": base64.StdEncoding.EncodeToString(req[:32]),
		"body text":             "garbage-body-xyz",
	}
	for _, name := range []string{rootKeyFile, seedFile} {
		data, err := os.ReadFile(filepath.Join(f.cfg.stateDir, name))
		if err != nil {
			t.Fatal(err)
		}
		secrets[name] = strings.Split(string(data), "\n")[1] // first line of the PEM body
	}
	for _, tk := range toks {
		text, _ := tk.MarshalText()
		b64, _ := tk.Base64()
		secrets["token text"], secrets["token base64"] = string(text), b64
		secrets["token nonce"] = base64.RawURLEncoding.EncodeToString(tk.Nonce[:])
	}
	for name, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("log contains the %s", name)
		}
	}
	if strings.Contains(logs, "127.0.0.1") {
		t.Error("log contains a client address")
	}
	// Every request is logged with method, path, status and duration.
	lines := regexp.MustCompile(`(?m)^.*msg=request method=(\S+) path=(\S+) status=(\d+) duration=\S+$`).FindAllStringSubmatch(logs, -1)
	want := []string{
		"GET " + directoryPath + " 200", "POST " + tokenPath + " 200", "POST " + tokenPath + " 403",
		"POST " + tokenPath + " 401", "POST " + tokenPath + " 400", "GET - 404",
	}
	if len(lines) != len(want) {
		t.Fatalf("%d request log lines, want %d:\n%s", len(lines), len(want), logs)
	}
	for i, l := range lines {
		if got := l[1] + " " + l[2] + " " + l[3]; got != want[i] {
			t.Errorf("log line %d: %q, want %q", i, got, want[i])
		}
	}
}

func TestSerialOnlyIncreases(t *testing.T) {
	f := newFixture(t, 10)
	serial := func() uint64 { return f.srv.pub.current().serial }
	if serial() != 1 {
		t.Fatalf("first serial %d", serial())
	}
	if err := f.srv.pub.publish(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if serial() != 2 {
		t.Fatalf("after a second publication: %d", serial())
	}
	// A restart on the same state continues from the stored serial, with
	// the same root key and RSA keys.
	s2, _, err := newServer(context.Background(), f.cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.pub.logs.Close()
	p1, p2 := f.srv.pub.current(), s2.pub.current()
	if p2.serial != 3 {
		t.Fatalf("serial after restart %d, want 3", p2.serial)
	}
	d1, _ := token.ParseDirectory(p1.data)
	d2, err := token.OpenDirectory(p2.data, p2.sig, f.root())
	if err != nil {
		t.Fatal(err)
	}
	for i := range d1.Keys {
		if d1.Keys[i].ID != d2.Keys[i].ID {
			t.Fatalf("key %d changed across a restart", i)
		}
	}
	if p1.etag == p2.etag {
		t.Fatal("ETag did not change with the serial")
	}
}

func TestStatePermissions(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	setup := func(t *testing.T) *config {
		c := testConfig(t)
		setupWitnesses(t, c)
		if _, err := addHolder(c.holdersPath(), "green", testStatuses); err != nil {
			t.Fatal(err)
		}
		if _, err := openState(c.stateDir); err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, c := range []struct {
		name string
		mod  func(dir string) error
		want string
	}{
		{"state dir readable by others", func(d string) error { return os.Chmod(d, 0o755) }, "chmod 700"},
		{"root key readable by group", func(d string) error { return os.Chmod(filepath.Join(d, rootKeyFile), 0o640) }, "chmod 600"},
		{"seed readable by others", func(d string) error { return os.Chmod(filepath.Join(d, seedFile), 0o604) }, "chmod 600"},
		{"holders readable by others", func(d string) error { return os.Chmod(filepath.Join(d, holdersFile), 0o644) }, "chmod 600"},
		{"seed missing", func(d string) error { return os.Remove(filepath.Join(d, seedFile)) }, "holds only one of"},
		{"serial corrupt", func(d string) error {
			return os.WriteFile(filepath.Join(d, serialFile), []byte("seven\n"), 0o600)
		}, "not a decimal serial"},
		{"log key readable by others", func(d string) error { return os.Chmod(filepath.Join(d, "log.key"), 0o644) }, "chmod 600"},
		{"log records readable by others", func(d string) error { return os.Chmod(filepath.Join(d, "log", "records"), 0o644) }, "chmod 600"},
		{"log records corrupt", func(d string) error {
			return os.WriteFile(filepath.Join(d, "log", "records"), bytes.Repeat([]byte{7}, token.LogRecordSize), 0o600)
		}, "record 0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := setup(t)
			if err := c.mod(cfg.stateDir); err != nil {
				t.Fatal(err)
			}
			_, _, err := newServer(context.Background(), cfg, quiet, time.Now)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("newServer: %v, want an error containing %q", err, c.want)
			}
		})
	}

	// A fresh state has the modes the service demands.
	cfg := setup(t)
	for name, want := range map[string]os.FileMode{
		"": 0o700, keysDir: 0o700, rootKeyFile: 0o600, seedFile: 0o600, holdersFile: 0o600, "log.key": 0o600,
	} {
		fi, err := os.Stat(filepath.Join(cfg.stateDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %04o, want %04o", name, fi.Mode().Perm(), want)
		}
	}
}

func TestLimiter(t *testing.T) {
	l := newLimiter(2, time.Minute, 2)
	t0 := time.Unix(1_800_000_000, 0)
	for i := range 2 {
		if ok, _, _ := l.allow("a", t0); !ok {
			t.Fatalf("request %d refused", i)
		}
	}
	ok, wait, full := l.allow("a", t0)
	if ok || full || wait != 30*time.Second {
		t.Fatalf("third request: ok %v wait %v full %v; want a wait of 30s", ok, wait, full)
	}
	if ok, _, _ := l.allow("a", t0.Add(30*time.Second)); !ok {
		t.Fatal("refused after refilling one request")
	}
	// Another holder has its own bucket.
	if ok, _, _ := l.allow("b", t0); !ok {
		t.Fatal("holder b refused")
	}
	// The limiter is full (a and b, neither refilled): a third holder is
	// turned away rather than growing the map.
	if ok, _, full := l.allow("c", t0); ok || !full {
		t.Fatalf("third holder with the limiter full: ok %v full %v", ok, full)
	}
	// Once the buckets have refilled, they are dropped to make room.
	if ok, _, _ := l.allow("c", t0.Add(10*time.Minute)); !ok {
		t.Fatal("third holder refused after the others refilled")
	}
	if n := l.len(); n > 2 {
		t.Fatalf("limiter holds %d buckets, bound 2", n)
	}
}

func TestFileAttester(t *testing.T) {
	dir := t.TempDir()
	write := func(content string) string {
		name := filepath.Join(dir, "holders")
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return name
	}
	a, err := loadFileAttester(write("# comment\n\nplain-key-1 green\nsha256:"+strings.Repeat("ab", 32)+" red\n"), testStatuses)
	if err != nil {
		t.Fatal(err)
	}
	if at, err := a.Attest(context.Background(), "plain-key-1"); err != nil || at.Status != 1 || at.Holder == "" {
		t.Fatalf("plain key: %+v %v", at, err)
	}
	for _, bad := range []string{"plain-key-2", "", "plain key 1", strings.Repeat("k", 300)} {
		if _, err := a.Attest(context.Background(), bad); err != errUnknownHolder {
			t.Errorf("Attest(%q): %v", bad, err)
		}
	}
	for content, want := range map[string]string{
		"k1 blue\n":                      `unknown status "blue"`,
		"k1\n":                           "want an API key",
		"k1 green extra\n":               "want an API key",
		"k1 green\nk1 red\n":             "listed twice",
		"sha256:abcd green\n":            "64 hex digits",
		"k\x01ey green\n":                "printable ASCII",
		strings.Repeat("x", 2000) + "\n": "token too long",
	} {
		if _, err := loadFileAttester(write(content), testStatuses); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("holders %q: %v, want %q", content[:min(len(content), 20)], err, want)
		}
	}
	if _, err := loadFileAttester(filepath.Join(dir, "missing"), testStatuses); err == nil || !strings.Contains(err.Error(), "add-holder") {
		t.Errorf("missing file: %v", err)
	}
}

func TestAddHolderCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "st")
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"add-holder", "-state", dir, "red"}, &out, &errOut); code != 0 {
		t.Fatalf("add-holder: %d %s", code, errOut.String())
	}
	key := strings.TrimSpace(out.String())
	if len(key) != 43 {
		t.Fatalf("API key %q", key)
	}
	holders, err := os.ReadFile(filepath.Join(dir, holdersFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(holders), key) {
		t.Fatal("holders file stores the API key itself")
	}
	a, err := loadFileAttester(filepath.Join(dir, holdersFile), testStatuses)
	if err != nil {
		t.Fatal(err)
	}
	if at, err := a.Attest(context.Background(), key); err != nil || at.Status != 2 {
		t.Fatalf("new key: %+v %v", at, err)
	}
	// Flags after the status work too; unknown statuses are refused.
	out.Reset()
	if code := run(context.Background(), []string{"add-holder", "green", "-state", dir}, &out, &errOut); code != 0 {
		t.Fatalf("add-holder with flags last: %d", code)
	}
	errOut.Reset()
	if code := run(context.Background(), []string{"add-holder", "-state", dir, "purple"}, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), `unknown status "purple"`) {
		t.Fatalf("unknown status: %d %q", code, errOut.String())
	}
	if code := run(context.Background(), []string{"add-holder", "-state", dir}, &out, &errOut); code != 2 {
		t.Fatalf("no status: %d", code)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"serve", "-h"}, {"add-holder", "-h"}, {"log-key", "-h"}, {"help"}} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != 0 {
			t.Errorf("%v: exit %d", args, code)
		}
		if !strings.Contains(out.String()+errOut.String(), "issuer add-holder") {
			t.Errorf("%v: no usage text", args)
		}
	}
	for _, args := range [][]string{{"frobnicate"}, {"-statuses", "0=x"}, {"-statuses", "1=Green"}, {"-statuses", "1=a,2=a"}, {"-statuses", "1=a,1=b"},
		{"-witnesses", "w", "-rate-limit", "0"}, {"-witnesses", "w", "-tls-cert", "x"}, {"serve", "-witnesses", "w", "extra"},
		{"serve"}, {"-witnesses", "w", "-quorum", "0"}, {"-witnesses", "w", "-cosign-every", "48h"}, {"log-key", "extra"}} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// TestServeShutsDownGracefully runs the whole service on a loopback port
// and stops it as a signal would.
func TestServeShutsDownGracefully(t *testing.T) {
	cfg := testConfig(t)
	setupWitnesses(t, cfg)
	dir := cfg.stateDir
	if _, err := addHolder(filepath.Join(dir, holdersFile), "green", testStatuses); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-state", dir, "-addr", "127.0.0.1:0", "-epochs", "1", "-witnesses", cfg.witnesses}, io.Discard, logs)
	}()
	url := waitListening(t, logs, done)
	resp, err := http.Get(url + healthPath)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, logs)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("service did not stop")
	}
	if !strings.Contains(logs.String(), "msg=stopped") {
		t.Fatalf("no shutdown in the log:\n%s", logs)
	}
	if _, err := http.Get(url + healthPath); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

func waitListening(t *testing.T, logs *syncBuffer, done chan int) string {
	t.Helper()
	re := regexp.MustCompile(`msg=listening url=(\S+)`)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(logs.String()); m != nil {
			return m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("service exited %d:\n%s", code, logs)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("service did not start:\n%s", logs)
	return ""
}
