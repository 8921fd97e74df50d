package scanner

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/redistest"
)

// TestHungStore checks that a hung store (a listener that never answers,
// and a real redis-server stopped with SIGSTOP) costs a batch of 42
// tokens one timeout, not one per token, in batch and in gate mode;
// that the scanner warns that the store timed out; and that the tokens
// are refused, or accepted with -fail-open.
func TestHungStore(t *testing.T) {
	e := newEnv(t)
	const n, timeout = 42, 300 * time.Millisecond
	stores := map[string]string{"silent listener": redistest.Silent(t), "SIGSTOPped redis-server": stoppedRedis(t)}
	for name, addr := range stores {
		for _, mode := range []string{"batch", "gate"} {
			for _, failOpen := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/fail-open=%v", name, mode, failOpen), func(t *testing.T) {
					var logs logBuffer
					cfg := e.config()
					cfg.Redis, cfg.RedisTimeout, cfg.FailOpen, cfg.JSON, cfg.Logger = addr, timeout, failOpen, true, logs.logger()
					s := e.scanner(cfg)
					var sizes batchSizes
					s.onBatch = sizes.hook
					toks := e.tokens(n)
					input := strings.Join(toks, "\n") + "\n"
					var out bytes.Buffer
					start := time.Now()
					var err error
					if mode == "batch" {
						_, err = s.Batch(t.Context(), strings.NewReader(input), "test", &out)
					} else {
						_, err = s.Gate(t.Context(), strings.NewReader(input), &out)
					}
					elapsed := time.Since(start)
					if err != nil {
						t.Fatal(err)
					}
					batches := len(sizes.take())
					// One timeout per token would take n×300ms.
					if elapsed >= 3*timeout {
						t.Errorf("%d tokens in %d batches took %v against a hung store, timeout %v", n, batches, elapsed, timeout)
					}
					want := `"reason":"store_unavailable"`
					if failOpen {
						want = `"valid":true,"status":"green","status_code":1`
					}
					if got := strings.Count(out.String(), want); got != n {
						t.Errorf("%d of %d with %s:\n%s", got, n, want, out.String())
					}
					if failOpen && strings.Count(out.String(), `"replay_check":"this-scanner"`) != n {
						t.Errorf("fail open, not this-scanner:\n%s", out.String())
					}
					if !failOpen && !strings.Contains(out.String(), `"error":"fail closed: the spent-token store is unavailable (Redis at `+addr+`: no answer within 300ms); -fail-open would accept the token"`) {
						t.Errorf("fail closed, refusal:\n%s", out.String())
					}
					warn := "level=WARN msg=\"spent-token store timed out (Redis at " + addr + ": no answer within 300ms): "
					if got := strings.Count(logs.String(), warn); got != batches || got == 0 {
						t.Errorf("%d warnings for %d batches, want one each:\n%s", got, batches, logs.String())
					}
					if failOpen && !strings.Contains(logs.String(), "accepted with replay check this-scanner (-fail-open)") ||
						!failOpen && !strings.Contains(logs.String(), "refused (fail closed)") {
						t.Errorf("warning: %s", logs.String())
					}
				})
			}
		}
	}
}

