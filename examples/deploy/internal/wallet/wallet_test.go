package wallet

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/directory"
	"github.com/statustoken/statustoken/examples/deploy/internal/wallet/wallettest"
	"github.com/statustoken/statustoken/token"
)

// testEnv returns an Env writing to buffers, at the time now (the real
// time when zero), on no terminal.
func testEnv(now time.Time) (*Env, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	e := &Env{Stdout: &stdout, Stderr: &stderr}
	if !now.IsZero() {
		e.Now = func() time.Time { return now }
	}
	return e, &stdout, &stderr
}

// onTerminal makes e's Stdout a terminal of w×h.
func onTerminal(e *Env, w, h int) *Env {
	e.Terminal = func() (int, int, bool) { return w, h, true }
	return e
}

// request runs Request against f for n green tokens, with the options
// changed by mod, and returns its stderr.
func request(t *testing.T, f *wallettest.Issuer, state string, n int, mod ...func(*RequestOptions)) (string, error) {
	t.Helper()
	trust, err := directory.LoadTrust(f.Trust)
	if err != nil {
		t.Fatal(err)
	}
	u, err := directory.IssuerURL(f.URL())
	if err != nil {
		t.Fatal(err)
	}
	o := RequestOptions{State: state, Issuer: u, Trust: trust, Status: "green", N: n, APIKey: wallettest.APIKey}
	for _, m := range mod {
		m(&o)
	}
	e, _, stderr := testEnv(time.Time{})
	err = Request(t.Context(), e, o)
	return stderr.String(), err
}

func mustRequest(t *testing.T, f *wallettest.Issuer, state string, n int) {
	t.Helper()
	if _, err := request(t, f, state, n); err != nil {
		t.Fatal(err)
	}
}

// seed writes a wallet state with toks, and the current directory of f
// when f is not nil, as Request leaves it.
func seed(t *testing.T, state string, f *wallettest.Issuer, toks []*token.Token) {
	t.Helper()
	s, err := Create(state)
	if err != nil {
		t.Fatal(err)
	}
	if f != nil {
		h := f.Holder()
		if err := s.StoreDirectory(f.Current(), h.Accepted(), f.TrustPolicy()); err != nil {
			t.Fatal(err)
		}
	}
	s.Add(toks)
	// Saved as of long ago, so that expired tokens are kept.
	if err := s.Save(time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	s.Close()
}

func fakeToken(suite token.Suite, status token.Status, expiry time.Time) *token.Token {
	return &token.Token{Suite: suite, Status: status, Expiry: uint32(expiry.Unix()), Signature: make([]byte, suite.SignatureSize())}
}

func TestRequestStores(t *testing.T) {
	f := wallettest.New(t)
	state := filepath.Join(t.TempDir(), "w")
	stderr, err := request(t, f, state, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "wallet: 1 green token stored in "+filepath.Join(state, TokensFile)+", valid until ") ||
		!strings.HasSuffix(stderr, " UTC; 1 unused in all\n") {
		t.Fatalf("request output: %q", stderr)
	}
	stderr, err = request(t, f, state, 3)
	if err != nil || !strings.Contains(stderr, "3 green tokens stored") || !strings.Contains(stderr, "4 unused in all") {
		t.Fatalf("second request: %v %q", err, stderr)
	}
}

// TestRequestCreatesNothingOnRefusal: a state directory is made only once
// there is a directory to keep.
func TestRequestCreatesNothingOnRefusal(t *testing.T) {
	f := wallettest.New(t)
	f.Publish = func(data, sig []byte) token.Published { return token.Published{Directory: data, Signature: sig} }
	state := filepath.Join(t.TempDir(), "w")
	if _, err := request(t, f, state, 1); err == nil || !strings.Contains(err.Error(), "not proven") {
		t.Fatalf("unlogged directory: %v", err)
	}
	if _, err := os.Stat(state); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("state directory after a refused directory: %v", err)
	}
}

