package redisstore_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/redistest"
	"github.com/statustoken/statustoken/examples/deploy/redisstore"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

// pauser stops and resumes a redis-server with SIGSTOP and SIGCONT.
type pauser struct {
	t   *testing.T
	srv *redistest.Server
	pid int
}

func newPauser(t *testing.T, srv *redistest.Server) *pauser {
	t.Helper()
	c, err := net.DialTimeout("tcp", srv.Addr, 2*time.Second)
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
			t.Fatalf("no process_id in INFO: %v", err)
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			pid, err := strconv.Atoi(v)
			if err != nil {
				t.Fatal(err)
			}
			p := &pauser{t, srv, pid}
			// Registered after redistest's own cleanup, so it runs first.
			t.Cleanup(p.resume)
			return p
		}
	}
}

func (p *pauser) stop() {
	if err := syscall.Kill(p.pid, syscall.SIGSTOP); err != nil {
		p.t.Fatal(err)
	}
}

// resume resumes the server and waits until it answers a new connection,
// by which time it has read what the earlier ones sent while it was
// stopped.
func (p *pauser) resume() {
	syscall.Kill(p.pid, syscall.SIGCONT)
	if reply, err := p.srv.Do("PING"); reply != "+PONG" {
		p.t.Fatalf("PING after SIGCONT: %q %v", reply, err)
	}
}

// waitExists waits until the key exists (want ":1") or not (":0").
func waitExists(t *testing.T, srv *redistest.Server, key, want string) {
	t.Helper()
	var reply string
	for range 500 {
		if reply, _ = srv.Do("EXISTS " + key); reply == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("EXISTS %s = %q, want %q", key, reply, want)
}

// TestLostSpend stops Redis while a spend is on its way: the spend
// times out (so the verifier refuses the token, fail closed) and lands
// once Redis resumes. The same token spent again at the same store is not
// a replay; released, it is accepted at another store; never released, it
// is refused there, since this store accepted it.
func TestLostSpend(t *testing.T) {
	srv := redistest.Start(t)
	p := newPauser(t, srv)
	a, err := redisstore.Open(srv.Addr, &redisstore.Options{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b := open(t, srv.Addr)
	if err := a.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	id, until := token.KeyID{7}, time.Now().Add(time.Hour)
	lostSpend := func(nonce token.Nonce) {
		t.Helper()
		p.stop()
		err := a.Spend(t.Context(), id, nonce, until)
		p.resume()
		if !errors.Is(err, verify.ErrStoreUnavailable) {
			t.Fatalf("spend with Redis stopped: %v", err)
		}
		// It landed all the same.
		waitExists(t, srv, a.Key(id, nonce), ":1")
	}

	// Scanned again at the same scanner: its own lost spend.
	again := randomNonce(t)
	lostSpend(again)
	if err := a.Spend(t.Context(), id, again, until); err != nil {
		t.Fatalf("the same token again at the same store: %v", err)
	}
	if err := b.Spend(t.Context(), id, again, until); !errors.Is(err, verify.ErrReplayed) {
		t.Fatalf("at another store after the same store accepted it: %v", err)
	}

	// Released once Redis answers: accepted at another scanner.
	released := randomNonce(t)
	lostSpend(released)
	a.Release(id, released)
	waitExists(t, srv, a.Key(id, released), ":0")
	if err := b.Spend(t.Context(), id, released, until); err != nil {
		t.Fatalf("at another store after the release: %v", err)
	}
	// A release never deletes another scan's record: b's stays.
	a.Release(id, released)
	if err := a.Spend(t.Context(), id, released, until); !errors.Is(err, verify.ErrReplayed) {
		t.Fatalf("at the first store after another accepted it: %v", err)
	}

	// Handed over to the Store of the next run, as a scanner of one run
	// per scan does: the same token is the new Store's own.
	handed := randomNonce(t)
	lostSpend(handed)
	a.Release(id, handed)
	lost := a.Lost()
	if len(lost) != 1 || lost[0].Key != a.Key(id, handed) || len(lost[0].IDs) != 1 {
		t.Fatalf("Lost: %+v", lost)
	}
	next := open(t, srv.Addr)
	next.Restore(lost)
	if err := next.Spend(t.Context(), id, handed, until); err != nil {
		t.Fatalf("the same token at the next run's store: %v", err)
	}
	if len(next.Lost()) != 0 {
		t.Fatalf("still to release after the token was spent again: %+v", next.Lost())
	}

	// Released while Redis is stopped: done once it answers again.
	late := randomNonce(t)
	p.stop()
	err = a.Spend(t.Context(), id, late, until)
	a.Release(id, late)
	time.Sleep(100 * time.Millisecond) // the first try hangs
	p.resume()
	if !errors.Is(err, verify.ErrStoreUnavailable) {
		t.Fatalf("spend with Redis stopped: %v", err)
	}
	waitExists(t, srv, a.Key(id, late), ":0")
	if err := b.Spend(t.Context(), id, late, until); err != nil {
		t.Fatalf("at another store after a release made once Redis resumed: %v", err)
	}
}
