package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/statustoken/statustoken/examples/deploy/internal/directory"
	"github.com/statustoken/statustoken/examples/deploy/internal/witnesstest"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/issue/issuetest"
	"github.com/statustoken/statustoken/token"
)

type result struct {
	code           int
	stdout, stderr string // with each answer's or message's lines joined
	raw            string // stdout and stderr as printed
}

func runWith(ctx context.Context, in string, args ...string) result {
	stdin = strings.NewReader(in)
	defer func() { stdin = os.Stdin }()
	var out, errOut bytes.Buffer
	code := run(ctx, args, &out, &errOut)
	join := func(s string) string { return strings.ReplaceAll(s, "\n  ", " ") }
	return result{code, join(out.String()), join(errOut.String()), out.String() + errOut.String()}
}

// longLines returns the lines of text wider than 80 columns: JSON and
// log lines (key=value) aside.
func longLines(text string) []string {
	var long []string
	for _, l := range strings.Split(text, "\n") {
		if utf8.RuneCountInString(l) > 80 && !strings.HasPrefix(l, "{") && !strings.HasPrefix(l, "time=") {
			long = append(long, l)
		}
	}
	return long
}

// TestWithin80Columns runs the command's help and its answers, messages
// and errors, and checks that every line fits in 80 columns.
func TestWithin80Columns(t *testing.T) {
	e := newEnv(t)
	accepted := filepath.Join(e.dir, "directory.accepted")
	toks := e.tokens(t, 3)
	batch := filepath.Join(e.dir, "queue.txt")
	os.WriteFile(batch, []byte(toks[1]+"\n"+toks[1]+"\nHT1:BAD\n"+strings.Repeat("A", 40)+"\n"), 0o600)
	down := "127.0.0.1:1"
	for _, c := range []struct {
		in   string
		args []string
	}{
		{"", []string{"-h"}},
		{"", []string{"update", "-h"}},
		{"", append([]string{"update", "-issuer", e.url, "-accepted", accepted}, e.files()...)},
		{"", append([]string{"update", "-issuer", "http://127.0.0.1:1", "-accepted", accepted}, e.files()...)},
		{"", e.files(toks[0])},
		{"", e.files(toks[0])},
		{"", e.files("tokens.txt")},
		{"", e.files("main.go")},
		{"", e.files("-batch", batch)},
		{toks[1] + "\n", e.files("-gate")},
		{"", e.files("-redis", down, toks[2])},
		{"", e.files("-redis", down, "-fail-open", toks[2])},
		{"", e.files("-redis", down, "-fail-open", "-batch", batch)},
		{"", []string{"-trust", e.trust, "-directory", filepath.Join(t.TempDir(), "missing", "directory.json"), toks[2]}},
		{"", []string{"-bogus"}},
	} {
		r := runWith(t.Context(), c.in, c.args...)
		if long := longLines(r.raw); len(long) > 0 {
			t.Errorf("scanner %s: lines over 80 columns:\n%s", strings.Join(c.args, " "), strings.Join(long, "\n"))
		}
	}
}

func TestUsage(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-bogus"}, "flag provided but not defined: -bogus"},
		{"bad duration", []string{"-redis-timeout", "soon"}, `invalid value "soon" for flag -redis-timeout`},
		{"no trust", nil, "-trust is required"},
		{"two tokens", []string{"-trust", "t", "a", "b"}, "one token at a time"},
		{"batch and token", []string{"-trust", "t", "-batch", "x", "a"}, "give either -batch FILE or one TOKEN, not both"},
		{"batch and gate", []string{"-trust", "t", "-batch", "x", "-gate"}, "give either -batch or -gate, not both"},
		{"gate and two files", []string{"-trust", "t", "-gate", "a", "b"}, "-gate follows one file"},
		{"negative skew", []string{"-trust", "t", "-skew", "-1s"}, "-skew must not be negative"},
		{"bad log level", []string{"-trust", "t", "-log-level", "loud"}, `-log-level "loud": want debug, info, warn or error`},
		{"update: unknown flag", []string{"update", "-root", "x"}, "flag provided but not defined: -root"},
		{"update: argument", []string{"update", "x"}, `update: unexpected argument "x"`},
		{"file for a token", []string{"-trust", "t", "main.go"}, `"main.go" is a file, not a token: to verify the tokens in a file, one a line, use -batch FILE`},
	} {
		r := runWith(t.Context(), "", c.args...)
		want := "scanner: " + c.want
		lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
		if r.code != 2 || r.stdout != "" || len(lines) != 2 || !strings.HasPrefix(lines[0], want) || lines[1] != "run 'scanner -h' for usage" {
			t.Errorf("%s: exit %d, stderr %q, want 2 lines: %q and the pointer to -h", c.name, r.code, r.stderr, want)
		}
	}
	r := runWith(t.Context(), "", "-h")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("-h: %d %q", r.code, r.stderr)
	}
	for _, want := range []string{"usage:", "spent-store", "this-scanner", "not-checked", "-gate", "-fail-open", "-redis-timeout", "-log-level", "-log-json", "flags:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("-h does not mention %q:\n%s", want, r.stdout)
		}
	}
	if r := runWith(t.Context(), "", "update", "-h"); r.code != 0 || !strings.Contains(r.stdout, "usage: scanner update") || !strings.Contains(r.stdout, "-accepted") || !strings.Contains(r.stdout, "-checkpoint") {
		t.Fatalf("update -h: %d %q", r.code, r.stdout)
	}
}

