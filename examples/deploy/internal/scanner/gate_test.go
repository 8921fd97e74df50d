package scanner

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/redistest"
)

// gateRun is a gate over pipes: the test writes scans and reads answers.
type gateRun struct {
	t    *testing.T
	in   *io.PipeWriter
	out  *bufio.Reader
	done chan struct{}
	sum  Summary
	err  error
}

func startGate(t *testing.T, ctx context.Context, s *Scanner) *gateRun {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	g := &gateRun{t: t, in: inW, out: bufio.NewReaderSize(outR, 1<<16), done: make(chan struct{})}
	go func() {
		defer close(g.done)
		g.sum, g.err = s.Gate(ctx, inR, outW)
		outW.Close()
	}()
	t.Cleanup(func() {
		inW.Close()
		outR.Close()
		<-g.done
	})
	return g
}

func (g *gateRun) write(lines ...string) {
	g.t.Helper()
	if _, err := io.WriteString(g.in, strings.Join(lines, "\n")+"\n"); err != nil {
		g.t.Fatal(err)
	}
}

func (g *gateRun) read() string {
	g.t.Helper()
	line, err := readAnswer(g.out)
	if err != nil {
		g.t.Fatalf("reading the gate's answer: %v (%q)", err, line)
	}
	return line
}

// wait closes the input and waits for the gate to end.
func (g *gateRun) wait() (Summary, error) {
	g.in.Close()
	go io.Copy(io.Discard, g.out)
	select {
	case <-g.done:
	case <-time.After(10 * time.Second):
		g.t.Fatal("the gate did not end at the end of its input")
	}
	return g.sum, g.err
}

// batchSizes records the sizes of the batches a scanner verifies.
type batchSizes struct {
	mu    sync.Mutex
	sizes []int
}

func (b *batchSizes) hook(n int) {
	b.mu.Lock()
	b.sizes = append(b.sizes, n)
	b.mu.Unlock()
}

func (b *batchSizes) take() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.sizes
	b.sizes = nil
	return s
}

// TestGateLatency checks that a gate answers a lone token within 100 ms,
// before and after a burst of a thousand, which it verifies in batches.
func TestGateLatency(t *testing.T) {
	srv := redistest.Start(t)
	e := newEnv(t)
	for _, mode := range []string{"no store", "redis"} {
		t.Run(mode, func(t *testing.T) {
			cfg := e.config()
			if mode == "redis" {
				cfg.Redis = srv.Addr
			}
			s := e.scanner(cfg)
			var sizes batchSizes
			s.onBatch = sizes.hook
			g := startGate(t, t.Context(), s)
			toks := e.tokens(1003)
			lone := func(tok string, n int) {
				t.Helper()
				start := time.Now()
				g.write(tok)
				ans := g.read()
				if d := time.Since(start); d > 100*time.Millisecond {
					t.Errorf("a lone token took %v to be answered", d)
				}
				if want := fmt.Sprintf("line %d: VALID: green", n); !strings.HasPrefix(ans, want) {
					t.Errorf("answer %q, want %q", ans, want)
				}
			}
			lone(toks[0], 1)
			sizes.take()

			// The burst, as scans arrive from many lanes: 20 writes of 50
			// lines, 2 ms apart, and a lone token in the middle.
			burst := toks[1:1001]
			const mid = 500
			var loneWritten time.Time
			go func() {
				for i := 0; i < len(burst); i += 50 {
					if i == mid {
						loneWritten = time.Now()
						io.WriteString(g.in, toks[1001]+"\n")
					}
					io.WriteString(g.in, strings.Join(burst[i:i+50], "\n")+"\n")
					time.Sleep(2 * time.Millisecond)
				}
			}()
			for i := range len(burst) + 1 {
				ans := g.read()
				if !strings.HasPrefix(ans, fmt.Sprintf("line %d: VALID: ", i+2)) {
					t.Fatalf("burst answer %d: %q", i, ans)
				}
				if i == mid {
					// It waits for the batch being verified (at most
					// GateBatchSize tokens, whose store calls are one
					// round trip each), not for the rest of the burst.
					d := time.Since(loneWritten)
					t.Logf("a token in the middle of the burst was answered in %v", d)
					limit := 100 * time.Millisecond
					if raceEnabled {
						limit = time.Second // the race detector slows everything down about tenfold
					}
					if d > limit {
						t.Errorf("a token in the middle of the burst took %v to be answered", d)
					}
				}
			}
			b := sizes.take()
			total := 0
			for _, n := range b {
				total += n
			}
			if total != len(burst)+1 || len(b) < 2 || len(b) >= len(burst) {
				t.Errorf("the burst of %d was verified in %d batches %v", len(burst)+1, len(b), b)
			}
			t.Logf("burst of %d: %d batches %v", len(burst)+1, len(b), b)

			lone(toks[1002], 1003)
			// A repeat of the first token, in its own batch.
			g.write(toks[0])
			if ans := g.read(); !strings.HasPrefix(ans, "line 1004: REFUSED: already used") {
				t.Errorf("repeat: %q", ans)
			}
			sum, err := g.wait()
			if err != nil || sum.Valid != 1003 || sum.Refused != 1 {
				t.Errorf("gate ended with %v %v", sum, err)
			}
		})
	}
}

