package scanner

import (
	"os"
	"path/filepath"
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

// TestRedisStoppedMidSpendOneRunPerScan: as TestRedisStoppedMidSpend, for
// a scanner that runs once per scan: the run that refused the token hands
// its lost spend over, through the file beside its spent-token file, and
// the next run accepts the token when the holder scans it again.
func TestRedisStoppedMidSpendOneRunPerScan(t *testing.T) {
	e := newEnv(t)
	srv := redistest.Start(t)
	pid := redisPID(t, srv.Addr)
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
	cfg := e.config()
	cfg.Redis, cfg.RedisTimeout, cfg.Single = srv.Addr, 300*time.Millisecond, true
	cfg.SpentFile = filepath.Join(t.TempDir(), "spent.tokens")
	tok := e.tokens(1)[0]

	first, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Redis stops between the connection's handshake and the spend.
	if err := first.redis.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	valid, out := scan(t, first, tok)
	first.Close()
	syscall.Kill(pid, syscall.SIGCONT)
	if reply, err := srv.Do("PING"); reply != "+PONG" {
		t.Fatalf("PING after SIGCONT: %q %v", reply, err)
	}
	if valid || !strings.Contains(out, "REFUSED: fail closed") {
		t.Fatalf("Redis stopped: %q", out)
	}
	parsed, err := token.ParseText(tok)
	if err != nil {
		t.Fatal(err)
	}
	// The spend landed once Redis resumed.
	if reply, _ := srv.Do("EXISTS " + first.redis.Key(parsed.KeyID, parsed.Nonce)); reply != ":1" {
		t.Fatalf("EXISTS = %q: the lost spend did not land", reply)
	}

	next := e.scanner(cfg)
	if valid, out := scan(t, next, tok); !valid || !strings.Contains(out, "replay check: spent-store") {
		t.Errorf("the next run, same token: %q", out)
	}
	next.Close()
	if _, err := os.Stat(cfg.SpentFile + ".lost"); err == nil {
		t.Errorf("lost spends left after the token was spent again")
	}
	if valid, out := scan(t, e.scanner(cfg), tok); valid || !strings.Contains(out, "REFUSED: already used") {
		t.Errorf("a third run: %q", out)
	}
}
