package issuer

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
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/syncbuf"

	"github.com/statustoken/statustoken/examples/deploy/internal/witnesstest"
	"github.com/statustoken/statustoken/holder"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/token/tokenhttp"
	"github.com/statustoken/statustoken/verify"
)

// syncBuffer collects output written from several goroutines.
type syncBuffer = syncbuf.Buffer

var testStatuses = []token.StatusName{{Code: 1, Name: "green"}, {Code: 2, Name: "red"}}

const testOrigin = "statustoken.test/issuer/directory"

// fixture is an issuer service on a fresh state directory, with one holder
// of each status and three witnesses in the test process.
type fixture struct {
	t         *testing.T
	cfg       *Config
	srv       *Service
	http      *httptest.Server
	log       *syncBuffer
	greenKey  string
	redKey    string
	witnesses []*witnesstest.Witness
}

// testConfig returns the configuration of a service on a fresh state
// directory.
func testConfig(t *testing.T) *Config {
	return &Config{
		StateDir:       filepath.Join(t.TempDir(), "state"),
		Statuses:       testStatuses,
		Epoch:          24 * time.Hour,
		Epochs:         1,
		RateLimit:      10,
		RateWindow:     time.Hour,
		MaxHolders:     1000,
		MaxConcurrent:  2,
		Witnesses:      filepath.Join(t.TempDir(), "witnesses"),
		Quorum:         2,
		LogOrigin:      testOrigin,
		CosignEvery:    time.Hour,
		IssueMaxAge:    2 * time.Hour,
		CosignRetry:    time.Minute,
		WitnessTimeout: 5 * time.Second,

		TokensPerRequest: 2,
		DecisionInterval: 100 * time.Millisecond,
		DecisionLogDelay: 2 * time.Minute,
	}
}

