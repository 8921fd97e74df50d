package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/litewitnesstest"
	"github.com/statustoken/statustoken/examples/deploy/internal/wallet"
	"github.com/statustoken/statustoken/examples/deploy/internal/wallet/wallettest"
	"github.com/statustoken/statustoken/issue/issuetest"
	"github.com/statustoken/statustoken/token"
)

type result struct {
	code           int
	stdout, stderr string
}

func runWallet(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	return runWalletCtx(t, t.Context(), env, args...)
}

func runWalletCtx(t *testing.T, ctx context.Context, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	c := &cli{stdout: &out, stderr: &errOut, getenv: func(k string) string { return env[k] }}
	code := c.run(ctx, args)
	return result{code, out.String(), errOut.String()}
}

var withKey = map[string]string{apiKeyEnv: wallettest.APIKey}

func TestRequestShowExport(t *testing.T) {
	f := wallettest.New(t)
	state := filepath.Join(t.TempDir(), "w")
	r := runWallet(t, withKey, "request", "-state", state, "-issuer", f.URL(), "-trust", f.Trust, "-n", "4")
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
		if bytes.Contains(data, []byte(wallettest.APIKey)) || bytes.Contains(data, []byte(strings.TrimPrefix(f.URL(), "http://"))) {
			t.Errorf("%s holds the API key or the issuer's address", e.Name())
		}
	}
	if strings.Join(names, " ") != "accepted directory.json directory.proof directory.sig lock tokens.json trust.txt" {
		t.Fatalf("state files: %v", names)
	}
	tf := filepath.Join(state, wallet.TokensFile)
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

	// show: an rsabssa token's QR code does not fit the 80x24 assumed
	// without a terminal: the text form, and the PNG, which is said.
	r = runWallet(t, nil, "show", "-state", state)
	if r.code != 0 {
		t.Fatalf("show: %d %s", r.code, r.stderr)
	}
	text := strings.TrimSuffix(r.stdout, "\n")
	if !strings.HasPrefix(text, token.TextPrefix) || strings.Contains(text, "\n") {
		t.Fatalf("show output is not the text form alone:\n%s", r.stdout)
	}
	pngName := filepath.Join(filepath.Dir(state), "token.png")
	if want := "wallet: this token's QR code is too large for an 80x24 terminal: open " + pngName + " (written next to the state) or use -png FILE\n"; !strings.HasPrefix(r.stderr, want) {
		t.Fatalf("show stderr: %q, want %q", r.stderr, want)
	}
	if !strings.Contains(r.stderr, "green token") || !strings.Contains(r.stderr, "3 unused left") {
		t.Fatalf("show stderr: %q", r.stderr)
	}
	if fi, err := os.Stat(pngName); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("PNG: %v", err)
	}
	v := f.Verifier()
	if _, err := v.VerifyText(t.Context(), text); err != nil {
		t.Fatalf("shown token: %v", err)
	}
	// On a large terminal, the code itself.
	var out, errOut bytes.Buffer
	c := &cli{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }, terminal: func() (int, int, bool) { return 120, 50, true }}
	if code := c.run(t.Context(), []string{"show", "-state", state, "-png", ""}); code != 0 || !strings.ContainsAny(out.String(), "█▀▄") || strings.Count(out.String(), "\n") < 30 {
		t.Fatalf("show on 120x50: %d %q\n%s", code, errOut.String(), out.String())
	}
	shown := strings.SplitN(out.String(), "\n", 2)[0]

	// export the rest; each token appears once across show and export.
	r = runWallet(t, nil, "export", "-state", state, "-n", "2")
	if r.code != 0 || r.stderr != "wallet: 2 tokens exported and marked used; 0 unused left\n" {
		t.Fatalf("export: %d %q", r.code, r.stderr)
	}
	exported := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(exported) != 2 {
		t.Fatalf("export printed %d tokens", len(exported))
	}
	seen := map[string]bool{text: true, shown: true}
	for _, e := range exported {
		if seen[e] {
			t.Fatal("a token was given out twice")
		}
		seen[e] = true
		if _, err := v.VerifyText(t.Context(), e); err != nil {
			t.Fatalf("exported token: %v", err)
		}
	}
	if r := runWallet(t, nil, "show", "-state", state, "-png", ""); r.code != 1 || r.stderr != "wallet: no unused token left (4 used); run 'wallet request' for new ones\n" {
		t.Fatalf("show with none left: %d %q", r.code, r.stderr)
	}
	if r := runWallet(t, nil, "export", "-state", state); r.code != 1 {
		t.Fatalf("export with none left: %d", r.code)
	}
	if r := runWallet(t, nil, "list", "-state", state); r.code != 0 || !strings.Contains(r.stdout, "0 unused    4 used") {
		t.Fatalf("list: %d %q", r.code, r.stdout)
	}
	// The API key was sent with the token request only.
	if a := f.GotAuth(); len(a) != 1 || a[0] != "Bearer "+wallettest.APIKey {
		t.Fatalf("Authorization headers sent: %q", a)
	}
}

