package scanner

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/redistest"
	"github.com/statustoken/statustoken/token"
)

// TestRedisStoppedMidSpend stops Redis (SIGSTOP) while a scanner spends
// two tokens: it refuses them (fail closed), and the spends land once
// Redis resumes (SIGCONT). Neither counts against the holder: the same
// scanner accepts the first token when it is shown again, and another
// scanner accepts the second once the first has released its spend.
func TestRedisStoppedMidSpend(t *testing.T) {
	e := newEnv(t)
	srv := redistest.Start(t)
	pid := redisPID(t, srv.Addr)
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
	cfg := e.config()
	cfg.Redis, cfg.RedisTimeout = srv.Addr, 300*time.Millisecond
	a, b := e.scanner(cfg), e.scanner(cfg)
	toks := e.tokens(2)
	// A gate's connection is open already: the spend is sent, and lands.
	if err := a.redis.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	_, out := batch(t, a, toks...)
	syscall.Kill(pid, syscall.SIGCONT)
	// Answered on a new connection: Redis has read what the scanner sent
	// while it was stopped, and the spends have landed.
	if reply, err := srv.Do("PING"); reply != "+PONG" {
		t.Fatalf("PING after SIGCONT: %q %v", reply, err)
	}
	if strings.Count(out, "REFUSED: fail closed: the spent-token store is unavailable") != 2 {
		t.Fatalf("Redis stopped: %q", out)
	}

	if _, out := batch(t, a, toks[0]); !strings.HasPrefix(out, "line 1: VALID: green") || !strings.Contains(out, "replay check: spent-store") {
		t.Errorf("shown again at the same scanner: %q", out)
	}
	second, err := token.ParseText(toks[1])
	if err != nil {
		t.Fatal(err)
	}
	key := a.redis.Key(second.KeyID, second.Nonce)
	for i := 0; ; i++ {
		if reply, _ := srv.Do("EXISTS " + key); reply == ":0" {
			break
		}
		if i == 500 {
			t.Fatalf("the refused token's spend was not released")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, out := batch(t, b, toks[1]); !strings.HasPrefix(out, "line 1: VALID: green") || !strings.Contains(out, "replay check: spent-store") {
		t.Errorf("at another scanner: %q", out)
	}
	if _, out := batch(t, b, toks[0]); !strings.Contains(out, "REFUSED: already used") {
		t.Errorf("the first token, accepted by the first scanner, at another: %q", out)
	}
}
