// Package redisstore is a verify.SpentStore in Redis, for many scanners
// that share one venue: a token accepted at one entrance is refused as
// replayed at every other.
//
// Each accepted token becomes one key, "statustoken:spent:" followed by
// its key ID and nonce, set with SET NX and an absolute expiry (EXAT) at the
// end of the key's epoch plus the verifier's skew: after that the token
// cannot verify anyway. Its value is a scan ID: 128 random bits, new for
// every spend, that tell this spend from any other. Nothing else is
// stored: no time of use, no scanner, nothing about the holder.
//
// # Failure behaviour
//
// A Store never retries a command by itself. When Redis cannot be
// reached, does not answer within Options.Timeout or before the caller's
// context ends, is loading, or is a read-only replica, Spend returns an
// error wrapping verify.ErrStoreUnavailable, and the verifier refuses the
// token unless its Options.SpentFailOpen is set. Any other error reply
// from Redis (out of memory, authentication) refuses the token whatever
// the configuration.
//
// A spend whose answer was lost may have landed all the same. The Store
// remembers the scan IDs of such spends, until their tokens expire, so
// that they never count against the holder:
//
//   - the same token spent again at this Store (the holder scans again)
//     is accepted when Redis holds one of those IDs, and not reported as
//     replayed;
//   - Release (called by a verifier that refused the token, fail closed)
//     deletes the key if, and only if, it holds one of those IDs, in a
//     Lua script, at once or once Redis answers again: other scanners
//     then accept the token too.
//
// A Store remembers at most MaxLost lost spends. It forgets them when it
// is closed, unless the caller keeps those still to release (Lost) for the
// next Store (Restore), as the scanner of one run per scan does.
//
// # Security considerations
//
// Expiry is judged by the Redis server's clock: keep it synchronised with
// the scanners', or a key may vanish while a scanner still accepts its
// token. Redis without persistence forgets spent tokens when it restarts;
// size maxmemory for the tokens of one epoch (about 150 bytes each) with
// the noeviction policy, so that a full Redis refuses new tokens rather
// than forgetting spent ones.
package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

// DefaultPrefix starts every key the store writes when Options.Prefix is
// empty.
const DefaultPrefix = "statustoken:spent:"

// DefaultTimeout bounds one Spend when Options.Timeout is zero: a scanner
// at a gate should not wait longer for the store.
const DefaultTimeout = 500 * time.Millisecond