func TestRequestRefusals(t *testing.T) {
	f := wallettest.New(t)
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	otherTrust := filepath.Join(t.TempDir(), "other.txt")
	os.WriteFile(otherTrust, issuetest.TrustPolicy(other, f.Env.Log.VerifierKey(), f.Env.Witnesses, time.Hour), 0o644)
	badTrust := filepath.Join(t.TempDir(), "bad.txt")
	os.WriteFile(badTrust, []byte("root abc\n"), 0o644)
	rootFile := f.Trust

	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"no API key", nil, []string{"-trust", f.Trust}, 2, "STATUSTOKEN_API_KEY"},
		{"no trust policy", withKey, nil, 2, "-trust is required: the issuer's trust policy file (trust.txt)\nrun 'wallet request -h' for usage\n"},
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
			args := append([]string{"request", "-state", state, "-issuer", f.URL()}, c.args...)
			r := runWallet(t, c.env, args...)
			if r.code != c.code || !strings.Contains(r.stderr, c.want) {
				t.Fatalf("exit %d %q, want %d with %q", r.code, r.stderr, c.code, c.want)
			}
			if _, err := os.Stat(filepath.Join(state, wallet.TokensFile)); err == nil {
				t.Fatal("tokens stored after a refusal")
			}
		})
	}
}

func TestResponseTampered(t *testing.T) {
	f := wallettest.New(t)
	f.Mutate = func(b []byte) []byte {
		b = bytes.Clone(b)
		b[len(b)-1] ^= 1
		return b
	}
	state := filepath.Join(t.TempDir(), "w")
	r := runWallet(t, withKey, "request", "-state", state, "-issuer", f.URL(), "-trust", f.Trust, "-n", "2")
	if r.code != 1 || !strings.Contains(r.stderr, "does not verify") {
		t.Fatalf("tampered response: %d %q", r.code, r.stderr)
	}
	if r := runWallet(t, nil, "list", "-state", state); r.stdout != "no tokens in "+state+": run 'wallet request' first\n" {
		t.Fatalf("tokens kept from a refused response: %q", r.stdout)
	}
}

// TestInterrupted: a canceled context (Ctrl-C) stops a token request the
// issuer does not answer.
func TestInterrupted(t *testing.T) {
	f := wallettest.New(t)
	f.Block = make(chan struct{})
	defer close(f.Block)
	state := filepath.Join(t.TempDir(), "w")
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(200*time.Millisecond, cancel)
	r := runWalletCtx(t, ctx, withKey, "request", "-state", state, "-issuer", f.URL(), "-trust", f.Trust, "-n", "2")
	if r.code != 130 || r.stderr != "wallet: interrupted; no token was stored\n" {
		t.Fatalf("interrupted: %d %q", r.code, r.stderr)
	}
	// And -timeout.
	r = runWallet(t, withKey, "request", "-state", state, "-issuer", f.URL(), "-trust", f.Trust, "-timeout", "300ms")
	if r.code != 1 || !strings.Contains(r.stderr, "context deadline exceeded (gave up after -timeout 300ms)") {
		t.Fatalf("timed out: %d %q", r.code, r.stderr)
	}
}

