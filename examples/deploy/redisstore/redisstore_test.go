package redisstore_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/redistest"
	"github.com/statustoken/statustoken/examples/deploy/internal/witnesstest"
	"github.com/statustoken/statustoken/examples/deploy/redisstore"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

func open(t *testing.T, addr string) *redisstore.Store {
	t.Helper()
	s, err := redisstore.Open(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func randomNonce(t *testing.T) token.Nonce {
	var n token.Nonce
	rand.Read(n[:])
	return n
}

func TestSpendReplay(t *testing.T) {
	srv := redistest.Start(t)
	a, b := open(t, srv.Addr), open(t, srv.Addr)
	id := token.KeyID{1, 2, 3, 4, 5, 6, 7, 8}
	nonce := randomNonce(t)
	until := time.Now().Add(time.Hour)

	if err := a.Spend(t.Context(), id, nonce, until); err != nil {
		t.Fatalf("first spend: %v", err)
	}
	// The same token at a second scanner sharing the store.
	err := b.Spend(t.Context(), id, nonce, until)
	if !errors.Is(err, verify.ErrReplayed) {
		t.Fatalf("second spend at another scanner: %v, want ErrReplayed", err)
	}
	if errors.Is(err, verify.ErrStoreUnavailable) {
		t.Fatalf("replay reported as unavailable: %v", err)
	}
	// Another nonce under the same key, and the same nonce under another
	// key, are different tokens.
	if err := b.Spend(t.Context(), id, randomNonce(t), until); err != nil {
		t.Fatalf("other nonce: %v", err)
	}
	if err := b.Spend(t.Context(), token.KeyID{9}, nonce, until); err != nil {
		t.Fatalf("other key: %v", err)
	}
}

func TestSpendExpiry(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv.Addr)
	id := token.KeyID{7}
	nonce := randomNonce(t)
	until := time.Unix(time.Now().Add(2*time.Hour).Unix(), 0)
	if err := s.Spend(t.Context(), id, nonce, until); err != nil {
		t.Fatal(err)
	}
	reply, err := srv.Do("EXPIRETIME " + s.Key(id, nonce))
	if err != nil {
		t.Fatal(err)
	}
	if want := ":" + strconv.FormatInt(until.Unix(), 10); reply != want {
		t.Fatalf("EXPIRETIME = %q, want %q (the epoch's end)", reply, want)
	}

	// A token whose time has passed is not recorded at all.
	old := randomNonce(t)
	if err := s.Spend(t.Context(), id, old, time.Now().Add(-time.Second)); err != nil {
		t.Fatalf("expired spend: %v", err)
	}
	if reply, _ := srv.Do("EXISTS " + s.Key(id, old)); reply != ":0" {
		t.Fatalf("expired token was stored: EXISTS = %q", reply)
	}

	// A key with a short expiry disappears on time.
	short := randomNonce(t)
	if err := s.Spend(t.Context(), id, short, time.Now().Add(1100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if reply, _ := srv.Do("EXISTS " + s.Key(id, short)); reply != ":0" {
		t.Fatalf("key still present after its expiry: EXISTS = %q", reply)
	}
}

func TestKeyHoldsNothingElse(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv.Addr)
	id := token.KeyID{0xab, 0xcd}
	nonce := randomNonce(t)
	if err := s.Spend(t.Context(), id, nonce, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	key := s.Key(id, nonce)
	if !strings.HasPrefix(key, redisstore.DefaultPrefix+"abcd000000000000:") {
		t.Fatalf("key %q", key)
	}
	if reply, _ := srv.Do("DBSIZE"); reply != ":1" {
		t.Fatalf("DBSIZE = %q, want one key", reply)
	}
	// The value is the scan's random ID, 128 bits in base64url.
	if reply, _ := srv.Do("STRLEN " + key); reply != ":22" {
		t.Fatalf("STRLEN = %q, want a 22-character scan ID", reply)
	}
}

// TestConcurrentScanners spends one token from many goroutines on two
// clients at once: exactly one succeeds.
func TestConcurrentScanners(t *testing.T) {
	srv := redistest.Start(t)
	stores := []*redisstore.Store{open(t, srv.Addr), open(t, srv.Addr)}
	id := token.KeyID{3}
	nonce := randomNonce(t)
	until := time.Now().Add(time.Hour)
	var ok, replayed atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch err := stores[i%2].Spend(t.Context(), id, nonce, until); {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, verify.ErrReplayed):
				replayed.Add(1)
			default:
				t.Errorf("spend: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || replayed.Load() != 15 {
		t.Fatalf("%d accepted, %d replayed; want 1 and 15", ok.Load(), replayed.Load())
	}
}

func TestStoppedIsUnavailable(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv.Addr)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	start := time.Now()
	err := s.Spend(t.Context(), token.KeyID{1}, randomNonce(t), time.Now().Add(time.Hour))
	if !errors.Is(err, verify.ErrStoreUnavailable) {
		t.Fatalf("spend with Redis stopped: %v, want ErrStoreUnavailable", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("spend took %v with Redis stopped", d)
	}
	if err := s.Ping(context.Background()); !errors.Is(err, verify.ErrStoreUnavailable) {
		t.Fatalf("ping with Redis stopped: %v", err)
	}
}

// TestSilentServerTimesOut points the store at a listener that accepts
// connections and never answers.
func TestSilentServerTimesOut(t *testing.T) {
	s, err := redisstore.Open(redistest.Silent(t), &redisstore.Options{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	err = s.Spend(t.Context(), token.KeyID{1}, randomNonce(t), time.Now().Add(time.Hour))
	if !errors.Is(err, verify.ErrStoreUnavailable) {
		t.Fatalf("spend against a silent server: %v, want ErrStoreUnavailable", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("spend took %v, timeout was 200ms", d)
	}
}

// TestSpendHonoursContext checks that Spend gives up when the caller's
// context ends, before the store's own timeout, and does not ask Redis
// at all once it has ended.
func TestSpendHonoursContext(t *testing.T) {
	s, err := redisstore.Open(redistest.Silent(t), &redisstore.Options{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	until := time.Now().Add(time.Hour)

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = s.Spend(ctx, token.KeyID{1}, randomNonce(t), until)
	if !errors.Is(err, verify.ErrStoreUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("spend past the context's deadline: %v, want ErrStoreUnavailable and DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("spend took %v; the context's deadline was 200ms, the store's timeout a minute", d)
	}

	// A context that has already ended: the store is not asked.
	srv := redistest.Start(t)
	live := open(t, srv.Addr)
	done, cancel2 := context.WithCancel(t.Context())
	cancel2()
	nonce := randomNonce(t)
	err = live.Spend(done, token.KeyID{1}, nonce, until)
	if !errors.Is(err, verify.ErrStoreUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("spend with a cancelled context: %v, want ErrStoreUnavailable and Canceled", err)
	}
	if reply, _ := srv.Do("EXISTS " + live.Key(token.KeyID{1}, nonce)); reply != ":0" {
		t.Fatalf("token recorded under a cancelled context: EXISTS = %q", reply)
	}
	// The token was not recorded, so it is fresh under a live context.
	if err := live.Spend(t.Context(), token.KeyID{1}, nonce, until); err != nil {
		t.Fatalf("spend after the cancelled one: %v", err)
	}
}

func TestErrorReplies(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv.Addr)
	until := time.Now().Add(time.Hour)

	// A read-only replica cannot record anything: unavailable.
	if reply, err := srv.Do("REPLICAOF 127.0.0.1 1"); err != nil || reply != "+OK" {
		t.Fatalf("REPLICAOF: %q %v", reply, err)
	}
	err := s.Spend(t.Context(), token.KeyID{1}, randomNonce(t), until)
	if !errors.Is(err, verify.ErrStoreUnavailable) {
		t.Fatalf("spend on a read-only replica: %v, want ErrStoreUnavailable", err)
	}
	if reply, err := srv.Do("REPLICAOF NO ONE"); err != nil || reply != "+OK" {
		t.Fatalf("REPLICAOF NO ONE: %q %v", reply, err)
	}

	// A full Redis refuses the write: not unavailable, so never failed
	// open, and not a replay.
	for _, c := range []string{"CONFIG SET maxmemory-policy noeviction", "CONFIG SET maxmemory 1"} {
		if reply, err := srv.Do(c); err != nil || reply != "+OK" {
			t.Fatalf("%s: %q %v", c, reply, err)
		}
	}
	err = s.Spend(t.Context(), token.KeyID{1}, randomNonce(t), until)
	if err == nil || errors.Is(err, verify.ErrStoreUnavailable) || errors.Is(err, verify.ErrReplayed) {
		t.Fatalf("spend on a full Redis: %v, want a refusal", err)
	}
	if !strings.Contains(err.Error(), "OOM") {
		t.Fatalf("refusal does not quote Redis: %v", err)
	}
}

func TestOpenAddress(t *testing.T) {
	for _, bad := range []string{"", "localhost", "redis://[::1", "http://%zz"} {
		if _, err := redisstore.Open(bad, nil); err == nil {
			t.Errorf("Open(%q) accepted", bad)
		}
	}
	for _, good := range []string{"127.0.0.1:6379", "redis://127.0.0.1:6379/2", "rediss://user:pw@example.test:6380"} {
		s, err := redisstore.Open(good, nil)
		if err != nil {
			t.Errorf("Open(%q): %v", good, err)
			continue
		}
		s.Close()
	}
	// Addr names the server without the URL's password.
	for addr, want := range map[string]string{"127.0.0.1:6379": "127.0.0.1:6379", "rediss://user:pw@example.test:6380/1": "example.test:6380"} {
		s, err := redisstore.Open(addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Addr(); got != want {
			t.Errorf("Open(%q).Addr() = %q, want %q", addr, got, want)
		}
		s.Close()
	}
}

// TestVerifiersShareStore runs two verifiers, as two scanners at one
// venue, against one Redis, then stops Redis and checks that each fails
// closed or open as configured.
func TestVerifiersShareStore(t *testing.T) {
	srv := redistest.Start(t)
	now := time.Now()
	pub, root, _ := ed25519.GenerateKey(rand.Reader)
	seed := make([]byte, issue.SeedSize)
	rand.Read(seed)
	is, err := issue.NewIssuer(issue.Config{
		RootKey: root, Seed: seed, EpochLength: time.Hour,
		Statuses: []token.StatusName{{Code: 1, Name: "green"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	dir, sig, err := is.Directory(now, 1)
	if err != nil {
		t.Fatal(err)
	}
	toks, err := is.IssueEd25519(1, now, 3)
	if err != nil {
		t.Fatal(err)
	}
	raw := make([][]byte, len(toks))
	for i, tk := range toks {
		if raw[i], err = tk.MarshalBinary(); err != nil {
			t.Fatal(err)
		}
	}
	// The directory, logged and cosigned by two of three witnesses.
	log := witnesstest.NewEnv(pub)
	published, err := log.Publish(dir, sig, now)
	if err != nil {
		t.Fatal(err)
	}
	trust, err := token.ParseTrust(log.Policy(48 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	scanner := func(failOpen bool) *verify.Verifier {
		v, err := verify.New(published, trust, &verify.Options{Spent: open(t, srv.Addr), SpentFailOpen: failOpen})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	gateA, gateB := scanner(false), scanner(true)

	if res, err := gateA.Verify(t.Context(), raw[0]); err != nil || res.Replay != verify.ReplayChecked {
		t.Fatalf("first presentation: %v, replay check %v", err, res.Replay)
	}
	if _, err := gateB.Verify(t.Context(), raw[0]); !errors.Is(err, verify.ErrReplayed) {
		t.Fatalf("second presentation at another gate: %v, want ErrReplayed", err)
	}
	errs := make([]error, 2)
	results := make([]verify.Result, 2)
	if err := gateB.NewBatch().Verify(t.Context(), [][]byte{raw[1], raw[0]}, results, errs); err == nil ||
		errs[0] != nil || !errors.Is(errs[1], verify.ErrReplayed) {
		t.Fatalf("batch: %v %v", err, errs)
	}
	if results[0].Replay != verify.ReplayChecked {
		t.Fatalf("batch: valid token's replay check %v, want %v", results[0].Replay, verify.ReplayChecked)
	}

	srv.Stop()
	if _, err := gateA.Verify(t.Context(), raw[2]); !errors.Is(err, verify.ErrStoreUnavailable) {
		t.Fatalf("fail-closed gate with Redis stopped: %v, want ErrStoreUnavailable", err)
	}
	res, err := gateB.Verify(t.Context(), raw[2])
	if err != nil {
		t.Fatalf("fail-open gate with Redis stopped: %v", err)
	}
	if res.Replay != verify.ReplayStoreDown {
		t.Fatal("fail-open gate did not report that the replay check was skipped")
	}
}