// Options configure a Store. The zero value is ready to use.
type Options struct {
	// Prefix starts every key; DefaultPrefix when empty. Scanners that
	// share a store must use the same prefix.
	Prefix string
	// Timeout bounds each Spend, connecting included, within whatever
	// deadline the caller's context sets; DefaultTimeout when zero.
	Timeout time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// MaxLost bounds the spends whose answer was lost that a Store remembers
// (about 150 bytes each).
const MaxLost = 1 << 16

// Store is a verify.SpentStore backed by Redis. It is safe for concurrent
// use.
type Store struct {
	c       redis.Cmdable
	closer  func() error
	where   string
	prefix  string
	timeout time.Duration
	now     func() time.Time

	mu sync.Mutex
	// lost holds, by Redis key, the spends whose answer was lost.
	lost map[string]*lostSpend
	// releasing is set while the goroutine that releases spends runs.
	releasing bool
	closed    chan struct{}
	wg        sync.WaitGroup
}

// lostSpend is a token whose spends' answers were lost: any of them may
// have landed.
type lostSpend struct {
	ids   []any // the scan IDs, as script arguments
	until time.Time
	// release: the verifier refused the token; delete its key.
	release bool
}

var _ verify.SpentReleaser = (*Store)(nil)

// Open returns a Store for the Redis server at addr, either host:port or a
// redis:// or rediss:// URL (which may carry a password and a database
// number). It does not connect until the first Spend. The client it creates
// never retries a command and gives up after Options.Timeout.
func Open(addr string, opts *Options) (*Store, error) {
	o := options(opts)
	var ro *redis.Options
	if strings.Contains(addr, "://") {
		var err error
		if ro, err = redis.ParseURL(addr); err != nil {
			return nil, &AddrError{Reason: fmt.Sprintf("bad Redis URL: %v", err)}
		}
	} else {
		if addr == "" || !strings.Contains(addr, ":") {
			return nil, &AddrError{Reason: fmt.Sprintf("Redis address %q: want host:port or a redis:// URL", addr)}
		}
		ro = &redis.Options{Addr: addr}
	}
	ro.MaxRetries = -1
	ro.DialerRetries = 1
	ro.DialTimeout = o.Timeout
	ro.ReadTimeout = o.Timeout
	ro.WriteTimeout = o.Timeout
	ro.PoolTimeout = o.Timeout
	ro.ContextTimeoutEnabled = true
	ro.DisableIdentity = true
	c := redis.NewClient(ro)
	s := newStore(c, o)
	s.closer = c.Close
	s.where = ro.Addr
	return s, nil
}

// New returns a Store that uses an existing client. The client must not
// retry commands (redis.Options.MaxRetries = -1): a retried SET NX whose
// first reply was lost reports a fresh token as replayed.
func New(c redis.Cmdable, opts *Options) *Store {
	s := newStore(c, options(opts))
	s.where = "redis"
	return s
}

func options(opts *Options) Options {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

func newStore(c redis.Cmdable, o Options) *Store {
	return &Store{c: c, prefix: o.Prefix, timeout: o.Timeout, now: o.Now,
		lost: make(map[string]*lostSpend), closed: make(chan struct{})}
}

// spendAgain records a token that this Store spent before without an
// answer: it succeeds (1) when the key is absent or holds one of the lost
// scan IDs, replacing it with the new one, and finds a replay (0) when it
// holds another scan's.
//
// KEYS[1] the token's key; ARGV[1] the new scan ID; ARGV[2] the expiry,
// Unix seconds; ARGV[3...] the lost scan IDs.
var spendAgain = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then
	local mine = false
	for i = 3, #ARGV do
		if v == ARGV[i] then mine = true end
	end
	if not mine then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'EXAT', ARGV[2])
return 1
`)

// release deletes a key that holds one of the scan IDs ARGV[1...].
var release = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
for i = 1, #ARGV do
	if v == ARGV[i] then return redis.call('DEL', KEYS[1]) end
end
return 0
`)

// newScanID returns 128 random bits, as text.
func newScanID() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Key returns the Redis key under which the store records a token.
func (s *Store) Key(id token.KeyID, nonce token.Nonce) string {
	var b strings.Builder
	b.Grow(len(s.prefix) + 16 + 1 + 43)
	b.WriteString(s.prefix)
	b.WriteString(id.String())
	b.WriteByte(':')
	b.WriteString(base64.RawURLEncoding.EncodeToString(nonce[:]))
	return b.String()
}