// TestGateEnds checks that a gate ends cleanly at the end of its input
// and when its context ends, and answers a last line without a newline.
func TestGateEnds(t *testing.T) {
	e := newEnv(t)
	toks := e.tokens(3)
	cfg := e.config()
	cfg.JSON = true
	s := e.scanner(cfg)
	var out bytes.Buffer
	sum, err := s.Gate(t.Context(), strings.NewReader("# comment\n\n"+toks[0]+"\n"+toks[1]), &out)
	if err != nil || sum.Valid != 2 || strings.Count(out.String(), `"valid":true`) != 2 || !strings.Contains(out.String(), `"line":4`) {
		t.Fatalf("gate over a reader: %v %v %q", sum, err, out.String())
	}

	ctx, cancel := context.WithCancel(t.Context())
	g := startGate(t, ctx, s)
	g.write(toks[2])
	if ans := g.read(); !strings.Contains(ans, `"valid":true`) {
		t.Fatalf("answer: %q", ans)
	}
	cancel()
	select {
	case <-g.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the gate did not end with its context")
	}
	if g.err != nil || g.sum.Valid != 1 {
		t.Fatalf("gate ended by its context: %v %v", g.sum, g.err)
	}
}

// TestGateFollow follows a growing file as tail -f does.
func TestGateFollow(t *testing.T) {
	e := newEnv(t)
	toks := e.tokens(4)
	name := filepath.Join(t.TempDir(), "scans.log")
	os.WriteFile(name, []byte(toks[0]+"\n"), 0o600)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	f, err := Follow(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := e.scanner(e.config())
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := s.Gate(ctx, f, outW)
		outW.Close()
		done <- err
	}()
	answers := bufio.NewReader(outR)
	read := func(want string) {
		t.Helper()
		ans, err := readAnswer(answers)
		if err != nil || !strings.HasPrefix(ans, want) {
			t.Fatalf("answer %q %v, want %q", ans, err, want)
		}
	}
	read("line 1: VALID")
	w, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// A line written in two parts is one token.
	half := len(toks[1]) / 2
	w.WriteString(toks[1][:half])
	time.Sleep(3 * FollowPoll)
	w.WriteString(toks[1][half:] + "\n" + toks[0] + "\n")
	read("line 2: VALID")
	read("line 3: REFUSED: already used")
	// Truncated and written again from the top.
	os.Truncate(name, 0)
	time.Sleep(3 * FollowPoll)
	os.WriteFile(name, []byte(toks[2]+"\n"), 0o600)
	read("line 4: VALID")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("gate: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the gate did not end with its context")
	}
	if _, err := Follow(ctx, filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("Follow of a missing file")
	}
}