// TestReadCommandsCreateNothing: show, export and list on a missing state
// say so, and create nothing.
func TestReadCommandsCreateNothing(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, args := range [][]string{
		{"show", "-state", "nowhere"}, {"export", "-state", "nowhere"}, {"list", "-state", "nowhere"}, {"show"}, {"list"},
	} {
		state := "nowhere"
		if len(args) == 1 {
			state = "wallet-state"
		}
		r := runWallet(t, nil, args...)
		if want := "wallet: no wallet state in " + state + ": run 'wallet request' first\n"; r.code != 1 || r.stderr != want || r.stdout != "" {
			t.Errorf("%v: %d %q %q, want %q", args, r.code, r.stdout, r.stderr, want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("read commands created %v", entries)
	}
}

func TestUsage(t *testing.T) {
	if r := runWallet(t, nil); r.code != 2 || !strings.Contains(r.stderr, "wallet request") {
		t.Fatalf("no command: %d", r.code)
	}
	for _, cmd := range []string{"request", "show", "export", "list", "decisions", "appeal"} {
		if r := runWallet(t, nil, cmd, "-h"); r.code != 0 || !strings.Contains(r.stdout, "usage: wallet "+cmd) || !strings.Contains(r.stdout, "-state") || !strings.Contains(r.stdout, "-log-level") {
			t.Errorf("%s -h: %d %q", cmd, r.code, r.stdout)
		}
	}
	for _, args := range [][]string{{"-h"}, {"help"}, {"-help"}, {"--help"}} {
		if r := runWallet(t, nil, args...); r.code != 0 || !strings.Contains(r.stdout, "wallet show") || !strings.Contains(r.stdout, "-log-json") {
			t.Errorf("%v: %d %q", args, r.code, r.stdout)
		}
	}
	// A usage error: the error and where the usage is, not the usage.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"fly"}, "wallet: unknown command \"fly\"\nrun 'wallet -h' for usage\n"},
		{[]string{"-bogus"}, "wallet: flag provided but not defined: -bogus\nrun 'wallet -h' for usage\n"},
		{[]string{"show", "-bogus"}, "wallet: flag provided but not defined: -bogus\nrun 'wallet show -h' for usage\n"},
		{[]string{"show", "-scale", "0"}, "wallet: -scale must be 1 to 32\nrun 'wallet show -h' for usage\n"},
		{[]string{"export", "-n", "x"}, "wallet: invalid value \"x\" for flag -n: parse error\nrun 'wallet export -h' for usage\n"},
		{[]string{"export", "-n", "0"}, "wallet: -n must be at least 1\nrun 'wallet export -h' for usage\n"},
		{[]string{"list", "extra"}, "wallet: unexpected argument \"extra\"\nrun 'wallet list -h' for usage\n"},
		{[]string{"appeal"}, "wallet: -o is required: the file to write the appeal bundle to\nrun 'wallet appeal -h' for usage\n"},
		{[]string{"decisions"}, "wallet: -trust is required: the issuer's trust policy file (trust.txt)\nrun 'wallet decisions -h' for usage\n"},
		{[]string{"-log-level", "loud", "list"}, "wallet: -log-level \"loud\": want debug, info, warn or error\nrun 'wallet -h' for usage\n"},
		{[]string{"list", "-log-level", "loud"}, "wallet: -log-level \"loud\": want debug, info, warn or error\nrun 'wallet list -h' for usage\n"},
	} {
		if r := runWallet(t, nil, c.args...); r.code != 2 || r.stderr != c.want || r.stdout != "" {
			t.Errorf("%v: %d %q, want %q", c.args, r.code, r.stderr, c.want)
		}
	}
}

// TestLogFlags: -log-level and -log-json, before or after the command.
func TestLogFlags(t *testing.T) {
	f := wallettest.New(t)
	state := filepath.Join(t.TempDir(), "w")
	base := []string{"-state", state, "-issuer", f.URL(), "-trust", f.Trust, "-n", "1"}
	r := runWallet(t, withKey, append([]string{"request"}, base...)...)
	if r.code != 0 || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("default level (info): %d %q", r.code, r.stderr)
	}
	r = runWallet(t, withKey, append([]string{"-log-level", "debug", "request"}, base...)...)
	if r.code != 0 || !strings.Contains(r.stderr, "level=DEBUG msg=\"fetching the directory\"") || !strings.Contains(r.stderr, "level=DEBUG msg=\"directory accepted\" serial=5") {
		t.Fatalf("-log-level debug: %d %q", r.code, r.stderr)
	}
	r = runWallet(t, withKey, append(append([]string{"request"}, base...), "-log-level", "debug", "-log-json")...)
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	found := false
	for _, l := range lines[:len(lines)-1] {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("-log-json: %q is not JSON", l)
		}
		found = found || rec["msg"] == "directory accepted" && rec["serial"] == 5.0
	}
	if !found {
		t.Fatalf("-log-json: %q", r.stderr)
	}
	if !strings.HasPrefix(lines[len(lines)-1], "wallet: 1 green token stored in ") {
		t.Fatalf("result line: %q", lines[len(lines)-1])
	}
}