// Spend implements verify.SpentStore: it records the token with SET NX
// expiring at until, and reports a token already recorded as
// verify.ErrReplayed. It gives up when ctx is done or after the store's
// timeout, whichever comes first; an ended context, a timeout or a
// connection error is reported as verify.ErrStoreUnavailable.
func (s *Store) Spend(ctx context.Context, id token.KeyID, nonce token.Nonce, until time.Time) error {
	if !until.After(s.now()) {
		// The token can no longer verify; nothing to remember.
		return nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ended(ctx); err != nil {
		return &UnavailableError{Addr: s.where, Err: err}
	}
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	key, scan := s.Key(id, nonce), newScanID()
	// This spend takes over any lost one of the same token.
	s.mu.Lock()
	lost := s.lost[key]
	delete(s.lost, key)
	s.mu.Unlock()
	var err error
	if lost == nil {
		err = s.c.SetArgs(cctx, key, scan, redis.SetArgs{Mode: "NX", ExpireAt: until}).Err()
	} else {
		var n int64
		args := append([]any{scan, until.Unix()}, lost.ids...)
		n, err = spendAgain.Run(cctx, s.c, []string{key}, args...).Int64()
		if err == nil && n == 0 {
			err = redis.Nil
		}
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		// The spend may have landed: remember it, with the lost ones.
		var ids []any
		if lost != nil {
			ids = lost.ids
		}
		s.remember(key, &lostSpend{ids: append(ids, scan), until: until})
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, redis.Nil):
		return fmt.Errorf("%w (recorded in %s)", verify.ErrReplayed, s.where)
	case ended(ctx) != nil:
		// The caller's context ended first: say so, whatever the
		// client made of it (often a network timeout).
		if cerr := ended(ctx); !errors.Is(err, cerr) {
			return &UnavailableError{Addr: s.where, Err: fmt.Errorf("%w (%v)", cerr, err)}
		}
		return &UnavailableError{Addr: s.where, Err: err}
	case cctx.Err() != nil, unavailable(err):
		return &UnavailableError{Addr: s.where, Err: err}
	}
	return fmt.Errorf("redisstore: %s refused to record the token: %w", s.where, err)
}

// remember keeps a lost spend, unless MaxLost are kept that have not
// expired.
func (s *Store) remember(key string, l *lostSpend) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.lost) >= MaxLost {
		now := s.now()
		for k, o := range s.lost {
			if !o.until.After(now) {
				delete(s.lost, k)
			}
		}
		if len(s.lost) >= MaxLost {
			return
		}
	}
	s.lost[key] = l
}

// Release implements verify.SpentReleaser: if this Store spent the token
// without an answer, it deletes the token's key if the key holds one of
// its scan IDs for it, now or, while Redis does not answer, once it does
// (tried every Options.Timeout until the store is closed or the token
// expires). It does not block.
func (s *Store) Release(id token.KeyID, nonce token.Nonce) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lost[s.Key(id, nonce)]
	if l == nil {
		return
	}
	l.release = true
	select {
	case <-s.closed:
		return
	default:
	}
	if !s.releasing {
		s.releasing = true
		s.wg.Add(1)
		go s.releaseLoop()
	}
}

// LostSpend is a spend whose answer was lost and that the verifier
// refused, to be released, as Lost returns it and Restore takes it back:
// a scanner that runs once per scan keeps them from one run to the next.
type LostSpend struct {
	// Key is the token's Redis key.
	Key string `json:"key"`
	// IDs are the scan IDs of the token's lost spends.
	IDs []string `json:"ids"`
	// Until is when the token can no longer verify.
	Until time.Time `json:"until"`
}

// Lost returns the lost spends that the Store has still to release.
func (s *Store) Lost() []LostSpend {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []LostSpend
	now := s.now()
	for k, l := range s.lost {
		if !l.release || !l.until.After(now) {
			continue
		}
		ls := LostSpend{Key: k, Until: l.until}
		for _, id := range l.ids {
			ls.IDs = append(ls.IDs, id.(string))
		}
		out = append(out, ls)
	}
	return out
}

// Restore takes back lost spends that an earlier Store's Lost returned,
// and releases them as Release does: a spend of the same token first
// recognises them as its own. Those of other prefixes, without IDs, or
// expired are ignored.
func (s *Store) Restore(lost []LostSpend) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	added := false
	for _, ls := range lost {
		if !strings.HasPrefix(ls.Key, s.prefix) || len(ls.IDs) == 0 || !ls.Until.After(now) || len(s.lost) >= MaxLost {
			continue
		}
		l := s.lost[ls.Key]
		if l == nil {
			l = &lostSpend{until: ls.Until}
			s.lost[ls.Key] = l
		}
		for _, id := range ls.IDs {
			l.ids = append(l.ids, id)
		}
		l.release, added = true, true
	}
	select {
	case <-s.closed:
		return
	default:
	}
	if added && !s.releasing {
		s.releasing = true
		s.wg.Add(1)
		go s.releaseLoop()
	}
}

