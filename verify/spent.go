package verify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/statustoken/statustoken/token"
)

var (
	// ErrStoreUnavailable is wrapped by spent-store errors that mean the
	// store could not be asked (a network store that is down, or a
	// context that ended first). Verifiers refuse the token unless
	// Options.SpentFailOpen is set; the scanner should say that the
	// replay check is down.
	ErrStoreUnavailable = errors.New("verify: spent-token store unavailable")
	// ErrStoreFull is returned by MemoryStore when it holds its limit of
	// live nonces. It never fails open: raise the limit or share a store.
	ErrStoreFull = errors.New("verify: spent-token store full")
)

// SpentStore remembers the nonces of tokens already accepted. Tokens are
// one-time: a scanner that keeps a store refuses a token presented twice.
// Implementations must be safe for concurrent use.
type SpentStore interface {
	// Spend records nonce under key id until the time until, after which
	// the token cannot verify anyway. It returns an error wrapping
	// ErrReplayed when the pair was already recorded, an error wrapping
	// ErrStoreUnavailable when the store cannot be reached, and any other
	// error to refuse the token. A store that does I/O must return when
	// ctx is done; the Verifier then treats the store as unavailable.
	Spend(ctx context.Context, id token.KeyID, nonce token.Nonce, until time.Time) error
}

// SpentReleaser is a SpentStore that can take back a spend whose answer
// was lost. A network store that times out may have recorded the token
// all the same; if the Verifier then refused the token (fail closed), the
// holder who shows it again, here or at another scanner, would be refused
// as replayed for a scan that let nobody in. So, when Spend returned an
// error wrapping ErrStoreUnavailable and the token was refused, the
// Verifier calls Release with the same key ID and nonce.
//
// Release must not block: the store removes its own record of that spend,
// if it made one, at once or once it answers again, and never a record
// that another scanner made. A store that tells its records apart (as the
// deploy example's Redis store does, with a random ID per spend) also
// recognises its own lost spend when the same token is spent again, and
// does not report it as replayed.
type SpentReleaser interface {
	SpentStore
	Release(id token.KeyID, nonce token.Nonce)
}

// MemoryStore is a SpentStore in memory, for one scanner. It groups nonces
// by the time they may be forgotten and drops whole groups once that time
// has passed, so memory is bounded by the tokens of live epochs, and by
// its limit: when full it refuses tokens with ErrStoreFull rather than
// growing. The zero MemoryStore is ready to use, with DefaultSpentLimit
// and time.Now.
type MemoryStore struct {
	mu     sync.Mutex
	limit  int
	count  int
	now    func() time.Time
	groups map[int64]map[spentKey]struct{}
}

type spentKey struct {
	id    token.KeyID
	nonce token.Nonce
}

// DefaultSpentLimit is the MemoryStore limit used when none is given.
const DefaultSpentLimit = 1 << 20

// NewMemoryStore returns a store holding at most limit nonces at a time
// (roughly limit*96 bytes); DefaultSpentLimit when limit <= 0. now is the
// clock; time.Now when nil.
func NewMemoryStore(limit int, now func() time.Time) *MemoryStore {
	if limit <= 0 {
		limit = DefaultSpentLimit
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{limit: limit, now: now, groups: make(map[int64]map[spentKey]struct{})}
}

// Spend implements SpentStore. It does no I/O and does not block, so it
// does not consult ctx.
func (m *MemoryStore) Spend(_ context.Context, id token.KeyID, nonce token.Nonce, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.now == nil {
		m.now = time.Now
	}
	if m.limit <= 0 {
		m.limit = DefaultSpentLimit
	}
	if m.groups == nil {
		m.groups = make(map[int64]map[spentKey]struct{})
	}
	now := m.now().Unix()
	u := until.Unix()
	for t, g := range m.groups {
		if t <= now {
			m.count -= len(g)
			delete(m.groups, t)
		}
	}
	if u <= now {
		// By this store's clock the token can no longer verify, but the
		// verifier's clock said it could: remember it for a while anyway.
		u = now + token.MinEpochLength
	}
	k := spentKey{id, nonce}
	// A nonce is looked up in every group, not only in that of its own
	// time: verifiers with other skews may share the store. The groups
	// are few (one per live epoch end and skew).
	for _, g := range m.groups {
		if _, seen := g[k]; seen {
			return ErrReplayed
		}
	}
	g := m.groups[u]
	if m.count >= m.limit {
		return fmt.Errorf("%w: %d nonces", ErrStoreFull, m.count)
	}
	if g == nil {
		g = make(map[spentKey]struct{})
		m.groups[u] = g
	}
	g[k] = struct{}{}
	m.count++
	return nil
}

// Len returns the number of nonces held.
func (m *MemoryStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.count
}