// startService opens the service on cfg and makes its first publication.
func startService(t *testing.T, cfg *Config, logger *slog.Logger, now func() time.Time) *Service {
	t.Helper()
	s, err := open(*cfg, logger, now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// testOpening is the holder's opening of the tests' requests.
var (
	testOpening    = &token.Opening{Statement: []byte("test holder")}
	testCommitment = testOpening.Commitment()
)

// quiet is a logger that discards everything.
var quiet = slog.New(slog.DiscardHandler)

// setupWitnesses does what an operator does before the first start:
// creates the log key (as "issuer log-key"), registers the log with three
// witnesses and lists them in the witnesses file.
func setupWitnesses(t *testing.T, cfg *Config) []*witnesstest.Witness {
	t.Helper()
	infos, err := LogKey(cfg.StateDir, cfg.LogOrigin)
	if err != nil {
		t.Fatal(err)
	}
	var ws []*witnesstest.Witness
	var lines []string
	for i := range 3 {
		w := witnesstest.New(fmt.Sprintf("w%d.example", i+1))
		for _, info := range infos {
			if err := w.AddLog(info.VerifierKey); err != nil {
				t.Fatal(err)
			}
		}
		lines = append(lines, w.Line(w.Start(t)))
		ws = append(ws, w)
	}
	if err := os.WriteFile(cfg.Witnesses, []byte("# test witnesses\n"+strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return ws
}

func newFixture(t *testing.T, rateLimit int) *fixture {
	t.Helper()
	cfg := testConfig(t)
	cfg.RateLimit = rateLimit
	f := &fixture{t: t, cfg: cfg, log: &syncBuffer{}}
	f.witnesses = setupWitnesses(t, cfg)
	var err error
	if f.greenKey, err = AddHolder(cfg.HoldersPath(), "green", testStatuses, DefaultReasons(testStatuses)); err != nil {
		t.Fatal(err)
	}
	if f.redKey, err = AddHolder(cfg.HoldersPath(), "red", testStatuses, DefaultReasons(testStatuses)); err != nil {
		t.Fatal(err)
	}
	f.srv = startService(t, cfg, slog.New(slog.NewTextHandler(f.log, nil)), time.Now)
	f.http = httptest.NewServer(f.srv.Handler())
	t.Cleanup(f.http.Close)
	return f
}

func (f *fixture) root() ed25519.PublicKey {
	f.t.Helper()
	data, err := os.ReadFile(filepath.Join(f.cfg.StateDir, rootPubFile))
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
	text, err := os.ReadFile(filepath.Join(f.cfg.StateDir, trustFile))
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
	req.Header.Set("Content-Type", tokenhttp.RequestType)
	req.ContentLength = contentLength
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	req.Header.Set(commitmentHeader, base64.StdEncoding.EncodeToString(testCommitment[:]))
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
	_, redReq, err := h.Request(2, time.Now(), 2)
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
		{"unknown key", f.redKey, unknownKey, int64(len(unknownKey)), 409, "fetch the directory again"},
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

	// Requests refused before a decision count for nothing; the red
	// holder's 4 requests for green, refused with receipts, do: its next
	// is beyond the limit.
	for i := range 4 {
		if code, body, _ := f.post(f.redKey, bytes.NewReader(greenReq), int64(len(greenReq))); code != http.StatusForbidden {
			t.Fatalf("red asking green, %d: %d %q", i, code, body)
		}
	}
	code, body, hdr := f.post(f.redKey, bytes.NewReader(redReq), int64(len(redReq)))
	if code != http.StatusTooManyRequests || !strings.Contains(body, "rate limit") {
		t.Fatalf("beyond the rate limit: %d %q", code, body)
	}
	oneLine(t, body)
	// The wait is said once, for people; the header carries it in
	// seconds: a quarter of an hour for 4 requests an hour.
	if ra, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || ra < 890 || ra > 900 {
		t.Fatalf("Retry-After %q", hdr.Get("Retry-After"))
	}
	if body != "rate limit: retry in 15 min (at most 4 token requests per hour)\n" {
		t.Fatalf("rate limit message %q", body)
	}

	// Wrong method on the token path.
	resp := f.get(tokenPath)
	readAll(t, resp)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET %s: %d", tokenPath, resp.StatusCode)
	}

	// The service keeps serving: the green holder, who used 1 of its 4
	// requests (the one for red; the others were refused before a
	// decision, and count for nothing), still gets valid tokens.
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
	// Its third and fourth requests are served, its fifth is beyond the
	// limit.
	for i, want := range []int{http.StatusOK, http.StatusOK, http.StatusTooManyRequests} {
		if code, _, _ := f.post(f.greenKey, bytes.NewReader(greenReq), int64(len(greenReq))); code != want {
			t.Fatalf("green request %d: %d, want %d", 3+i, code, want)
		}
	}
}

// TestRateLimitMessage checks the 429 of a holder allowed one request a
// minute: singular, in seconds.
func TestRateLimitMessage(t *testing.T) {
	cfg := testConfig(t)
	setupWitnesses(t, cfg)
	key, err := AddHolder(cfg.HoldersPath(), "green", testStatuses, DefaultReasons(testStatuses))
	if err != nil {
		t.Fatal(err)
	}
	cfg.RateLimit, cfg.RateWindow = 1, time.Minute
	s := startService(t, cfg, quiet, time.Now)
	h := s.Handler()
	srv := httptest.NewServer(h)
	defer srv.Close()
	// A request for red by a green holder: refused, and counted.
	red := validRequest(t, srv.URL, cfg.StateDir, 2)
	var codes []int
	var body string
	var hdr http.Header
	for range 2 {
		rec := postRequest(h, key, red)
		codes, body, hdr = append(codes, rec.Code), rec.Body.String(), rec.Header()
	}
	if codes[0] != http.StatusForbidden || codes[1] != http.StatusTooManyRequests {
		t.Fatalf("codes %v", codes)
	}
	if !regexp.MustCompile(`^rate limit: retry in (59 s|1 min) \(at most 1 token request per minute\)\n$`).MatchString(body) {
		t.Fatalf("rate limit message %q", body)
	}
	if ra := hdr.Get("Retry-After"); ra != "59" && ra != "60" {
		t.Fatalf("Retry-After %q", ra)
	}
}

func TestLogsHoldNoSecrets(t *testing.T) {
	f := newFixture(t, 10)
	toks, req := f.issueTokens(f.greenKey, 1, 2)
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
		data, err := os.ReadFile(filepath.Join(f.cfg.StateDir, name))
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
	serial := func(s *Service) uint64 { return s.pub.current().serial }
	if serial(f.srv) != 1 || storedSerial(t, f.cfg) != "1" {
		t.Fatalf("first serial %d, stored %q", serial(f.srv), storedSerial(t, f.cfg))
	}
	if err := f.srv.pub.publish(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if serial(f.srv) != 2 || storedSerial(t, f.cfg) != "2" {
		t.Fatalf("after a second publication: %d, stored %q", serial(f.srv), storedSerial(t, f.cfg))
	}
	p1 := f.srv.pub.current()
	f.srv.Close()
	// The witnesses' clocks move on a second at each cosignature, so that
	// each cosigning makes a new proof.
	var tick atomic.Int64
	for _, w := range f.witnesses {
		w.Now = func() time.Time { return time.Now().Add(time.Duration(tick.Add(1)) * time.Second) }
	}

	// A restart within the same window serves the same directory, serial
	// and all, with a fresh proof: no serial is used up and nothing is
	// logged.
	s2 := startService(t, f.cfg, quiet, time.Now)
	p2 := s2.pub.current()
	if p2.serial != 2 || !bytes.Equal(p2.data, p1.data) || s2.pub.logs.Size() != 2 {
		t.Fatalf("restart in the same window: serial %d, log size %d; want serial 2 again", p2.serial, s2.pub.logs.Size())
	}
	if bytes.Equal(p2.proof, p1.proof) || p2.etag == p1.etag {
		t.Fatal("the proof was not refreshed at the restart")
	}
	s2.Close()

	// -republish makes a new directory anyway, from the stored serial,
	// with the same root key and RSA keys.
	cfg := *f.cfg
	cfg.Republish = true
	s3 := startService(t, &cfg, quiet, time.Now)
	p3 := s3.pub.current()
	if p3.serial != 3 || storedSerial(t, f.cfg) != "3" {
		t.Fatalf("serial after a restart with -republish %d, want 3", p3.serial)
	}
	d1, _ := token.ParseDirectory(p1.data)
	d3, err := token.OpenDirectory(p3.data, p3.sig, f.root())
	if err != nil {
		t.Fatal(err)
	}
	for i := range d1.Keys {
		if d1.Keys[i].ID != d3.Keys[i].ID {
			t.Fatalf("key %d changed across a restart", i)
		}
	}
	if p1.etag == p3.etag {
		t.Fatal("ETag did not change with the serial")
	}
	s3.Close()

	// A restart in the next epoch: the window moved, so a new serial.
	later := func() time.Time { return time.Now().Add(f.cfg.Epoch) }
	s4 := startService(t, f.cfg, quiet, later)
	p4 := s4.pub.current()
	d4, _ := token.ParseDirectory(p4.data)
	if p4.serial != 4 || d4.Keys[0].NotBefore != d3.Keys[0].NotBefore+uint32(f.cfg.Epoch/time.Second) {
		t.Fatalf("restart in the next epoch: serial %d", p4.serial)
	}
	s4.Close()

	// Another configuration (two epochs listed) changes the directory:
	// a new serial too.
	cfg = *f.cfg
	cfg.Epochs = 2
	s5 := startService(t, &cfg, quiet, later)
	if p5 := s5.pub.current(); p5.serial != 5 {
		t.Fatalf("restart with -epochs 2: serial %d, want 5", p5.serial)
	}
}

// storedSerial returns the content of the state directory's serial file.
func storedSerial(t *testing.T, cfg *Config) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(cfg.StateDir, serialFile))
	if err != nil {
		return "none"
	}
	return strings.TrimSpace(string(data))
}

func TestStatePermissions(t *testing.T) {
	setup := func(t *testing.T) *Config {
		c := testConfig(t)
		setupWitnesses(t, c)
		if _, err := AddHolder(c.HoldersPath(), "green", testStatuses, DefaultReasons(testStatuses)); err != nil {
			t.Fatal(err)
		}
		if _, err := openState(c.StateDir, true); err != nil {
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
		{"decision log key readable by others", func(d string) error { return os.Chmod(filepath.Join(d, "decisions.key"), 0o644) }, "chmod 600"},
		{"decision key readable by others", func(d string) error { return os.Chmod(filepath.Join(d, decisionFile), 0o644) }, "chmod 600"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := setup(t)
			if err := c.mod(cfg.StateDir); err != nil {
				t.Fatal(err)
			}
			s, err := open(*cfg, quiet, time.Now)
			if err == nil {
				s.Close()
			}
			want := strings.ReplaceAll(c.want, "${STATE}/", cfg.StateDir+"/")
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("open: %v, want an error containing %q", err, want)
			}
		})
	}

	// A fresh state has the modes the service demands.
	cfg := setup(t)
	for name, want := range map[string]os.FileMode{
		"": 0o700, keysDir: 0o700, rootKeyFile: 0o600, seedFile: 0o600, holdersFile: 0o600, "log.key": 0o600,
	} {
		fi, err := os.Stat(filepath.Join(cfg.StateDir, name))
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
	a, err := loadFileAttester(write("# comment\n\nplain-key-1 green\nsha256:"+strings.Repeat("ab", 32)+" red\n"), testStatuses, DefaultReasons(testStatuses))
	if err != nil {
		t.Fatal(err)
	}
	if at, err := a.Attest(context.Background(), "plain-key-1"); err != nil || at.Status != 1 || at.Holder == "" {
		t.Fatalf("plain key: %+v %v", at, err)
	}
	for _, bad := range []string{"plain-key-2", "", "plain key 1", strings.Repeat("k", 300)} {
		if _, err := a.Attest(context.Background(), bad); err != ErrUnknownHolder {
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
		if _, err := loadFileAttester(write(content), testStatuses, DefaultReasons(testStatuses)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("holders %q: %v, want %q", content[:min(len(content), 20)], err, want)
		}
	}
	if _, err := loadFileAttester(filepath.Join(dir, "missing"), testStatuses, DefaultReasons(testStatuses)); err == nil || !strings.Contains(err.Error(), "add-holder") {
		t.Errorf("missing file: %v", err)
	}
}

func TestAddHolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "st")
	name := filepath.Join(dir, holdersFile)
	key, err := AddHolder(name, "red", testStatuses, DefaultReasons(testStatuses))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(key) {
		t.Fatalf("API key %q", key)
	}
	holders, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(holders), key) {
		t.Fatal("holders file stores the API key itself")
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, name: 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Fatalf("%s: %v, want mode %04o", path, err, want)
		}
	}
	a, err := loadFileAttester(name, testStatuses, DefaultReasons(testStatuses))
	if err != nil {
		t.Fatal(err)
	}
	if at, err := a.Attest(context.Background(), key); err != nil || at.Status != 2 {
		t.Fatalf("new key: %+v %v", at, err)
	}
	if _, err := AddHolder(name, "purple", testStatuses, DefaultReasons(testStatuses)); err == nil || !strings.Contains(err.Error(), `unknown status "purple"`) {
		t.Fatalf("unknown status: %v", err)
	}
}