// TestSignal builds the wallet and interrupts it (SIGINT, as Ctrl-C does)
// while the issuer sits on its token request: the request is canceled,
// and the wallet says so at once.
func TestSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the wallet")
	}
	bin := filepath.Join(t.TempDir(), "wallet")
	if out, err := exec.Command(litewitnesstest.GoTool(t), "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		f := wallettest.New(t)
		f.Block = make(chan struct{})
		state := filepath.Join(t.TempDir(), "w")
		cmd := exec.Command(bin, "request", "-state", state, "-issuer", f.URL(), "-trust", f.Trust, "-n", "1")
		cmd.Env = append(os.Environ(), apiKeyEnv+"="+wallettest.APIKey)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait for the token request to arrive, then interrupt.
		for deadline := time.Now().Add(30 * time.Second); len(f.GotAuth()) == 0; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("no token request: %s", stderr.String())
			}
		}
		start := time.Now()
		cmd.Process.Signal(sig)
		err := cmd.Wait()
		close(f.Block)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 130 || stderr.String() != "wallet: interrupted; no token was stored\n" || time.Since(start) > 5*time.Second {
			t.Fatalf("%v: %v %q after %v", sig, err, stderr.String(), time.Since(start))
		}
		if _, err := os.Stat(filepath.Join(state, wallet.TokensFile)); err == nil {
			t.Fatal("tokens stored")
		}
	}
}

// TestRefusalAppeal: a refusal with a receipt is reported and kept;
// decisions fetches its proof and lists it; appeal writes a bundle that
// token.CheckAppeal accepts under the trust policy alone.
func TestRefusalAppeal(t *testing.T) {
	f := wallettest.NewDecisions(t)
	state := filepath.Join(t.TempDir(), "w")
	f.Refuse = wallettest.Administrative
	r := runWallet(t, withKey, "request", "-state", state, "-issuer", f.URL(), "-trust", f.Trust, "-statement", "Zhang San, 1985-07-02")
	if r.code != 1 || !strings.Contains(r.stderr, "wallet: refused: reason 4 Administrative") ||
		!strings.Contains(r.stderr, "receipt kept as decision 1: appeal with 'wallet appeal -decision 1 -o FILE'") {
		t.Fatalf("request: %d %s", r.code, r.stderr)
	}
	if fi, err := os.Stat(filepath.Join(state, wallet.DecisionsFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("decisions file: %v", err)
	}
	r = runWallet(t, nil, "decisions", "-state", state, "-offline")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "1  ") || !strings.Contains(r.stdout, "refused: reason 4 Administrative  not logged yet (due by ") {
		t.Fatalf("decisions -offline: %d %q %s", r.code, r.stdout, r.stderr)
	}
	r = runWallet(t, nil, "decisions", "-state", state, "-issuer", f.URL(), "-trust", f.Trust)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "1  ") || !strings.HasSuffix(r.stdout, "refused: reason 4 Administrative  logged\n") {
		t.Fatalf("decisions: %d %q %s", r.code, r.stdout, r.stderr)
	}
	if r := runWallet(t, nil, "decisions", "-state", filepath.Join(t.TempDir(), "none"), "-offline"); r.code != 1 || !strings.Contains(r.stderr, "no wallet state") {
		t.Fatalf("decisions -offline without a state: %d %s", r.code, r.stderr)
	}
	out := filepath.Join(t.TempDir(), "appeal.bin")
	r = runWallet(t, nil, "appeal", "-state", state, "-o", out)
	if r.code != 0 || !strings.Contains(r.stderr, "appeal bundle of decision 1 (refused: reason 4 Administrative) written to "+out) {
		t.Fatalf("appeal: %d %s", r.code, r.stderr)
	}
	bundle, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	finding, err := token.CheckAppeal(bundle, f.TrustPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if finding.OutcomeName != "refused" || finding.ReasonText != "Administrative" || string(finding.Statement) != "Zhang San, 1985-07-02" {
		t.Fatalf("finding %+v", finding)
	}
	if r := runWallet(t, nil, "appeal", "-state", state, "-o", out); r.code != 1 || !strings.Contains(r.stderr, "exists") {
		t.Fatalf("appeal over an existing file: %d %s", r.code, r.stderr)
	}
}

// TestDecisionsWithoutPolicy: decisions against an issuer without a
// decision policy, as the README's walkthrough may run it, succeeds.
func TestDecisionsWithoutPolicy(t *testing.T) {
	f := wallettest.New(t)
	state := filepath.Join(t.TempDir(), "w")
	if r := runWallet(t, withKey, "request", "-state", state, "-issuer", f.URL(), "-trust", f.Trust, "-n", "2"); r.code != 0 {
		t.Fatalf("request: %d %s", r.code, r.stderr)
	}
	r := runWallet(t, nil, "decisions", "-state", state, "-issuer", f.URL(), "-trust", f.Trust)
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "no decisions in "+state) {
		t.Fatalf("decisions: %d %q %s", r.code, r.stdout, r.stderr)
	}
}