// env is a scanner's working directory, as the command's defaults find
// it, and an issuer serving its directory.
type env struct {
	is    *issue.Issuer
	dir   string
	trust string
	pub   token.Published
	url   string
	log   *witnesstest.Env
}

func newEnv(t *testing.T) *env {
	_, root, _ := ed25519.GenerateKey(rand.Reader)
	seed := make([]byte, issue.SeedSize)
	rand.Read(seed)
	is, err := issue.NewIssuer(issue.Config{
		RootKey: root, Seed: seed, EpochLength: 24 * time.Hour,
		Statuses: []token.StatusName{{Code: 1, Name: "green"}},
		Suites:   []token.Suite{token.Ed25519}, Epochs: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{is: is, dir: t.TempDir()}
	log := witnesstest.NewEnv(is.RootPublicKey())
	e.log = log
	e.trust = filepath.Join(e.dir, "trust.txt")
	os.WriteFile(e.trust, log.Policy(48*time.Hour), 0o644)
	data, sig, err := is.Directory(time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if e.pub, err = log.Publish(data, sig, time.Now()); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+directory.Path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(directory.SignatureHeader, base64.StdEncoding.EncodeToString(e.pub.Signature))
		w.Header().Set(directory.ProofHeader, base64.StdEncoding.EncodeToString(e.pub.Proof))
		w.Write(e.pub.Directory)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// files are the flags of the env's directory files.
func (e *env) files(args ...string) []string {
	return append([]string{"-trust", e.trust,
		"-directory", filepath.Join(e.dir, "directory.json"),
		"-signature", filepath.Join(e.dir, "directory.sig"),
		"-proof", filepath.Join(e.dir, "directory.proof")}, args...)
}

func (e *env) tokens(t *testing.T, n int) []string {
	toks, err := e.is.IssueEd25519(1, time.Now(), n)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tk := range toks {
		text, _ := tk.MarshalText()
		out = append(out, string(text))
	}
	return out
}

func TestRun(t *testing.T) {
	e := newEnv(t)
	// update saves the directory files.
	accepted := filepath.Join(e.dir, "directory.accepted")
	r := runWith(t.Context(), "", append([]string{"update", "-issuer", e.url, "-accepted", accepted}, e.files()...)...)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "directory serial 1 with ") || !strings.Contains(r.stdout, " saved to ") {
		t.Fatalf("update: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if text, err := os.ReadFile(accepted); err != nil || !strings.HasPrefix(string(text), `{"serial":1,`) {
		t.Fatalf("accepted state: %q %v", text, err)
	}
	if r := runWith(t.Context(), "", "update", "-trust", e.trust, "-issuer", "ftp://x"); r.code != 2 {
		t.Fatalf("update, bad URL: %d %q", r.code, r.stderr)
	}
	if r := runWith(t.Context(), "", "update", "-trust", e.trust, "-issuer", "http://127.0.0.1:1", "-directory", filepath.Join(t.TempDir(), "d.json"), "-accepted", filepath.Join(t.TempDir(), "d.accepted")); r.code != 1 || !strings.HasPrefix(r.stderr, "scanner: fetching the directory from http://127.0.0.1:1") {
		t.Fatalf("update, issuer down: %d %q", r.code, r.stderr)
	}

	toks := e.tokens(t, 7)
	if r := runWith(t.Context(), "", e.files(toks[0])...); r.code != 0 || !strings.HasPrefix(r.stdout, "VALID: green (key ") ||
		!strings.Contains(r.stdout, "replay check: this-scanner") {
		t.Fatalf("one token: %d %q %q", r.code, r.stdout, r.stderr)
	}
	// Flags after the token, from stdin.
	r = runWith(t.Context(), toks[6]+"\n", append(e.files(), "-", "-json")...)
	var j map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &j); err != nil || r.code != 0 || j["replay_check"] != "this-scanner" {
		t.Fatalf("stdin, JSON: %d %q %v", r.code, r.stdout, err)
	}
	if r := runWith(t.Context(), "HT1:BAD", e.files()...); r.code != 1 || !strings.HasPrefix(r.stdout, "REFUSED: malformed") {
		t.Fatalf("refused: %d %q", r.code, r.stdout)
	}
	if r := runWith(t.Context(), " \n", e.files()...); r.code != 2 ||
		r.stderr != "scanner: no token: give one as an argument or on stdin\nrun 'scanner -h' for usage\n" {
		t.Fatalf("no token: %d %q", r.code, r.stderr)
	}

	// A batch: the repeat is refused, and the exit status says so.
	batch := filepath.Join(e.dir, "queue.txt")
	os.WriteFile(batch, []byte(toks[1]+"\n"+toks[2]+"\n"+toks[1]+"\n"), 0o600)
	r = runWith(t.Context(), "", e.files("-batch", batch)...)
	if r.code != 1 || !strings.HasSuffix(r.stdout, "line 3: REFUSED: already used: this scanner saw this token before (replay check: this-scanner)\n2 valid, 1 refused\n") {
		t.Fatalf("batch: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := runWith(t.Context(), "# none\n", e.files("-batch", "-")...); r.code != 1 || r.stderr != "scanner: no tokens in stdin\n" {
		t.Fatalf("empty batch: %d %q", r.code, r.stderr)
	}

	// A gate on stdin, with the debug log in JSON: it ends at EOF with
	// status 0, whatever it refused.
	r = runWith(t.Context(), toks[3]+"\n"+toks[3]+"\n", e.files("-gate", "-json", "-log-level", "debug", "-log-json")...)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 2 || !strings.Contains(lines[0], `"replay_check":"this-scanner"`) || !strings.Contains(lines[1], `"reason":"replayed"`) {
		t.Fatalf("gate: %d %q %q", r.code, r.stdout, r.stderr)
	}
	for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		if !json.Valid([]byte(l)) {
			t.Fatalf("log line not JSON: %q", l)
		}
	}
	if !strings.Contains(r.stderr, `"msg":"batch verified"`) || !strings.Contains(r.stderr, `"msg":"gate closed"`) {
		t.Fatalf("gate debug log: %q", r.stderr)
	}
	// A gate following a file, as -gate FILE with flags after it, until
	// its context ends.
	scans := filepath.Join(e.dir, "scans.log")
	os.WriteFile(scans, []byte(toks[4]+"\n"), 0o600)
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	go func() {
		time.Sleep(200 * time.Millisecond)
		f, _ := os.OpenFile(scans, os.O_WRONLY|os.O_APPEND, 0)
		f.WriteString(toks[5] + "\n")
		f.Close()
	}()
	r = runWith(ctx, "", e.files("-gate", scans, "-log-level", "warn")...)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "line 1: VALID: green") || !strings.Contains(r.stdout, "\nline 2: VALID: green") || r.stderr != "" {
		t.Fatalf("gate on a file: %d %q %q", r.code, r.stdout, r.stderr)
	}

	// A setup error is one line.
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	otherTrust := filepath.Join(t.TempDir(), "trust.txt")
	os.WriteFile(otherTrust, issuetest.TrustPolicy(other, e.log.Log.VerifierKey(), e.log.Witnesses, time.Hour), 0o644)
	args := e.files(toks[0])
	args[1] = otherTrust
	r = runWith(t.Context(), "", args...)
	if want := "scanner: the saved directory is not signed by the pinned root key in " + otherTrust; r.code != 2 ||
		!strings.HasPrefix(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("setup error: %d %q, want one line %q", r.code, r.stderr, want)
	}
}

func TestMain(m *testing.M) {
	if os.Getenv("SCANNER_TEST_RUN_MAIN") == "1" {
		// The test binary as the command, for tests of separate processes.
		main()
	}
	os.Exit(m.Run())
}

// process runs the command as a process of its own, with in on stdin.
// It may be called from any goroutine.
func process(t *testing.T, in string, args ...string) result {
	cmd := exec.CommandContext(t.Context(), os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SCANNER_TEST_RUN_MAIN=1")
	cmd.Stdin = strings.NewReader(in)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Error(err)
		code = -1
	}
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// TestOneRunPerScan: a QR reader that pipes each code into its own
// scanner process, as the README wires it: the second process refuses
// the token that the first accepted, through the spent-token file saved
// beside the directory, and says so; of processes started at once with
// one token, one accepts it.
func TestOneRunPerScan(t *testing.T) {
	e := newEnv(t)
	if r := runWith(t.Context(), "", append([]string{"update", "-issuer", e.url, "-accepted", filepath.Join(e.dir, "directory.accepted")}, e.files()...)...); r.code != 0 {
		t.Fatalf("update: %d %q", r.code, r.stderr)
	}
	toks := e.tokens(t, 2)
	tok := toks[0]
	if r := process(t, tok+"\n", e.files()...); r.code != 0 || !strings.HasPrefix(r.stdout, "VALID: green") {
		t.Fatalf("first run: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "spent.tokens")); err != nil {
		t.Fatalf("no spent-token file beside the directory: %v", err)
	}
	r := process(t, tok+"\n", e.files()...)
	if r.code != 1 || !strings.HasPrefix(r.stdout, "REFUSED: already used") {
		t.Fatalf("second run: %d %q %q", r.code, r.stdout, r.stderr)
	}
	results := make(chan result, 4)
	for range cap(results) {
		go func() { results <- process(t, toks[1]+"\n", e.files()...) }()
	}
	valid := 0
	for range cap(results) {
		if r := <-results; r.code == 0 {
			valid++
		} else if !strings.HasPrefix(r.stdout, "REFUSED: already used") {
			t.Errorf("concurrent run: %d %q %q", r.code, r.stdout, r.stderr)
		}
	}
	if valid != 1 {
		t.Errorf("%d of %d concurrent processes accepted one token, want 1", valid, cap(results))
	}
	// A damaged file stops the scanner with a setup error.
	spent := filepath.Join(e.dir, "spent.tokens")
	data, _ := os.ReadFile(spent)
	data[len(data)-1] ^= 1
	os.WriteFile(spent, data, 0o600)
	r = runWith(t.Context(), tok+"\n", e.files()...)
	if r.code != 2 || !strings.HasPrefix(r.stderr, "scanner: -spent: spent-token file damaged: "+spent) {
		t.Fatalf("damaged file: %d %q", r.code, r.stderr)
	}
}

// TestAcceptedBesideDirectory: without -accepted, update and verifying
// both use the -directory file's name ending in .accepted, so that a
// scanner of other files keeps its own accepted state; an older directory
// put in place of the one saved last is refused with a pointer to update.
func TestAcceptedBesideDirectory(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	files := []string{"-trust", e.trust, "-directory", filepath.Join(dir, "target.json"),
		"-signature", filepath.Join(dir, "target.sig"), "-proof", filepath.Join(dir, "target.proof")}
	if r := runWith(t.Context(), "", append([]string{"update", "-issuer", e.url}, files...)...); r.code != 0 {
		t.Fatalf("update: %d %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "target.accepted")); err != nil {
		t.Fatalf("no target.accepted: %v", err)
	}
	var one [][]byte
	for _, name := range []string{"target.json", "target.sig", "target.proof"} {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		one = append(one, b)
	}
	data, sig, _ := e.is.Directory(time.Now(), 2)
	p2, err := e.log.Publish(data, sig, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.pub = p2
	if r := runWith(t.Context(), "", append([]string{"update", "-issuer", e.url}, files...)...); r.code != 0 || !strings.HasPrefix(r.stdout, "directory serial 2") {
		t.Fatalf("update to serial 2: %d %q %q", r.code, r.stdout, r.stderr)
	}
	tok := e.tokens(t, 1)[0]
	if r := runWith(t.Context(), "", append(files, tok)...); r.code != 0 {
		t.Fatalf("serial 2: %d %q %q", r.code, r.stdout, r.stderr)
	}
	for i, name := range []string{"target.json", "target.sig", "target.proof"} {
		os.WriteFile(filepath.Join(dir, name), one[i], 0o644)
	}
	r := runWith(t.Context(), "", append(files, tok)...)
	if r.code != 2 || !strings.Contains(r.stderr, "is serial 1, older than serial 2 accepted before") || !strings.HasSuffix(r.stderr, `run "scanner update"`+"\n") {
		t.Fatalf("older directory: %d %q", r.code, r.stderr)
	}
}