// TestAPIKeyNoLeadingDash: no API key starts with "-", which command lines
// take for an option: random bytes that base64url would start with "-"
// (0xf8: 111110, the 62nd letter) give a key of hex digits. A key that
// does start with "-", listed as is in a holders file, still works.
func TestAPIKeyNoLeadingDash(t *testing.T) {
	key, err := newAPIKey(bytes.NewReader(bytes.Repeat([]byte{0xf8}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(key) {
		t.Fatalf("API key %q", key)
	}
	if _, err := newAPIKey(bytes.NewReader(make([]byte, 31))); err == nil {
		t.Fatal("a key from 31 random bytes")
	}
	name := filepath.Join(t.TempDir(), "holders")
	if err := os.WriteFile(name, []byte("-dash-key green\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := loadFileAttester(name, testStatuses, DefaultReasons(testStatuses))
	if err != nil {
		t.Fatal(err)
	}
	if at, err := a.Attest(context.Background(), "-dash-key"); err != nil || at.Status != 1 {
		t.Fatalf("a key starting with -: %+v %v", at, err)
	}
}

func TestText(t *testing.T) {
	for _, c := range []struct {
		n    int
		want string
	}{{0, "0 tokens"}, {1, "1 token"}, {2, "2 tokens"}} {
		if got := plural(c.n, "token", "tokens"); got != c.want {
			t.Errorf("plural(%d) = %q", c.n, got)
		}
	}
	for d, want := range map[time.Duration]string{
		0: "0 s", 300 * time.Millisecond: "1 s", 45 * time.Second: "45 s", 360 * time.Second: "6 min",
		361 * time.Second: "7 min", 59*time.Second + time.Millisecond: "1 min", 59*time.Minute + time.Second: "1 h", time.Hour: "1 h", 90 * time.Minute: "1 h 30 min", 72 * time.Hour: "3 days",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
	for d, want := range map[time.Duration]string{time.Second: "per second", time.Minute: "per minute", time.Hour: "per hour", 30 * time.Minute: "per 30 min"} {
		if got := per(d); got != want {
			t.Errorf("per(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestCheck(t *testing.T) {
	base := DefaultConfig()
	base.Witnesses = "w"
	if err := base.Check(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, c := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.RateLimit = 0 }, "-rate-limit"},
		{func(c *Config) { c.Epoch = 30 * time.Minute }, "-epoch"},
		{func(c *Config) { c.Epochs = 17 }, "-epochs"},
		{func(c *Config) { c.MaxConcurrent = 0 }, "-max-concurrent"},
		{func(c *Config) { c.TLSCert = "x" }, "go together"},
		{func(c *Config) { c.Witnesses = "" }, "-witnesses is required"},
		{func(c *Config) { c.Quorum = 0 }, "-quorum"},
		{func(c *Config) { c.CosignEvery = 48 * time.Hour }, "-cosign-every"},
		{func(c *Config) { c.CosignEvery = 61 * time.Minute }, "-cosign-every must be from 1s to half of -issue-max-age (2h0m0s)"},
		{func(c *Config) { c.IssueMaxAge = 49 * time.Hour }, "-issue-max-age"},
		{func(c *Config) { c.IssueMaxAge = 0 }, "-issue-max-age"},
		{func(c *Config) { c.Statuses = []token.StatusName{{Code: 1, Name: "A"}} }, "-statuses"},
		{func(c *Config) { c.Addr = "0.0.0.0:8080" }, errClearText},
		{func(c *Config) { c.Addr = ":8080" }, errClearText},
		{func(c *Config) { c.Addr = "[::]:8080" }, errClearText},
		{func(c *Config) { c.Addr = "192.0.2.1:8080" }, "not a loopback address"},
		{func(c *Config) { c.Addr = "8080" }, "want HOST:PORT"},
	} {
		cfg := base
		c.mod(&cfg)
		if err := cfg.Check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", cfg, err, c.want)
		}
	}
	for _, mod := range []func(*Config){
		func(c *Config) { c.Addr = "127.0.0.1:0" },
		func(c *Config) { c.Addr = "[::1]:0" },
		func(c *Config) { c.Addr = "localhost:0" },
		func(c *Config) { c.Addr, c.InsecureHTTP = "0.0.0.0:0", true },
		func(c *Config) { c.Addr, c.TLSCert, c.TLSKey = ":443", "c", "k" },
	} {
		ok := base
		mod(&ok)
		if err := ok.Check(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
}

// TestServeShutsDownGracefully runs the whole service on a loopback port
// and stops it as a signal would.
func TestServeShutsDownGracefully(t *testing.T) {
	cfg := testConfig(t)
	setupWitnesses(t, cfg)
	if _, err := AddHolder(cfg.HoldersPath(), "green", testStatuses, DefaultReasons(testStatuses)); err != nil {
		t.Fatal(err)
	}
	cfg.Addr = "127.0.0.1:0"
	reload := make(chan os.Signal, 1)
	cfg.Reload = reload
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, *cfg, slog.New(slog.NewTextHandler(logs, nil))) }()
	url := waitListening(t, logs, done)
	resp, err := http.Get(url + healthPath)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if !strings.Contains(logs.String(), "msg=\"directory published\" serial=1") {
		t.Fatalf("no publication in the log:\n%s", logs)
	}

	// A reload reads the holders file again: a holder added meanwhile
	// is known.
	key, err := AddHolder(cfg.HoldersPath(), "red", testStatuses, DefaultReasons(testStatuses))
	if err != nil {
		t.Fatal(err)
	}
	reload <- syscall.SIGHUP
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), `msg="holders file reloaded" holders=2`) {
		if time.Now().After(deadline) {
			t.Fatalf("no reload in the log:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	req, _ := http.NewRequest(http.MethodPost, url+tokenPath, bytes.NewReader(validRequest(t, url, cfg.StateDir, 2)))
	req.Header.Set("Content-Type", tokenhttp.RequestType)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set(commitmentHeader, base64.StdEncoding.EncodeToString(testCommitment[:]))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if readAll(t, resp); resp.StatusCode != http.StatusOK {
		t.Fatalf("the holder added before the reload: %d, want 200 (known, red)", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v\n%s", err, logs)
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

func waitListening(t *testing.T, logs *syncBuffer, done chan error) string {
	t.Helper()
	re := regexp.MustCompile(`msg=listening url=(\S+)`)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(logs.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("service stopped: %v\n%s", err, logs)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("service did not start:\n%s", logs)
	return ""
}

// TestCORS checks the cross-origin headers: on the directory's paths and
// the log's, errors included, with preflight answers; never on the token
// requests.
func TestCORS(t *testing.T) {
	f := newFixture(t, 10)
	paths := []string{directoryPath, signaturePath, proofPath, checkpointPath, tilePrefix + "0/000.p/1", archivePrefix + "1", archivePrefix + "1.sig", archivePrefix + "99"}
	for _, path := range paths {
		resp := f.get(path, "Origin", "https://scanner.example")
		readAll(t, resp)
		if resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Access-Control-Expose-Headers") != "Statustoken-Directory-Signature, Statustoken-Directory-Proof" {
			t.Errorf("GET %s (%d): CORS headers %q %q", path, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("Access-Control-Expose-Headers"))
		}
	}
	for _, path := range paths[:5] {
		req, _ := http.NewRequest(http.MethodOptions, f.http.URL+path, nil)
		req.Header.Set("Origin", "https://scanner.example")
		req.Header.Set("Access-Control-Request-Method", "GET")
		req.Header.Set("Access-Control-Request-Headers", "if-none-match")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "GET") || resp.Header.Get("Access-Control-Allow-Headers") != "If-None-Match" {
			t.Errorf("OPTIONS %s: %d %v", path, resp.StatusCode, resp.Header)
		}
	}
	// The token requests: no CORS header on an answer or a preflight, so
	// that no page of another origin can send an API key there and read
	// the answer.
	h := f.holder()
	_, req, err := h.Request(1, time.Now(), 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{f.greenKey, "", "wrong"} {
		code, _, hdr := f.post(key, bytes.NewReader(req), int64(len(req)))
		if hdr.Get("Access-Control-Allow-Origin") != "" || hdr.Get("Access-Control-Expose-Headers") != "" {
			t.Errorf("POST %s (%d) with CORS headers", tokenPath, code)
		}
	}
	preq, _ := http.NewRequest(http.MethodOptions, f.http.URL+tokenPath, nil)
	preq.Header.Set("Origin", "https://scanner.example")
	preq.Header.Set("Access-Control-Request-Method", "POST")
	preq.Header.Set("Access-Control-Request-Headers", "authorization")
	resp, err := http.DefaultClient.Do(preq)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if resp.StatusCode/100 == 2 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("OPTIONS %s: %d %v", tokenPath, resp.StatusCode, resp.Header)
	}
	if r := f.get(healthPath); r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("%s with CORS headers", healthPath)
	}
	if !strings.Contains(f.log.String(), "method=OPTIONS path=/log/ status=204") {
		t.Errorf("preflight not logged by route:\n%s", f.log)
	}
}
