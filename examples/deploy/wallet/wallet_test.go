package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/directory"
	"github.com/statustoken/statustoken/examples/deploy/internal/witnesstest"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

const testAPIKey = "test-api-key-3f9c2a"

// testIssuer is one issuer shared by the tests (RSA keys take a moment).
var testIssuer = sync.OnceValues(func() (*issue.Issuer, error) {
	_, root, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	seed := make([]byte, issue.SeedSize)
	rand.Read(seed)
	return issue.NewIssuer(issue.Config{
		RootKey: root, Seed: seed, EpochLength: 24 * time.Hour,
		Statuses: []token.StatusName{{Code: 1, Name: "green"}, {Code: 2, Name: "red"}},
		Suites:   []token.Suite{token.RSABSSA}, Epochs: 1,
		RSAKeys: issue.NewMemoryKeyStore(),
	})
})

// fakeIssuer serves the issuer's HTTP interface for one holder of status
// green, with API key testAPIKey. Each directory it serves is logged in
// its log, with a proof cosigned by w1 and w2 (or as publish says).
type fakeIssuer struct {
	t       *testing.T
	is      *issue.Issuer
	env     *witnesstest.Env
	trust   string // the trust policy file
	serial  uint64
	shift   time.Duration // added to the time the directory is made for
	mutate  func([]byte) []byte
	srv     *httptest.Server
	mu      sync.Mutex
	gotAuth []string
	// publish, when set, returns what to serve instead of the logged
	// directory.
	publish func(data, sig []byte) token.Published
	logged  map[string]int64 // directory bytes -> index in the log
}

