package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/redistest"
)

// syncBuffer collects a process's output while it runs.
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

func goTool(t *testing.T) string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no go command to build the programs with")
	}
	return p
}

// build compiles the three programs into dir.
func build(t *testing.T, dir string) {
	t.Helper()
	const mod = "github.com/statustoken/statustoken/examples/deploy/"
	cmd := exec.Command(goTool(t), "build", "-o", dir+string(filepath.Separator), mod+"issuer", mod+"wallet", mod+"scanner")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
}

type result struct {
	code           int
	stdout, stderr string
}

// runner runs the built programs in one working directory.
type runner struct {
	t   *testing.T
	bin string
	wd  string
}

func (r *runner) run(env []string, stdin string, prog string, args ...string) result {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(r.bin, prog), args...)
	cmd.Dir = r.wd
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatalf("%s: %v", prog, err)
	}
	return result{code, out.String(), errOut.String()}
}

func (r *runner) must(env []string, stdin, prog string, args ...string) result {
	r.t.Helper()
	res := r.run(env, stdin, prog, args...)
	if res.code != 0 {
		r.t.Fatalf("%s %s: exit %d\nstdout: %s\nstderr: %s", prog, strings.Join(args, " "), res.code, res.stdout, res.stderr)
	}
	return res
}

// TestEndToEnd starts the issuer on a loopback port, runs the wallet
// against it, verifies the wallet's tokens with two scanners that share a
// Redis, then stops Redis and the issuer.
func TestEndToEnd(t *testing.T) {
	redis := redistest.Start(t)
	r := &runner{t: t, bin: t.TempDir(), wd: t.TempDir()}
	build(t, r.bin)

	// The issuer: two holders, then the service.
	greenKey := strings.TrimSpace(r.must(nil, "", "issuer", "add-holder", "green").stdout)
	redKey := strings.TrimSpace(r.must(nil, "", "issuer", "add-holder", "red").stdout)
	issuerLog := &syncBuffer{}
	issuer := exec.Command(filepath.Join(r.bin, "issuer"), "-addr", "127.0.0.1:0", "-rate-limit", "5")
	issuer.Dir = r.wd
	issuer.Stdout, issuer.Stderr = issuerLog, issuerLog
	if err := issuer.Start(); err != nil {
		t.Fatal(err)
	}
	var exitErr error
	exited := make(chan struct{})
	go func() {
		exitErr = issuer.Wait()
		close(exited)
	}()
	defer func() {
		select {
		case <-exited:
		default:
			issuer.Process.Kill()
			<-exited
		}
	}()
	url := waitFor(t, issuerLog, exited, regexp.MustCompile(`msg=listening url=(\S+)`))
	root := filepath.Join("issuer-state", "root.pub")

	// The wallet gets tokens.
	green := []string{"STATUSTOKEN_API_KEY=" + greenKey}
	res := r.must(green, "", "wallet", "request", "-issuer", url, "-root", root, "-n", "8")
	if !strings.Contains(res.stderr, "8 green tokens stored") {
		t.Fatalf("wallet request: %q", res.stderr)
	}
	// A holder asking for a status that is not theirs is refused, and
	// the service goes on serving.
	res = r.run([]string{"STATUSTOKEN_API_KEY=" + redKey}, "", "wallet", "request", "-state", "other-wallet", "-issuer", url, "-root", root, "-status", "green")
	if res.code != 1 || !strings.Contains(res.stderr, "403 Forbidden") {
		t.Fatalf("red holder asking for green: %d %q", res.code, res.stderr)
	}
	res = r.run([]string{"STATUSTOKEN_API_KEY=wrong"}, "", "wallet", "request", "-state", "other-wallet", "-issuer", url, "-root", root)
	if res.code != 1 || !strings.Contains(res.stderr, "401 Unauthorized: unknown API key") {
		t.Fatalf("unknown API key: %d %q", res.code, res.stderr)
	}

	// A scanner saves the directory for offline use.
	r.must(nil, "", "scanner", "update", "-issuer", url, "-root", root)

	// The wallet shows a token: terminal QR code, PNG and text form.
	res = r.must(nil, "", "wallet", "show")
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	tok := lines[len(lines)-1]
	if !strings.HasPrefix(tok, "HT1:") || len(lines) < 30 {
		t.Fatalf("wallet show: %q", res.stdout)
	}
	if fi, err := os.Stat(filepath.Join(r.wd, "token.png")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token.png: %v", err)
	}

	// Two gates share Redis: the second refuses the same token.
	gate := func(stdin string, args ...string) result {
		return r.run(nil, stdin, "scanner", append([]string{"-root", root, "-redis", redis.Addr}, args...)...)
	}
	if res := gate(tok); res.code != 0 || !strings.Contains(res.stdout, "VALID    green") {
		t.Fatalf("gate A: %d %q %q", res.code, res.stdout, res.stderr)
	}
	if res := gate("", tok); res.code != 1 || !strings.Contains(res.stdout, "REFUSED  already used") {
		t.Fatalf("gate B, same token: %d %q", res.code, res.stdout)
	}

	// A batch of three, as JSON.
	res = r.must(nil, "", "wallet", "export", "-n", "3")
	os.WriteFile(filepath.Join(r.wd, "queue.txt"), []byte(res.stdout), 0o600)
	if res := gate("", "-batch", "queue.txt", "-json"); res.code != 0 || strings.Count(res.stdout, `"valid":true`) != 3 {
		t.Fatalf("batch: %d %q %q", res.code, res.stdout, res.stderr)
	}
	if res := gate("", "-batch", "queue.txt"); res.code != 1 || !strings.Contains(res.stdout, "0 valid, 3 refused") {
		t.Fatalf("batch again: %d %q", res.code, res.stdout)
	}
	if n, _ := redis.Do("DBSIZE"); n != ":4" {
		t.Fatalf("Redis holds %s keys, want the 4 spent tokens", n)
	}

	// Redis stops: fail closed by default, open when asked, and said so.
	redis.Stop()
	tok2 := strings.TrimSpace(r.must(nil, "", "wallet", "show", "-qr=false", "-png", "").stdout)
	if res := gate(tok2); res.code != 1 || !strings.Contains(res.stdout, "fail closed") {
		t.Fatalf("Redis stopped, fail closed: %d %q", res.code, res.stdout)
	}
	if res := gate(tok2, "-fail-open"); res.code != 0 || !strings.Contains(res.stdout, "replay check: SKIPPED") {
		t.Fatalf("Redis stopped, fail open: %d %q", res.code, res.stdout)
	}

	// The issuer stops gracefully on SIGTERM.
	issuer.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		if exitErr != nil {
			t.Fatalf("issuer exit: %v\n%s", exitErr, issuerLog)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("issuer did not stop on SIGTERM")
	}
	logs := issuerLog.String()
	if !strings.Contains(logs, "msg=stopped") {
		t.Fatalf("no graceful stop in the log:\n%s", logs)
	}

	// Nothing identifies a holder in the issuer's log or in any file the
	// programs wrote: no API key, no token.
	secrets := []string{greenKey, redKey, tok, tok2}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Fatal("the issuer's log holds an API key or a token")
		}
	}
	filepath.Walk(r.wd, func(path string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		data, _ := os.ReadFile(path)
		for _, k := range []string{greenKey, redKey} {
			if bytes.Contains(data, []byte(k)) {
				t.Errorf("%s holds an API key", path)
			}
		}
		return nil
	})
	for _, want := range []string{"status=200", "status=403", "status=401", "path=/token-request", "duration="} {
		if !strings.Contains(logs, want) {
			t.Errorf("issuer log lacks %q", want)
		}
	}
}

func waitFor(t *testing.T, out *syncBuffer, exited chan struct{}, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		select {
		case <-exited:
			t.Fatalf("issuer exited:\n%s", out)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("issuer did not start:\n%s", out)
	return ""
}