// TestRequestCanceled: the token request is made under the context, so
// that Ctrl-C (the canceled context) stops a request the issuer does not
// answer, and nothing is stored.
func TestRequestCanceled(t *testing.T) {
	f := wallettest.New(t)
	f.Block = make(chan struct{})
	defer close(f.Block)
	state := filepath.Join(t.TempDir(), "w")
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(200*time.Millisecond, cancel)
	trust, _ := directory.LoadTrust(f.Trust)
	u, _ := directory.IssuerURL(f.URL())
	e, _, _ := testEnv(time.Time{})
	start := time.Now()
	err := Request(ctx, e, RequestOptions{State: state, Issuer: u, Trust: trust, Status: "green", N: 1, APIKey: wallettest.APIKey})
	if !errors.Is(err, context.Canceled) || time.Since(start) > 10*time.Second {
		t.Fatalf("canceled request: %v after %v", err, time.Since(start))
	}
	if _, err := os.Stat(filepath.Join(state, TokensFile)); err == nil {
		t.Fatal("tokens stored by a canceled request")
	}
}

func TestDirectoryRollback(t *testing.T) {
	f := wallettest.New(t)
	state := filepath.Join(t.TempDir(), "w")
	f.Serial = 4
	mustRequest(t, f, state, 1)
	f.Serial = 5
	mustRequest(t, f, state, 1)
	// Serial 4 again, still in the log, under a fresh checkpoint.
	f.Serial = 4
	if _, err := request(t, f, state, 1); err == nil || !strings.Contains(err.Error(), "directory rollback: the issuer sent serial 4, older than serial 5 accepted before") {
		t.Fatalf("older directory: %v", err)
	}
	storedSerial := func() uint64 {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(state, DirectoryFile))
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
	// Another directory under the same serial is refused too, as a
	// rollback: the accepted state keeps the hash of serial 5. (The log
	// takes no second serial 5, so it comes with the proof of another
	// directory.)
	f.Serial = 5
	honest := f.Current()
	f.Shift = 24 * time.Hour
	f.Publish = func(data, sig []byte) token.Published {
		return token.Published{Directory: data, Signature: sig, Proof: honest.Proof}
	}
	if _, err := request(t, f, state, 1); !errors.Is(err, token.ErrRollback) || !strings.Contains(err.Error(), "directory rollback: the issuer sent other contents under serial 5, accepted before") {
		t.Fatalf("other directory, same serial: %v", err)
	}
	f.Publish = nil
	f.Shift = 0
	f.Serial = 6
	mustRequest(t, f, state, 1)
	if s := storedSerial(); s != 6 {
		t.Fatalf("stored directory has serial %d, want 6", s)
	}
	// A stored accepted state that does not read is not silently
	// replaced.
	os.WriteFile(filepath.Join(state, AcceptedFile), []byte("{}"), 0o600)
	if _, err := request(t, f, state, 1); err == nil || !strings.Contains(err.Error(), "stored accepted state") || !strings.Contains(err.Error(), "unreadable") {
		t.Fatalf("unreadable stored accepted state: %v", err)
	}
	// Nor is the stored directory of an older wallet, which it reads
	// its state from.
	os.Remove(filepath.Join(state, AcceptedFile))
	os.WriteFile(filepath.Join(state, DirectoryFile), []byte("{}"), 0o600)
	if _, err := request(t, f, state, 1); err == nil || !strings.Contains(err.Error(), "stored directory") || !strings.Contains(err.Error(), "unreadable") {
		t.Fatalf("unreadable stored directory: %v", err)
	}
}