func newFakeIssuer(t *testing.T) *fakeIssuer {
	is, err := testIssuer()
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeIssuer{t: t, is: is, serial: 5, env: witnesstest.NewEnv(is.RootPublicKey()), logged: map[string]int64{}}
	f.trust = filepath.Join(t.TempDir(), "trust.txt")
	if err := os.WriteFile(f.trust, f.env.Policy(48*time.Hour), 0o644); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+directory.Path, func(w http.ResponseWriter, r *http.Request) {
		p := f.current()
		w.Header().Set(directory.SignatureHeader, base64.StdEncoding.EncodeToString(p.Signature))
		if p.Proof != nil {
			w.Header().Set(directory.ProofHeader, base64.StdEncoding.EncodeToString(p.Proof))
		}
		w.Write(p.Directory)
	})
	mux.HandleFunc("POST "+directory.TokenRequestPath, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.gotAuth = append(f.gotAuth, r.Header.Get("Authorization"))
		f.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+testAPIKey {
			http.Error(w, "unknown API key", http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, issue.MaxRequestSize))
		resp, err := f.is.Respond(body, time.Now(), 1)
		switch {
		case errors.Is(err, issue.ErrStatusNotAssigned):
			http.Error(w, "the requested status is not the one assigned to this holder", http.StatusForbidden)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if f.mutate != nil {
			resp = f.mutate(resp)
		}
		w.Write(resp)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// current returns the directory for the current serial and shift, logged
// once and proven under a fresh checkpoint of the whole log.
func (f *fakeIssuer) current() token.Published {
	f.mu.Lock()
	defer f.mu.Unlock()
	data, sig, err := f.is.Directory(time.Now().Add(f.shift), f.serial)
	if err != nil {
		f.t.Error(err)
	}
	if f.publish != nil {
		return f.publish(data, sig)
	}
	return f.prove(data, sig, time.Now())
}

// prove logs a directory, once, and returns it with a proof under a
// checkpoint of the whole log cosigned at time at by the witnesses with
// the indexes cosigners (w1 and w2 when none). The caller holds f.mu.
func (f *fakeIssuer) prove(data, sig []byte, at time.Time, cosigners ...int) token.Published {
	i, ok := f.logged[string(data)]
	if !ok {
		var err error
		if i, err = f.env.Log.AppendDirectory(data); err != nil {
			f.t.Error(err)
		}
		f.logged[string(data)] = i
	}
	p, err := f.env.Prove(i, data, sig, at, cosigners...)
	if err != nil {
		f.t.Error(err)
	}
	return p
}

type result struct {
	code           int
	stdout, stderr string
}

func runWallet(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	a := &app{stdout: &out, stderr: &errOut, getenv: func(k string) string { return env[k] }, now: time.Now}
	code := a.run(context.Background(), args)
	return result{code, out.String(), errOut.String()}
}

var withKey = map[string]string{apiKeyEnv: testAPIKey}

func TestRequestShowExport(t *testing.T) {
	f := newFakeIssuer(t)
	state := filepath.Join(t.TempDir(), "w")
	r := runWallet(t, withKey, "request", "-state", state, "-issuer", f.srv.URL, "-trust", f.trust, "-n", "4")
	if r.code != 0 {
		t.Fatalf("request: %d %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "4 green tokens stored") {
		t.Fatalf("request output: %q", r.stderr)
	}

	// The state holds the tokens (0600) and the directory, nothing that
	// names the holder: not the API key, not the issuer's address.
	fi, err := os.Stat(state)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("state dir: %v %v", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(state)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		data, _ := os.ReadFile(filepath.Join(state, e.Name()))
		if bytes.Contains(data, []byte(testAPIKey)) || bytes.Contains(data, []byte(strings.TrimPrefix(f.srv.URL, "http://"))) {
			t.Errorf("%s holds the API key or the issuer's address", e.Name())
		}
	}
	if strings.Join(names, " ") != "checkpoint directory.json directory.proof directory.sig tokens.json" {
		t.Fatalf("state files: %v", names)
	}
	tf := filepath.Join(state, tokensFile)
	if fi, _ := os.Stat(tf); fi.Mode().Perm() != 0o600 {
		t.Fatalf("tokens file mode %04o", fi.Mode().Perm())
	}
	var raw map[string]any
	data, _ := os.ReadFile(tf)
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw) != 2 || raw["version"] != 1.0 {
		t.Fatalf("tokens file fields: %v", raw)
	}
	for _, e := range raw["tokens"].([]any) {
		if len(e.(map[string]any)) != 2 {
			t.Fatalf("token entry fields: %v", e)
		}
	}

	// show: a terminal QR code, the text form, a PNG; the token is used.
	pngName := filepath.Join(t.TempDir(), "t.png")
	r = runWallet(t, nil, "show", "-state", state, "-png", pngName)
	if r.code != 0 {
		t.Fatalf("show: %d %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	text := lines[len(lines)-1]
	if !strings.HasPrefix(text, token.TextPrefix) || len(lines) < 30 || !strings.ContainsAny(r.stdout, "█▀▄") {
		t.Fatalf("show output has no QR code and text form:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "green token") || !strings.Contains(r.stderr, "3 unused left") {
		t.Fatalf("show stderr: %q", r.stderr)
	}
	if fi, err := os.Stat(pngName); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("PNG: %v", err)
	}
	v := verifier(t, f)
	if _, err := v.VerifyText(t.Context(), text); err != nil {
		t.Fatalf("shown token: %v", err)
	}

	// export the rest; each token appears once across show and export.
	r = runWallet(t, nil, "export", "-state", state, "-n", "3")
	if r.code != 0 {
		t.Fatalf("export: %d %s", r.code, r.stderr)
	}
	exported := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(exported) != 3 {
		t.Fatalf("export printed %d tokens", len(exported))
	}
	seen := map[string]bool{text: true}
	for _, e := range exported {
		if seen[e] {
			t.Fatal("a token was given out twice")
		}
		seen[e] = true
		if _, err := v.VerifyText(t.Context(), e); err != nil {
			t.Fatalf("exported token: %v", err)
		}
	}
	if r := runWallet(t, nil, "show", "-state", state, "-png", ""); r.code != 1 || !strings.Contains(r.stderr, "no unused token left") {
		t.Fatalf("show with none left: %d %q", r.code, r.stderr)
	}
	if r := runWallet(t, nil, "export", "-state", state); r.code != 1 {
		t.Fatalf("export with none left: %d", r.code)
	}
	if r := runWallet(t, nil, "list", "-state", state); r.code != 0 || !strings.Contains(r.stdout, "0 unused    4 used") {
		t.Fatalf("list: %d %q", r.code, r.stdout)
	}
	// The API key was sent with the token request only.
	if len(f.gotAuth) != 1 || f.gotAuth[0] != "Bearer "+testAPIKey {
		t.Fatalf("Authorization headers sent: %q", f.gotAuth)
	}
}

func verifier(t *testing.T, f *fakeIssuer) *verify.Verifier {
	t.Helper()
	trust, err := token.ParseTrust(f.env.Policy(48 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.New(f.current(), trust, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestRequestRefusals(t *testing.T) {
	f := newFakeIssuer(t)
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	otherTrust := filepath.Join(t.TempDir(), "other.txt")
	os.WriteFile(otherTrust, witnesstest.Policy(other, f.env.Log.VerifierKey(), f.env.Witnesses, 2, time.Hour), 0o644)
	badTrust := filepath.Join(t.TempDir(), "bad.txt")
	os.WriteFile(badTrust, []byte("root abc\n"), 0o644)
	rootFile := f.trust

	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"no API key", nil, []string{"-trust", f.trust}, 2, "STATUSTOKEN_API_KEY"},
		{"no trust policy", withKey, nil, 2, "-trust is required"},
		{"missing trust policy", withKey, []string{"-trust", filepath.Join(t.TempDir(), "none")}, 1, "reading the trust policy"},
		{"bad trust policy", withKey, []string{"-trust", badTrust}, 1, "malformed trust policy"},
		{"other root", withKey, []string{"-trust", otherTrust}, 1, "not signed by the pinned root key"},
		{"wrong API key", map[string]string{apiKeyEnv: "nope"}, []string{"-trust", rootFile}, 1, "401 Unauthorized: unknown API key"},
		{"unassigned status", withKey, []string{"-trust", rootFile, "-status", "red"}, 1, "403 Forbidden: the requested status is not the one assigned"},
		{"unknown status", withKey, []string{"-trust", rootFile, "-status", "blue"}, 1, `no status "blue"`},
		{"count", withKey, []string{"-trust", rootFile, "-n", "101"}, 2, "-n must be"},
		{"plain http to another host", withKey, []string{"-trust", rootFile, "-issuer", "http://issuer.example.test"}, 1, "use https"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "w")
			args := append([]string{"request", "-state", state, "-issuer", f.srv.URL}, c.args...)
			r := runWallet(t, c.env, args...)
			if r.code != c.code || !strings.Contains(r.stderr, c.want) {
				t.Fatalf("exit %d %q, want %d with %q", r.code, r.stderr, c.code, c.want)
			}
			if _, err := os.Stat(filepath.Join(state, tokensFile)); err == nil {
				t.Fatal("tokens stored after a refusal")
			}
		})
	}
}

func TestResponseTampered(t *testing.T) {
	f := newFakeIssuer(t)
	f.mutate = func(b []byte) []byte {
		b = bytes.Clone(b)
		b[len(b)-1] ^= 1
		return b
	}
	state := filepath.Join(t.TempDir(), "w")
	r := runWallet(t, withKey, "request", "-state", state, "-issuer", f.srv.URL, "-trust", f.trust, "-n", "2")
	if r.code != 1 || !strings.Contains(r.stderr, "does not verify") {
		t.Fatalf("tampered response: %d %q", r.code, r.stderr)
	}
	if r := runWallet(t, nil, "list", "-state", state); !strings.Contains(r.stdout, "no tokens") {
		t.Fatalf("tokens kept from a refused response: %q", r.stdout)
	}
}

func TestDirectoryRollback(t *testing.T) {
	f := newFakeIssuer(t)
	state := filepath.Join(t.TempDir(), "w")
	args := []string{"request", "-state", state, "-issuer", f.srv.URL, "-trust", f.trust, "-n", "1"}
	f.serial = 4
	if r := runWallet(t, withKey, args...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	f.serial = 5
	if r := runWallet(t, withKey, args...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	// Serial 4 again, still in the log, under a fresh checkpoint.
	f.serial = 4
	if r := runWallet(t, withKey, args...); r.code != 1 || !strings.Contains(r.stderr, "directory rollback: the issuer sent serial 4, older than serial 5 accepted before") {
		t.Fatalf("older directory: %d %q", r.code, r.stderr)
	}
	storedSerial := func() uint64 {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(state, directoryFile))
		if err != nil {
			t.Fatal(err)
		}
		d, err := token.ParseDirectory(data)
		if err != nil {
			t.Fatal(err)
		}
		return d.Serial
	}
	if s := storedSerial(); s != 5 {
		t.Fatalf("stored directory has serial %d after a refused rollback, want 5", s)
	}
	// Another directory under the same serial is refused too: the log
	// takes no second serial 5, so it comes with the proof of another
	// directory.
	f.serial = 5
	honest := f.current()
	f.shift = 24 * time.Hour
	f.publish = func(data, sig []byte) token.Published {
		return token.Published{Directory: data, Signature: sig, Proof: honest.Proof}
	}
	if r := runWallet(t, withKey, args...); r.code != 1 || !strings.Contains(r.stderr, "not proven to be in the issuer's log") {
		t.Fatalf("other directory, same serial: %d %q", r.code, r.stderr)
	}
	f.publish = nil
	f.shift = 0
	f.serial = 6
	if r := runWallet(t, withKey, args...); r.code != 0 {
		t.Fatalf("newer directory: %s", r.stderr)
	}
	if s := storedSerial(); s != 6 {
		t.Fatalf("stored directory has serial %d, want 6", s)
	}
	// A stored directory that does not open under the pinned root key
	// is not silently replaced.
	os.WriteFile(filepath.Join(state, directoryFile), []byte("{}"), 0o600)
	if r := runWallet(t, withKey, args...); r.code != 1 || !strings.Contains(r.stderr, "stored directory") || !strings.Contains(r.stderr, "unreadable") {
		t.Fatalf("unreadable stored directory: %d %q", r.code, r.stderr)
	}
}

func TestTokenFileChecks(t *testing.T) {
	state := filepath.Join(t.TempDir(), "w")
	w, err := openWallet(state)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	expired := &token.Token{Suite: token.RSABSSA, Status: 1, Expiry: uint32(now.Unix() - 10), Signature: make([]byte, 256)}
	soon := &token.Token{Suite: token.RSABSSA, Status: 1, Expiry: uint32(now.Unix() + 100), Signature: make([]byte, 256)}
	later := &token.Token{Suite: token.RSABSSA, Status: 2, Expiry: uint32(now.Unix() + 200), Signature: make([]byte, 256)}
	w.add([]*token.Token{later, expired, soon})
	if err := w.save(now); err != nil {
		t.Fatal(err)
	}
	w, err = openWallet(state)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.entries) != 2 {
		t.Fatalf("%d tokens after reload, want the 2 unexpired", len(w.entries))
	}
	if got := w.takeUnused(1, now); len(got) != 1 || got[0].Expiry != soon.Expiry {
		t.Fatal("the token expiring first was not taken first")
	}

	tf := filepath.Join(state, tokensFile)
	os.Chmod(tf, 0o644)
	if _, err := openWallet(state); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("tokens file readable by others: %v", err)
	}
	for _, bad := range []string{`{"version":1,"tokens":[],"api_key":"x"}`, `{"version":2,"tokens":[]}`, `{"version":1,"tokens":[{"token":"AAAA","used":false}]}`, `[`} {
		os.WriteFile(tf, []byte(bad), 0o600)
		os.Chmod(tf, 0o600)
		if _, err := openWallet(state); err == nil {
			t.Errorf("tokens file %q accepted", bad)
		}
	}
	os.Chmod(state, 0o755)
	if _, err := openWallet(state); err == nil || !strings.Contains(err.Error(), "chmod 700") {
		t.Fatalf("state dir readable by others: %v", err)
	}
}

// decodeTerminal reads back what writeTerminalQR drew without colours.
func decodeTerminal(t *testing.T, s string, n int) [][]bool {
	t.Helper()
	m := make([][]bool, n)
	for y := range m {
		m[y] = make([]bool, n)
	}
	for i, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		x := 0
		for _, r := range line {
			top, bottom := r == '█' || r == '▀', r == '█' || r == '▄'
			if r != ' ' && !top && !bottom {
				t.Fatalf("unexpected character %q", r)
			}
			m[2*i][x] = top
			if 2*i+1 < n {
				m[2*i+1][x] = bottom
			} else if bottom {
				t.Fatal("a dark module below the code")
			}
			x++
		}
		if x != n {
			t.Fatalf("line %d is %d wide, want %d", i, x, n)
		}
	}
	return m
}

func equalModules(a, b [][]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for y := range a {
		if len(a[y]) != len(b[y]) {
			return false
		}
		for x := range a[y] {
			if a[y][x] != b[y][x] {
				return false
			}
		}
	}
	return true
}

func TestQRRendering(t *testing.T) {
	// The longest token text form (rsabssa): 4 + 459 characters.
	text := token.TextPrefix + strings.Repeat("Z9$%*+-./: ", 42)[:token.MaxTextSize-len(token.TextPrefix)]
	m, err := qrModules(text)
	if err != nil {
		t.Fatal(err)
	}
	n := len(m)
	// Version v has 17+4v modules a side; at level M, 459 alphanumeric
	// characters need version 13 (69 modules).
	if n != 69+2*quietZone {
		t.Fatalf("QR code of %d modules with quiet zone, want %d", n, 69+2*quietZone)
	}
	for i := 0; i < quietZone; i++ {
		for j := range n {
			if m[i][j] || m[n-1-i][j] || m[j][i] || m[j][n-1-i] {
				t.Fatal("dark module in the quiet zone")
			}
		}
	}
	// The finder pattern's corner is dark.
	if !m[quietZone][quietZone] {
		t.Fatal("no finder pattern at the top left")
	}

	var plain, ansi bytes.Buffer
	writeTerminalQR(&plain, m, false)
	if !equalModules(decodeTerminal(t, plain.String(), n), m) {
		t.Fatal("terminal QR code does not match the modules")
	}
	writeTerminalQR(&ansi, m, true)
	stripped := strings.NewReplacer("\x1b[30;107m", "", "\x1b[0m", "").Replace(ansi.String())
	if stripped != plain.String() || strings.Count(ansi.String(), "\x1b[0m") != (n+1)/2 {
		t.Fatal("coloured terminal QR code differs from the plain one")
	}

	data, err := qrPNG(m, 3)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 3*n || b.Dy() != 3*n {
		t.Fatalf("PNG is %v", b)
	}
	for y := range n {
		for x := range n {
			r, _, _, _ := img.At(3*x+1, 3*y+1).RGBA()
			if dark := r < 0x8000; dark != m[y][x] {
				t.Fatalf("PNG module (%d,%d) differs", x, y)
			}
		}
	}

	// Lower-case text is outside the QR alphanumeric set; the encoder
	// refuses it rather than switching modes silently.
	if _, err := qrModules("ht1:abc"); err == nil {
		t.Fatal("lower-case text encoded in alphanumeric mode")
	}
}

func TestUsage(t *testing.T) {
	if r := runWallet(t, nil); r.code != 2 || !strings.Contains(r.stderr, "wallet request") {
		t.Fatalf("no command: %d", r.code)
	}
	for _, cmd := range []string{"request", "show", "export", "list"} {
		if r := runWallet(t, nil, cmd, "-h"); r.code != 0 || !strings.Contains(r.stderr, "-state") {
			t.Errorf("%s -h: %d %q", cmd, r.code, r.stderr)
		}
	}
	if r := runWallet(t, nil, "-h"); r.code != 0 || !strings.Contains(r.stdout, "wallet show") {
		t.Errorf("-h: %d", r.code)
	}
	if r := runWallet(t, nil, "fly"); r.code != 2 {
		t.Errorf("unknown command: %d", r.code)
	}
	if r := runWallet(t, nil, "show", "-scale", "0"); r.code != 2 {
		t.Errorf("bad scale: %d", r.code)
	}
}
