package verify

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/statustoken/statustoken/internal/keyset"
	"github.com/statustoken/statustoken/token"
)

var (
	// ErrMalformed wraps token.ErrMalformed: the bytes are not a v1 token.
	ErrMalformed = token.ErrMalformed
	// ErrExpired: the token's expiry has passed.
	ErrExpired = errors.New("verify: token expired")
	// ErrNotYetValid: the token's key epoch has not started.
	ErrNotYetValid = errors.New("verify: token not yet valid")
	// ErrTooFarAhead: the token's expiry lies further ahead than the
	// directory's maximum lifetime.
	ErrTooFarAhead = errors.New("verify: token expiry beyond the maximum lifetime")
	// ErrUnknownKey: no key in the directory has the token's key ID.
	ErrUnknownKey = errors.New("verify: unknown key")
	// ErrKeyMismatch: the token's suite, status or expiry differ from its
	// key's directory entry, or its expiry is not at an epoch boundary.
	ErrKeyMismatch = errors.New("verify: token fields do not match its key")
	// ErrInvalidSignature: the signature does not verify. Every
	// cryptographic failure returns this one error.
	ErrInvalidSignature = errors.New("verify: invalid signature")
	// ErrReplayed: the token's nonce was already spent.
	ErrReplayed = errors.New("verify: token already used")
	// ErrRollback: a directory's serial number is lower than one already
	// accepted, or equal with different contents.
	ErrRollback = errors.New("verify: directory serial rollback")
	// ErrBatch is returned by batch verification when at least one token
	// is invalid; the per-token errors say which and why.
	ErrBatch = errors.New("verify: invalid tokens in batch")
)

// DefaultSkew is the clock skew tolerated when Options.Skew is zero.
const DefaultSkew = 5 * time.Minute

// Options configure a Verifier. The zero value is ready to use.
type Options struct {
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
	// Skew is the clock difference tolerated at both ends of a token's
	// validity; DefaultSkew when zero, none when negative.
	Skew time.Duration
	// MinSerial refuses directories with a lower serial number: set it to
	// the highest serial the scanner has seen.
	MinSerial uint64
	// Rand supplies batch verification coefficients; crypto/rand when nil.
	// Only tests set it.
	Rand io.Reader
	// Workers bounds the goroutines that verify a batch: its rsabssa
	// tokens, and its Ed25519 tokens once there are enough for each
	// goroutine to take a sub-batch of 256 or more. GOMAXPROCS when zero;
	// 1 keeps every batch on the calling goroutine.
	Workers int
	// Spent, when set, records every valid token's nonce and refuses a
	// token seen before with ErrReplayed.
	Spent SpentStore
	// SpentFailOpen accepts a valid token when Spent reports an error
	// wrapping ErrStoreUnavailable, and says so in Result.ReplayUnchecked.
	// By default such a token is refused with that error (fail closed).
	// Any other store error is always refused.
	SpentFailOpen bool
}

// Verifier verifies tokens against one signed key directory, offline: it
// performs no I/O of its own. It is safe for concurrent use.
type Verifier struct {
	dir  *token.Directory
	raw  []byte
	keys *keyset.Set
	opts Options
	skew int64
}

// New builds a Verifier from directory bytes, their detached signature and
// the pinned root public key. It checks the signature and every directory
// rule once (token.OpenDirectory), and prepares every key for verification.
// A directory is at most token.MaxDirectorySize bytes.
func New(directory, signature []byte, root ed25519.PublicKey, opts *Options) (*Verifier, error) {
	d, err := token.OpenDirectory(directory, signature, root)
	if err != nil {
		return nil, err
	}
	v := &Verifier{dir: d, raw: append([]byte(nil), directory...)}
	if opts != nil {
		v.opts = *opts
	}
	if d.Serial < v.opts.MinSerial {
		return nil, fmt.Errorf("%w: serial %d below %d", ErrRollback, d.Serial, v.opts.MinSerial)
	}
	if v.keys, err = keyset.New(d); err != nil {
		return nil, err
	}
	switch {
	case v.opts.Skew == 0:
		v.skew = int64(DefaultSkew / time.Second)
	case v.opts.Skew > 0:
		v.skew = int64(v.opts.Skew / time.Second)
	}
	if v.opts.Workers <= 0 {
		v.opts.Workers = runtime.GOMAXPROCS(0)
	}
	return v, nil
}

// Update returns a Verifier for a newer directory under the same root key
// and options. The new serial must be higher, or equal with identical bytes.
// A zero Verifier has accepted no directory: Update is then New with its
// options.
func (v *Verifier) Update(directory, signature []byte, root ed25519.PublicKey) (*Verifier, error) {
	if v == nil {
		return New(directory, signature, root, nil)
	}
	if v.dir == nil {
		opts := v.opts
		return New(directory, signature, root, &opts)
	}
	opts := v.opts
	opts.MinSerial = v.dir.Serial
	nv, err := New(directory, signature, root, &opts)
	if err != nil {
		return nil, err
	}
	if nv.dir.Serial == v.dir.Serial && string(nv.raw) != string(v.raw) {
		return nil, fmt.Errorf("%w: two different directories with serial %d", ErrRollback, v.dir.Serial)
	}
	return nv, nil
}