func TestTokenFileChecks(t *testing.T) {
	state := filepath.Join(t.TempDir(), "w")
	s, err := Create(state)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	expired := fakeToken(token.RSABSSA, 1, now.Add(-10*time.Second))
	soon := fakeToken(token.RSABSSA, 1, now.Add(100*time.Second))
	later := fakeToken(token.RSABSSA, 2, now.Add(200*time.Second))
	s.Add([]*token.Token{later, expired, soon})
	if err := s.Save(now); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(state)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.entries) != 2 {
		t.Fatalf("%d tokens after reload, want the 2 unexpired", len(s.entries))
	}
	if got := s.take(1, now, nil); len(got) != 1 || got[0].Expiry != soon.Expiry {
		t.Fatal("the token expiring first was not taken first")
	}
	s.Close()

	tf := filepath.Join(state, TokensFile)
	os.Chmod(tf, 0o644)
	if _, err := Open(state); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("tokens file readable by others: %v", err)
	}
	for _, bad := range []string{`{"version":1,"tokens":[],"api_key":"x"}`, `{"version":2,"tokens":[]}`, `{"version":1,"tokens":[{"token":"AAAA","used":false}]}`, `[`} {
		os.WriteFile(tf, []byte(bad), 0o600)
		os.Chmod(tf, 0o600)
		if _, err := Open(state); err == nil {
			t.Errorf("tokens file %q accepted", bad)
		}
	}
	os.Chmod(state, 0o755)
	for _, open := range []func(string) (*Store, error){Open, Create} {
		if _, err := open(state); err == nil || !strings.Contains(err.Error(), "chmod 700") {
			t.Fatalf("state dir readable by others: %v", err)
		}
	}
	os.Chmod(state, 0o700)
	notDir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notDir, nil, 0o600)
	if _, err := Open(notDir); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("state is a file: %v", err)
	}
}

// TestReadCommandsCreateNothing: show, export and list on a missing state
// say so, and leave no file or directory behind.
func TestReadCommandsCreateNothing(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "nowhere")
	want := "no wallet state in " + state + ": run 'wallet request' first"
	e, stdout, _ := testEnv(time.Time{})
	for name, cmd := range map[string]func() error{
		"show":   func() error { return Show(e, ShowOptions{State: state, PNG: DefaultPNG(state), QR: true, Scale: 8}) },
		"export": func() error { return Export(e, state, 1) },
		"list":   func() error { return List(e, state) },
		"open":   func() error { _, err := Open(state); return err },
	} {
		err := cmd()
		if err == nil || err.Error() != want || !errors.Is(err, ErrNoState) || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 || stdout.Len() != 0 {
		t.Fatalf("read commands created %v, wrote %q", entries, stdout)
	}
	// A state directory without tokens (a request refused after the
	// directory was accepted) gets nothing but the lock file either.
	os.Mkdir(state, 0o700)
	if err := Show(e, ShowOptions{State: state, PNG: DefaultPNG(state), QR: true, Scale: 8}); err == nil || err.Error() != "no tokens in "+state+": run 'wallet request' first" {
		t.Fatalf("show with no tokens: %v", err)
	}
	if err := List(e, state); err != nil || stdout.String() != "no tokens in "+state+": run 'wallet request' first\n" {
		t.Fatalf("list with no tokens: %v %q", err, stdout)
	}
	if entries, _ := os.ReadDir(state); len(entries) != 1 || entries[0].Name() != LockFile {
		t.Fatalf("read commands wrote %v", entries)
	}
	if _, err := os.Stat(DefaultPNG(state)); err == nil {
		t.Fatal("show wrote a PNG without a token")
	}
}