// TestNeverTwice presents tokens twice within a batch and across
// batches, in every store mode, and checks that each is accepted at most
// once, with the replay check word of the mode.
func TestNeverTwice(t *testing.T) {
	e := newEnv(t)
	srv := redistest.Start(t)
	down := redistest.Start(t)
	down.Stop()
	for _, c := range []struct {
		name     string
		redis    string
		failOpen bool
		// accepted is the replay word of accepted tokens; none when
		// every token is refused.
		accepted string
	}{
		{"no store", "", false, ReplayThisScanner},
		{"redis up", srv.Addr, false, ReplaySpentStore},
		{"redis down, fail closed", down.Addr, false, ""},
		{"redis down, fail open", down.Addr, true, ReplayThisScanner},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, mode := range []string{"batch", "gate", "scan"} {
				cfg := e.config()
				cfg.Redis, cfg.FailOpen, cfg.JSON = c.redis, c.failOpen, true
				s := e.scanner(cfg)
				toks := e.tokens(3)
				a, b, d := toks[0], toks[1], toks[2]
				var outs []map[string]any
				present := func(lines ...string) {
					var out bytes.Buffer
					switch mode {
					case "batch":
						s.Batch(t.Context(), strings.NewReader(strings.Join(lines, "\n")), "test", &out)
					case "gate":
						s.Gate(t.Context(), strings.NewReader(strings.Join(lines, "\n")), &out)
					case "scan":
						for _, l := range lines {
							s.Scan(t.Context(), l, &out)
						}
					}
					outs = append(outs, jsonLines(t, out.String())...)
				}
				present(a, a, b)
				present(a, b, d)
				for _, j := range outs {
					if j["valid"] == true {
						if j["replay_check"] != c.accepted {
							t.Errorf("%s: accepted %v, want replay check %s", mode, j, c.accepted)
						}
					} else if r := j["reason"]; r != "replayed" && r != "store_unavailable" {
						t.Errorf("%s: refused for %v", mode, j)
					}
				}
				valid := []bool{}
				for _, j := range outs {
					valid = append(valid, j["valid"] == true)
				}
				want := "[true false true false false true]"
				if c.accepted == "" {
					want = "[false false false false false false]"
				}
				if got := fmt.Sprint(valid); got != want {
					t.Errorf("%s: accepted %s, want %s: %v", mode, got, want, outs)
				}
			}
		})
	}

	// Redis up, then down with -fail-open: the tokens accepted while it
	// was up are still refused.
	srv2 := redistest.Start(t)
	cfg := e.config()
	cfg.Redis, cfg.FailOpen = srv2.Addr, true
	s := e.scanner(cfg)
	toks := e.tokens(3)
	if _, out := batch(t, s, toks[0], toks[1]); strings.Count(out, "replay check: spent-store\n") != 2 {
		t.Fatalf("Redis up: %q", out)
	}
	srv2.Stop()
	_, out := batch(t, s, toks[2], toks[0], toks[1])
	if !strings.HasPrefix(out, "line 1: VALID: green") || !strings.Contains(out, "replay check: this-scanner (store unavailable; accepted by -fail-open)") ||
		strings.Count(out, "REFUSED: already used: this scanner saw this token before (replay check: this-scanner)") != 2 {
		t.Fatalf("Redis down after accepting: %q", out)
	}
	// And a single scan of the same process refuses them too.
	if valid, out := scan(t, s, toks[2]); valid || !strings.Contains(out, "already used") {
		t.Fatalf("scan after the batch: %q", out)
	}
}

// TestReplayWords checks the replay check words in text and JSON, for
// one token and for a batch, in each store mode.
func TestReplayWords(t *testing.T) {
	e := newEnv(t)
	srv := redistest.Start(t)
	down := redistest.Start(t)
	down.Stop()
	for _, c := range []struct {
		name           string
		redis          string
		single, batch  string // the word, for one token and for a batch
		singleT, batcT string // the text after "replay check: "
	}{
		{"no store", "", ReplayNotChecked, ReplayThisScanner,
			"not-checked (one token, no -redis: nothing to check)",
			"this-scanner (no -redis: a second use here is refused)"},
		{"redis", srv.Addr, ReplaySpentStore, ReplaySpentStore, "spent-store", "spent-store"},
		{"redis down, fail open", down.Addr, ReplayNotChecked, ReplayThisScanner,
			"not-checked (store unavailable; accepted by -fail-open)",
			"this-scanner (store unavailable; accepted by -fail-open)"},
	} {
		for _, json := range []bool{false, true} {
			for _, single := range []bool{true, false} {
				cfg := e.config()
				cfg.Redis, cfg.FailOpen, cfg.JSON, cfg.Single = c.redis, true, json, single
				s := e.scanner(cfg)
				tok := e.tokens(1)[0]
				var out string
				if single {
					_, out = scan(t, s, tok)
				} else {
					_, out = batch(t, s, tok)
				}
				word, text := c.batch, c.batcT
				if single {
					word, text = c.single, c.singleT
				}
				want := "; replay check: " + text + "\n"
				if json {
					want = `"replay_check":"` + word + `"`
				}
				if !strings.Contains(out, want) {
					t.Errorf("%s, json %v, single %v: %q, want %q", c.name, json, single, out, want)
				}
			}
		}
	}
}
