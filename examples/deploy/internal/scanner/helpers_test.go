package scanner

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
	"github.com/statustoken/statustoken/examples/deploy/internal/redistest"
	"github.com/statustoken/statustoken/examples/deploy/internal/witnesstest"
	"github.com/statustoken/statustoken/holder"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

func TestMain(m *testing.M) {
	// As the command does: the Redis client's own log lines only repeat
	// the errors that the scanner reports.
	redis.SetLogger(quietLogger{})
	os.Exit(m.Run())
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

var statuses = []token.StatusName{{Code: 1, Name: "green"}, {Code: 2, Name: "red"}}

func newIssuer(t *testing.T, suites ...token.Suite) *issue.Issuer {
	t.Helper()
	_, root, _ := ed25519.GenerateKey(rand.Reader)
	seed := make([]byte, issue.SeedSize)
	rand.Read(seed)
	is, err := issue.NewIssuer(issue.Config{
		RootKey: root, Seed: seed, EpochLength: 24 * time.Hour, Statuses: statuses,
		Suites: suites, Epochs: 1, RSAKeys: issue.NewMemoryKeyStore(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return is
}

// env is a scanner's working directory with a directory from one issuer,
// logged with a proof that witnesses w1 and w2 cosigned, and the trust
// policy.
type env struct {
	t     *testing.T
	is    *issue.Issuer
	dir   string
	log   *witnesstest.Env
	trust string // the trust policy file
	pub   token.Published
}

var sharedIssuer struct {
	once sync.Once
	is   *issue.Issuer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	sharedIssuer.once.Do(func() { sharedIssuer.is = newIssuer(t, token.Ed25519, token.RSABSSA) })
	e := &env{t: t, is: sharedIssuer.is, dir: t.TempDir(), log: witnesstest.NewEnv(sharedIssuer.is.RootPublicKey())}
	e.trust = filepath.Join(e.dir, "trust.txt")
	os.WriteFile(e.trust, e.log.Policy(48*time.Hour), 0o644)
	data, sig, err := e.is.Directory(time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if e.pub, err = e.log.Publish(data, sig, time.Now()); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(e.dir, "directory.json"), data, 0o644)
	os.WriteFile(filepath.Join(e.dir, "directory.sig"), sig, 0o644)
	os.WriteFile(filepath.Join(e.dir, "directory.proof"), e.pub.Proof, 0o644)
	return e
}

// config returns the configuration of a scanner of the env's files, as
// the command's defaults make it.
func (e *env) config() Config {
	return Config{
		TrustFile:     e.trust,
		DirectoryFile: filepath.Join(e.dir, "directory.json"),
		SignatureFile: filepath.Join(e.dir, "directory.sig"),
		ProofFile:     filepath.Join(e.dir, "directory.proof"),
		AcceptedFile:  filepath.Join(e.dir, "directory.accepted"),
		Skew:          verify.DefaultSkew,
		Logger:        slog.New(slog.DiscardHandler),
	}
}

// scanner returns a scanner made with cfg, closed at the end of the test.
func (e *env) scanner(cfg Config) *Scanner {
	e.t.Helper()
	s, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { s.Close() })
	return s
}

// trustPolicy returns the env's trust policy.
func (e *env) trustPolicy() *token.Trust {
	e.t.Helper()
	tr, err := token.ParseTrust(e.log.Policy(48 * time.Hour))
	if err != nil {
		e.t.Fatal(err)
	}
	return tr
}

// tokens issues n Ed25519 tokens of status 1, in text form.
func (e *env) tokens(n int) []string {
	e.t.Helper()
	var out []string
	for len(out) < n {
		toks, err := e.is.IssueEd25519(1, time.Now(), min(issue.MaxTokens, n-len(out)))
		if err != nil {
			e.t.Fatal(err)
		}
		for _, tk := range toks {
			text, _ := tk.MarshalText()
			out = append(out, string(text))
		}
	}
	return out
}

// blindToken issues one rsabssa token of status 2 the way a wallet does.
func (e *env) blindToken() *token.Token {
	e.t.Helper()
	h, err := holder.New(e.pub, e.trustPolicy(), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	p, req, err := h.Request(2, time.Now(), 1)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := e.is.Respond(req, time.Now(), 2)
	if err != nil {
		e.t.Fatal(err)
	}
	toks, err := h.Finalize(p, resp)
	if err != nil {
		e.t.Fatal(err)
	}
	return toks[0]
}

// scan runs Scan and returns its output.
func scan(t *testing.T, s *Scanner, input string) (bool, string) {
	t.Helper()
	var out bytes.Buffer
	valid, err := s.Scan(t.Context(), input, &out)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return valid, unwrap(t, out.String())
}

// unwrap checks that every line of text answers fits in Width columns
// (JSON lines need not) and joins each answer's lines into one.
func unwrap(t *testing.T, out string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(l); n > Width && !strings.HasPrefix(l, "{") {
			t.Errorf("line of %d columns: %q", n, l)
		}
	}
	return strings.ReplaceAll(out, "\n  ", " ")
}

// batch runs Batch on the lines and returns its output.
func batch(t *testing.T, s *Scanner, lines ...string) (Summary, string) {
	t.Helper()
	var out bytes.Buffer
	sum, err := s.Batch(t.Context(), strings.NewReader(strings.Join(lines, "\n")), "test", &out)
	if err != nil {
		t.Fatalf("Batch: %v", err)
	}
	return sum, unwrap(t, out.String())
}

// readAnswer reads one answer of a gate: a line, and the lines that
// continue it (indented), written with it.
func readAnswer(r *bufio.Reader) (string, error) {
	ans, err := r.ReadString('\n')
	for err == nil && r.Buffered() > 0 {
		if b, _ := r.Peek(1); b[0] != ' ' {
			break
		}
		var more string
		more, err = r.ReadString('\n')
		ans = strings.TrimSuffix(ans, "\n") + " " + strings.TrimPrefix(more, "  ")
	}
	return ans, err
}

// jsonLines parses JSON Lines.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var res []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var j map[string]any
		if err := json.Unmarshal(sc.Bytes(), &j); err != nil {
			t.Fatalf("not JSON: %q: %v", sc.Text(), err)
		}
		res = append(res, j)
	}
	return res
}

// logBuffer is a logger that keeps its text lines, safe for concurrent
// use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// stoppedRedis returns the address of a redis-server that this test
// started and then paused with SIGSTOP: the kernel still accepts
// connections, and nothing answers. It is resumed at cleanup.
func stoppedRedis(t *testing.T) string {
	t.Helper()
	srv := redistest.Start(t)
	pid := redisPID(t, srv.Addr)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// Registered after redistest's own cleanup, so it runs first.
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
	return srv.Addr
}

// redisPID asks the server at addr for its process ID.
func redisPID(t *testing.T, addr string) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(c, "INFO server\r\n")
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("INFO server: no process_id: %v", err)
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			pid, err := strconv.Atoi(v)
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
	}
}