// TestExpiryMessages: a wallet whose tokens expired says so, and when the
// last one expired.
func TestExpiryMessages(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	day1 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	day2 := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	valid := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	allExpired := "3 tokens, all expired (the last at 2026-12-02 00:00 UTC); run 'wallet request' for new ones"

	state := filepath.Join(t.TempDir(), "w")
	seed(t, state, nil, []*token.Token{fakeToken(token.RSABSSA, 1, day1), fakeToken(token.RSABSSA, 1, day2), fakeToken(token.RSABSSA, 1, day2)})
	e, stdout, _ := testEnv(now)
	if err := Show(e, ShowOptions{State: state, QR: true, Scale: 8}); err == nil || err.Error() != allExpired {
		t.Fatalf("show: %v, want %q", err, allExpired)
	}
	if err := Export(e, state, 2); err == nil || err.Error() != allExpired {
		t.Fatalf("export: %v, want %q", err, allExpired)
	}
	if err := List(e, state); err != nil {
		t.Fatal(err)
	}
	wantList := "" +
		"status 1   expired at  2026-12-01 00:00 UTC    1 unused    0 used\n" +
		"status 1   expired at  2026-12-02 00:00 UTC    2 unused    0 used\n" +
		allExpired + "\n"
	if stdout.String() != wantList {
		t.Fatalf("list:\n%s\nwant:\n%s", stdout, wantList)
	}

	// One expired token.
	one := filepath.Join(t.TempDir(), "w")
	seed(t, one, nil, []*token.Token{fakeToken(token.RSABSSA, 1, day2)})
	if err := Show(e, ShowOptions{State: one, QR: true, Scale: 8}); err == nil || err.Error() != "1 token, expired at 2026-12-02 00:00 UTC; run 'wallet request' for new ones" {
		t.Fatalf("show, one expired: %v", err)
	}

	// Used and expired ones: both counted.
	mixed := filepath.Join(t.TempDir(), "w")
	seed(t, mixed, nil, []*token.Token{fakeToken(token.RSABSSA, 1, day2), fakeToken(token.RSABSSA, 1, valid), fakeToken(token.RSABSSA, 1, valid)})
	e, stdout, stderr := testEnv(now)
	if err := Export(e, mixed, 3); err == nil || err.Error() != "only 2 unused tokens left, 3 asked for; run 'wallet request' for more" {
		t.Fatalf("export 3 of 2: %v", err)
	}
	if err := Export(e, mixed, 1); err != nil || stderr.String() != "wallet: 1 token exported and marked used; 1 unused left\n" {
		t.Fatalf("export 1: %v %q", err, stderr)
	}
	stdout.Reset()
	if err := List(e, mixed); err != nil {
		t.Fatal(err)
	}
	// Export saved the state, which drops the expired token.
	if want := "status 1   valid until 2026-12-06 00:00 UTC    1 unused    1 used\n1 unused token left\n"; stdout.String() != want {
		t.Fatalf("list:\n%s\nwant:\n%s", stdout, want)
	}
	if err := Export(e, mixed, 1); err != nil {
		t.Fatal(err)
	}
	if err := Show(e, ShowOptions{State: mixed, QR: true, Scale: 8}); err == nil || err.Error() != "no unused token left (2 used); run 'wallet request' for new ones" {
		t.Fatalf("show, all used: %v", err)
	}

	// Not yet saved: unused expired and used valid ones.
	s, err := Open(mixed)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Add([]*token.Token{fakeToken(token.RSABSSA, 1, day1)})
	if err := s.noUnused(now, nil); err.Error() != "no unused token left (2 used, 1 expired); run 'wallet request' for new ones" {
		t.Fatalf("used and expired: %v", err)
	}
}

func TestListGroups(t *testing.T) {
	f := wallettest.New(t)
	state := filepath.Join(t.TempDir(), "w")
	mustRequest(t, f, state, 3)
	e, stdout, _ := testEnv(time.Time{})
	if err := Export(e, state, 1); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	if err := List(e, state); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "green      valid until ") || !strings.HasSuffix(lines[0], " UTC    2 unused    1 used") || lines[1] != "2 unused tokens left" {
		t.Fatalf("list:\n%s", stdout)
	}
}

// zbarimg returns the path of zbarimg, skipping the test without it
// (failing with CI set: CI installs zbar-tools).
func zbarimg(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("zbarimg")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("zbarimg not found: install zbar-tools (CI is set, so this test does not skip)")
		}
		t.Skip("zbarimg not found: install zbar-tools")
	}
	return p
}

// decodePNG decodes the QR code in a PNG file with zbarimg.
func decodePNG(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command(zbarimg(t), "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", name).Output()
	if err != nil {
		t.Fatalf("zbarimg %s: %v", name, err)
	}
	return strings.TrimSuffix(string(out), "\n")
}