// releaseLoop releases the lost spends marked for it, trying again every
// timeout while Redis does not answer, until none is left or the store is
// closed.
func (s *Store) releaseLoop() {
	defer s.wg.Done()
	// Redis did not answer just now: the first try waits a timeout too.
	t := time.NewTimer(s.timeout)
	defer t.Stop()
	for {
		select {
		case <-s.closed:
			return
		case <-t.C:
		}
		if !s.releaseDue() {
			return
		}
		t.Reset(s.timeout)
	}
}

// releaseDue tries to release every lost spend marked for it, and reports
// whether some are left.
func (s *Store) releaseDue() bool {
	type job struct {
		key string
		l   *lostSpend
		ids []any
	}
	var jobs []job
	s.mu.Lock()
	now := s.now()
	for k, l := range s.lost {
		switch {
		case !l.until.After(now):
			delete(s.lost, k)
		case l.release:
			jobs = append(jobs, job{k, l, slices.Clone(l.ids)})
		}
	}
	if len(jobs) == 0 {
		s.releasing = false
	}
	s.mu.Unlock()
	if len(jobs) == 0 {
		return false
	}
	for _, j := range jobs {
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		err := release.Run(ctx, s.c, []string{j.key}, j.ids...).Err()
		cancel()
		if err != nil {
			// Down still: try them all again later.
			return true
		}
		s.mu.Lock()
		if s.lost[j.key] == j.l {
			// Not taken over by a new spend of the token meanwhile.
			delete(s.lost, j.key)
		}
		s.mu.Unlock()
	}
	return true
}

// ended returns ctx's error, or context.DeadlineExceeded once its deadline
// has passed: the client's network deadline, set from ctx's, may fire just
// before ctx itself reports that it is done.
func ended(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// unavailable reports whether err means that Redis could not be asked or
// cannot record anything right now, as opposed to an error reply that
// refuses this write (out of memory, authentication).
func unavailable(err error) bool {
	var re redis.Error
	if !errors.As(err, &re) {
		// Network errors, timeouts, a closed client or pool.
		return true
	}
	return redis.IsLoadingError(err) || redis.IsReadOnlyError(err) || redis.IsMasterDownError(err) ||
		redis.IsTryAgainError(err) || redis.IsClusterDownError(err)
}

// Ping checks that the server answers, within the store's timeout.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.c.Ping(ctx).Err(); err != nil {
		return &UnavailableError{Addr: s.where, Err: err}
	}
	return nil
}

// AddrError is the error of Open for an address it cannot use.
type AddrError struct {
	// Reason says what is wrong, without the password that a redis://
	// URL may carry.
	Reason string
}

func (e *AddrError) Error() string { return "redisstore: " + e.Reason }

// UnavailableError is the error of Spend and Ping when the store could
// not be asked, or cannot record anything right now (the caller's context
// ended, a timeout, a connection error, a read-only or loading server). It
// wraps verify.ErrStoreUnavailable and its cause.
type UnavailableError struct {
	// Addr names the store, as Store.Addr does.
	Addr string
	// Err is the cause: the context's error, or the client's.
	Err error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("%v: %s: %v", verify.ErrStoreUnavailable, e.Addr, e.Err)
}

func (e *UnavailableError) Unwrap() []error { return []error{verify.ErrStoreUnavailable, e.Err} }

// Addr returns the Redis server's host:port as Open was given it (without
// any password of a URL), or "redis" for a Store made by New: what the
// store's errors name it, for messages and logs.
func (s *Store) Addr() string { return s.where }

// Close stops releasing lost spends and closes the client that Open
// created (not a client given to New).
func (s *Store) Close() error {
	s.mu.Lock()
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	s.mu.Unlock()
	s.wg.Wait()
	if s.closer == nil {
		return nil
	}
	return s.closer()
}
