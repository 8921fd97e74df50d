package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/syncbuf"

	"github.com/statustoken/statustoken/examples/deploy/internal/directory"
	"github.com/statustoken/statustoken/examples/deploy/internal/litewitnesstest"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/token/tokenhttp"
)

// syncBuffer collects output written from several goroutines.
type syncBuffer = syncbuf.Buffer

// build compiles the three programs and the witness tools into dir, at
// once.
func build(t *testing.T, dir string) {
	t.Helper()
	const mod = "github.com/statustoken/statustoken/examples/deploy/"
	var wg sync.WaitGroup
	var out []byte
	var err error
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, litewitnesstest.GoTool(t), "build", "-o", dir+string(filepath.Separator), mod+"cmd/issuer", mod+"cmd/wallet", mod+"cmd/scanner")
		out, err = cmd.CombinedOutput()
	}()
	litewitnesstest.Build(t, dir)
	wg.Wait()
	if err != nil {
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
	if prog == "scanner" {
		// The scanner wraps answers and messages at 80 columns, going on
		// in lines indented by two spaces: join them.
		join := func(s string) string { return strings.ReplaceAll(s, "\n  ", " ") }
		return result{code, join(out.String()), join(errOut.String())}
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

// service is the issuer process.
type service struct {
	t       *testing.T
	cmd     *exec.Cmd
	log     *syncBuffer
	exited  chan struct{}
	exitErr error
	url     string
}

// startIssuer runs the issuer with args and waits until it listens.
func (r *runner) startIssuer(args ...string) *service {
	r.t.Helper()
	s := &service{t: r.t, log: &syncBuffer{}, exited: make(chan struct{})}
	s.cmd = exec.Command(filepath.Join(r.bin, "issuer"), args...)
	s.cmd.Dir = r.wd
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	go func() {
		s.exitErr = s.cmd.Wait()
		close(s.exited)
	}()
	r.t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			s.cmd.Process.Kill()
			<-s.exited
		}
	})
	s.url = waitFor(r.t, s.log, s.exited, regexp.MustCompile(`msg=listening url=(\S+)`))
	return s
}

// stop stops the issuer with SIGTERM, as a service manager does, and
// checks that it stopped gracefully.
func (s *service) stop() {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		if s.exitErr != nil {
			s.t.Fatalf("issuer exit: %v\n%s", s.exitErr, s.log)
		}
	case <-time.After(30 * time.Second):
		s.t.Fatal("issuer did not stop on SIGTERM")
	}
	if !strings.Contains(s.log.String(), "msg=stopped") {
		s.t.Fatalf("no graceful stop in the log:\n%s", s.log)
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

// fetch gets the issuer's published directory, as a wallet does.
func fetch(t *testing.T, url string) token.Published {
	t.Helper()
	c, err := tokenhttp.NewClient(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := c.FetchDirectory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// get returns the body of a GET of url.
func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes()
}

// rogue is the authority's own server, which gives one wallet what it
// chooses: the issuer's HTTP interface with a directory, signature and
// proof of its making. It answers every token request with 500 and
// counts them: a wallet that refuses the directory sends none.
type rogue struct {
	srv      *httptest.Server
	mu       sync.Mutex
	p        token.Published
	requests atomic.Int64
}

func newRogue(t *testing.T) *rogue {
	r := &rogue{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+directory.Path, func(w http.ResponseWriter, _ *http.Request) {
		r.mu.Lock()
		p := r.p
		r.mu.Unlock()
		w.Header().Set(directory.SignatureHeader, base64.StdEncoding.EncodeToString(p.Signature))
		if len(p.Proof) > 0 {
			w.Header().Set(directory.ProofHeader, base64.StdEncoding.EncodeToString(p.Proof))
		}
		w.Write(p.Directory)
	})
	mux.HandleFunc("POST "+directory.TokenRequestPath, func(w http.ResponseWriter, _ *http.Request) {
		r.requests.Add(1)
		http.Error(w, "no", http.StatusInternalServerError)
	})
	r.srv = httptest.NewServer(mux)
	t.Cleanup(r.srv.Close)
	return r
}

func (r *rogue) serve(p token.Published) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.p = p
}

// rootKey reads the issuer's root key from its state directory: the
// authority has it.
func rootKey(t *testing.T, stateDir string) ed25519.PrivateKey {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(stateDir, "root.key"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatal("root.key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(ed25519.PrivateKey)
}

// splitDirectory returns a directory with the serial of honest, the same
// keys plus an Ed25519 key of the authority's for status 1, signed by
// the root key: the directory that would mark whoever gets it.
func splitDirectory(t *testing.T, honest []byte, root ed25519.PrivateKey) (data, sig []byte) {
	t.Helper()
	d, err := token.ParseDirectory(honest)
	if err != nil {
		t.Fatal(err)
	}
	mark, _, _ := ed25519.GenerateKey(rand.Reader)
	k := d.Keys[0]
	k.Suite, k.PublicKey, k.ID = token.Ed25519, mark, token.ComputeKeyID(mark)
	d.Keys = append(d.Keys, k)
	slices.SortFunc(d.Keys, func(a, b token.Key) int {
		switch {
		case a.NotBefore != b.NotBefore:
			return int(a.NotBefore) - int(b.NotBefore)
		case a.Suite != b.Suite:
			return int(a.Suite) - int(b.Suite)
		}
		return int(a.Status) - int(b.Status)
	})
	if data, err = d.MarshalBinary(); err != nil {
		t.Fatal(err)
	}
	// The root signature covers a label and the bytes (token/SPEC.md,
	// "Directory signature"): the split directory is genuinely signed.
	sig = ed25519.Sign(root, append([]byte("statustoken/v1 directory"), data...))
	if _, err := token.OpenDirectory(data, sig, root.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	return data, sig
}

// serialOf returns the serial of the directory in a file.
func serialOf(t *testing.T, name string) uint64 {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	d, err := token.ParseDirectory(data)
	if err != nil {
		t.Fatal(err)
	}
	return d.Serial
}