// Directory returns a copy of the verifier's directory, or nil for a zero
// Verifier.
func (v *Verifier) Directory() *token.Directory {
	if v == nil || v.dir == nil {
		return nil
	}
	d := *v.dir
	d.Statuses = append([]token.StatusName(nil), d.Statuses...)
	d.Keys = append([]token.Key(nil), d.Keys...)
	return &d
}

// Result describes a valid token.
type Result struct {
	Suite  token.Suite
	Status token.Status
	// StatusName is the directory's name for Status.
	StatusName string
	Expiry     time.Time
	KeyID      token.KeyID
	// ReplayUnchecked is set when the spent-token store could not be
	// reached and Options.SpentFailOpen accepted the token regardless.
	ReplayUnchecked bool
}

func (v *Verifier) now() int64 {
	if v != nil && v.opts.Now != nil {
		return v.opts.Now().Unix()
	}
	return time.Now().Unix()
}

// Verify checks one binary token: its encoding, its key in the directory,
// that its status and expiry equal the key's, the time window, and its
// signature (SPEC.md, "Verification"). With Options.Spent set it also
// records the token as used. Every failure is one of the package's errors;
// a zero Verifier knows no key, and refuses every well-formed token with
// ErrUnknownKey. raw is at most token.MaxSize bytes: anything longer is
// refused as malformed without being read.
func (v *Verifier) Verify(raw []byte) (Result, error) {
	// The message buffer comes from a pool: signature verification
	// retains no reference to it, but escape analysis cannot tell.
	buf := msgPool.Get().(*[token.MessageSize]byte)
	defer msgPool.Put(buf)
	msg, t, k, err := v.precheck(buf[:], raw, v.now())
	if err != nil {
		return Result{}, err
	}
	if !k.VerifySignature(msg, t.Signature) {
		return Result{}, ErrInvalidSignature
	}
	r := v.result(k)
	if err := v.spend(k, t.Nonce, &r); err != nil {
		return Result{}, err
	}
	return r, nil
}

var msgPool = sync.Pool{New: func() any { return new([token.MessageSize]byte) }}

// VerifyText checks a token in its QR text form (token.ParseText), at
// most token.MaxTextSize characters.
func (v *Verifier) VerifyText(s string) (Result, error) {
	t, err := token.ParseText(s)
	if err != nil {
		return Result{}, err
	}
	raw, err := t.Marshal()
	if err != nil {
		return Result{}, err
	}
	return v.Verify(raw)
}

func (v *Verifier) result(k *keyset.Key) Result {
	name, _ := v.dir.StatusName(k.Status)
	return Result{
		Suite:      k.Suite,
		Status:     k.Status,
		StatusName: name,
		Expiry:     time.Unix(int64(k.Expiry), 0).UTC(),
		KeyID:      k.ID,
	}
}

// precheck runs every check but the signature and the spent store, in the
// order of SPEC.md, "Verification".
func (v *Verifier) precheck(buf, raw []byte, now int64) ([]byte, token.Token, *keyset.Key, error) {
	msg, t, err := token.MessageOf(buf, raw)
	if err != nil {
		return nil, t, nil, err
	}
	if v == nil || v.dir == nil {
		return nil, t, nil, ErrUnknownKey
	}
	exp := int64(t.Expiry)
	switch {
	case exp+v.skew <= now:
		return nil, t, nil, ErrExpired
	case exp > now+int64(v.dir.MaxLifetime)+v.skew:
		return nil, t, nil, ErrTooFarAhead
	case t.Expiry%v.dir.EpochLength != 0:
		return nil, t, nil, ErrKeyMismatch
	}
	k := v.keys.Lookup(t.KeyID)
	if k == nil {
		return nil, t, nil, ErrUnknownKey
	}
	if !k.Matches(&t) {
		return nil, t, nil, ErrKeyMismatch
	}
	if now+v.skew < int64(k.NotBefore) {
		return nil, t, nil, ErrNotYetValid
	}
	return msg, t, k, nil
}

// spend records a verified token in the spent store, until its key's
// epoch ends plus the tolerated skew.
func (v *Verifier) spend(k *keyset.Key, nonce token.Nonce, r *Result) error {
	if v.opts.Spent == nil {
		return nil
	}
	until := time.Unix(int64(k.Expiry)+v.skew, 0)
	err := v.opts.Spent.Spend(k.ID, nonce, until)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrReplayed):
		return ErrReplayed
	case v.opts.SpentFailOpen && errors.Is(err, ErrStoreUnavailable):
		r.ReplayUnchecked = true
		return nil
	}
	return err
}
