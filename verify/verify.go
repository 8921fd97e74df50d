package verify

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/statustoken/statustoken/internal/format"
	"github.com/statustoken/statustoken/internal/keyset"
	"github.com/statustoken/statustoken/token"
)

// Errors of verification, each for a case a scanner handles in its own
// way. A token that is not one canonical v1 encoding is refused with an
// error wrapping [token.ErrMalformed] (show "not a token"; ask for a new
// scan).
var (
	// ErrExpired: the token's expiry has passed. Show the expiry; the
	// holder needs a fresh token.
	ErrExpired = errors.New("verify: token expired")
	// ErrNotYetValid: the token's key epoch has not started. The holder's
	// token is from the future: check the scanner's clock.
	ErrNotYetValid = errors.New("verify: token not yet valid")
	// ErrTooFarAhead: the token's expiry lies further ahead than the
	// directory's maximum lifetime: check the scanner's clock.
	ErrTooFarAhead = errors.New("verify: token expiry beyond the maximum lifetime")
	// ErrUnknownKey: no key in the directory has the token's key ID. The
	// scanner's directory may be outdated: update it, then scan again.
	ErrUnknownKey = errors.New("verify: unknown key")
	// ErrKeyMismatch: the token's suite, status or expiry differ from its
	// key's directory entry, or its expiry is not at an epoch boundary:
	// the token is forged.
	ErrKeyMismatch = errors.New("verify: token fields do not match its key")
	// ErrInvalidSignature: the signature does not verify: the token is
	// forged or damaged. Every cryptographic failure returns this one
	// error.
	ErrInvalidSignature = errors.New("verify: invalid signature")
	// ErrReplayed: the token's nonce was already spent: the token was
	// shown before.
	ErrReplayed = errors.New("verify: token already used")
	// ErrBatch is returned by batch verification when at least one token
	// is invalid; the per-token errors say which and why.
	ErrBatch = errors.New("verify: invalid tokens in batch")
	// ErrRandomness: batch verification could not read the system's
	// random source; no token of the batch was accepted. Retry, or
	// verify the tokens one at a time.
	ErrRandomness = errors.New("verify: random source failed")
)

// DefaultSkew is the clock skew tolerated when Options.Skew is zero.
const DefaultSkew = 5 * time.Minute

// edParallelMin is the number of tokens per goroutine from which a
// batch's Ed25519 tokens are split into sub-batches verified in parallel.
// Below it, the cost of starting goroutines and the lower efficiency of
// smaller multi-scalar multiplications outweigh the gain
// (BenchmarkVerifyBatch with -cpu 1,2).
const edParallelMin = 256

// Options configure a Verifier. The zero value is ready to use.
type Options struct {
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
	// Skew is the clock difference tolerated at both ends of a token's
	// validity; DefaultSkew when zero, none when negative.
	Skew time.Duration
	// Accepted is what the scanner accepted before a restart, from
	// Verifier.Accepted (persisted with its MarshalText and read back
	// with token.ParseAccepted): every directory must extend it
	// (token.Open). The zero value accepts any first directory.
	Accepted token.Accepted
	// Workers bounds the goroutines that verify a batch: its rsabssa
	// tokens, and its Ed25519 tokens once there are enough for each
	// goroutine to take a sub-batch of 256 or more. GOMAXPROCS when zero;
	// 1 keeps every batch on the calling goroutine.
	Workers int
	// Spent, when set, records every valid token's nonce and refuses a
	// token seen before with ErrReplayed.
	Spent SpentStore
	// SpentTimeout, when positive, bounds the time spent on the store:
	// per call of Verify or VerifyText, and for all the store calls of one
	// batch together (one deadline, started once the batch's signatures
	// are checked). A store that hangs then costs a batch one timeout.
	SpentTimeout time.Duration
	// SpentFailOpen accepts a valid token when Spent reports an error
	// wrapping ErrStoreUnavailable (or the context ends before the store
	// answers), and says so in Result.Replay. By default such a token is
	// refused with that error (fail closed), and a Spent that is a
	// SpentReleaser is told to take the spend back. Any other store error is
	// always refused, and a token repeated within one batch is always
	// refused as ErrReplayed.
	SpentFailOpen bool
}

// Verifier verifies tokens against one signed key directory, offline: it
// performs no I/O of its own. It is safe for concurrent use.
type Verifier struct {
	trust *token.Trust
	acc   token.Accepted
	dir   *token.Directory
	keys  *keyset.Set
	opts  Options
	skew  int64

	// parallelMin replaces edParallelMin when nonzero; set by this
	// package's tests to exercise parallel sub-batches on small batches.
	parallelMin int
}

// New builds a Verifier from a published directory and the pinned trust
// policy, which the Verifier keeps for every later Update. It checks, in
// the order of token/SPEC.md, "Loading a directory", the root signature
// and every directory rule, the proof that the directory is in the log
// under a checkpoint cosigned by a quorum of the pinned witnesses within
// the policy's freshness bound (at Options.Now), as the newest record of
// that checkpoint, extending Options.Accepted (token.Open); then it
// prepares every key for verification. The proof is checked only here
// and in Update, never per token: tokens are verified offline against the
// directory. Its freshness is checked at load time, also when a scanner
// reloads a directory it saved: a scanner must fetch a fresh proof at
// least once per the policy's max-age. It panics if trust was not made
// by token.ParseTrust.
func New(p token.Published, trust *token.Trust, opts *Options) (*Verifier, error) {
	v := &Verifier{trust: trust}
	if opts != nil {
		v.opts = *opts
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
	if err := v.load(p, v.opts.Accepted); err != nil {
		return nil, err
	}
	return v, nil
}

// load checks and prepares a directory that extends prev.
func (v *Verifier) load(p token.Published, prev token.Accepted) error {
	d, acc, err := token.Open(p, v.trust, prev, time.Unix(v.now(), 0))
	if err != nil {
		return err
	}
	if v.keys, err = keyset.New(d); err != nil {
		return err
	}
	v.dir, v.acc = d, acc
	return nil
}

// Update returns a Verifier for a newer published directory, checked as
// New checks it, under the trust policy given to New and with the same
// options. The new serial must be higher, or equal with identical bytes
// (token.ErrRollback), and the new checkpoint must extend the current one
// (token.ErrInconsistent). v itself is unchanged and stays usable.
func (v *Verifier) Update(p token.Published) (*Verifier, error) {
	v.check()
	nv := &Verifier{trust: v.trust, opts: v.opts, skew: v.skew, parallelMin: v.parallelMin}
	if err := nv.load(p, v.acc); err != nil {
		return nil, err
	}
	return nv, nil
}

// Accepted returns what the verifier has accepted: its directory's
// serial and SHA-256, the status names and its log checkpoint, to
// persist and pass as Options.Accepted after a restart.
func (v *Verifier) Accepted() token.Accepted {
	v.check()
	return v.acc
}

// check panics for a Verifier not made by New, which is a programming
// error.
func (v *Verifier) check() {
	if v == nil || v.dir == nil {
		panic("verify: Verifier not made by New")
	}
}

// Directory returns a deep copy of the verifier's directory.
func (v *Verifier) Directory() *token.Directory {
	v.check()
	return v.dir.Clone()
}

// Replay says how a valid token was checked against earlier use.
type Replay uint8

const (
	// ReplayNotChecked: the Verifier has no spent-token store.
	ReplayNotChecked Replay = iota
	// ReplayChecked: the spent-token store recorded the token as used.
	ReplayChecked
	// ReplayStoreDown: the store could not be reached and
	// Options.SpentFailOpen accepted the token; within a batch, a
	// repeated token was still refused.
	ReplayStoreDown
)

// String returns "not-checked", "checked" or "store-down".
func (r Replay) String() string {
	switch r {
	case ReplayNotChecked:
		return "not-checked"
	case ReplayChecked:
		return "checked"
	case ReplayStoreDown:
		return "store-down"
	}
	return fmt.Sprintf("Replay(%d)", uint8(r))
}

// Result describes a valid token.
type Result struct {
	Suite  token.Suite
	Status token.Status
	// StatusName is the directory's name for Status.
	StatusName string
	Expiry     time.Time
	KeyID      token.KeyID
	// Replay says whether and how the token was checked against replay.
	Replay Replay
}

func (v *Verifier) now() int64 {
	if v != nil && v.opts.Now != nil {
		return v.opts.Now().Unix()
	}
	return time.Now().Unix()
}

// scratch holds the buffers of one single verification. Signature
// verification retains no reference to them, but escape analysis cannot
// tell, so they come from a pool.
type scratch struct {
	msg [format.MessageSize]byte
	raw [format.MaxTokenSize]byte
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// Verify checks one binary token: its encoding, its key in the directory,
// that its status and expiry equal the key's, the time window, and its
// signature (token/SPEC.md, "Verification"). With Options.Spent set it
// also records the token as used, passing ctx to the store. Every failure
// is one of the package's errors. raw is at most
// token.MaxSize bytes: anything longer is refused as malformed without
// being read.
func (v *Verifier) Verify(ctx context.Context, raw []byte) (Result, error) {
	v.check()
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	return v.verify(ctx, s, raw)
}

// VerifyText checks a token in its QR text form (token.ParseText), at
// most token.MaxTextSize characters, as Verify does. It decodes the text
// once, into a buffer it reuses.
func (v *Verifier) VerifyText(ctx context.Context, text string) (Result, error) {
	v.check()
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	raw, err := format.DecodeText(&s.raw, text)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %v", token.ErrMalformed, err)
	}
	return v.verify(ctx, s, raw)
}

func (v *Verifier) verify(ctx context.Context, s *scratch, raw []byte) (Result, error) {
	t, k, err := v.precheck(raw, v.now())
	if err != nil {
		return Result{}, err
	}
	if !k.VerifySignature(format.AppendMessage(s.msg[:0], raw), t.Signature) {
		return Result{}, ErrInvalidSignature
	}
	r := v.result(k)
	if v.opts.Spent != nil {
		ctx, cancel := v.spendContext(ctx)
		defer cancel()
		if err := v.spend(ctx, k, t.Nonce, &r); err != nil {
			return Result{}, err
		}
	}
	return r, nil
}

// spendContext returns the context of store calls: ctx, with the
// Options.SpentTimeout deadline if one is set.
func (v *Verifier) spendContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	if v.opts.SpentTimeout > 0 {
		return context.WithTimeout(ctx, v.opts.SpentTimeout)
	}
	return ctx, func() {}
}

// ended reports whether ctx is done or its deadline has passed: a
// network store may report a timeout just before ctx.Err is set.
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

func (v *Verifier) result(k *keyset.Key) Result {
	name, _ := v.dir.StatusName(k.Status)
	return Result{
		Suite:      k.Suite,
		Status:     k.Status,
		StatusName: name,
		Expiry:     k.ExpiryTime(),
		KeyID:      k.ID,
	}
}

// precheck parses raw and runs every check but the signature and the
// spent store, in the order of token/SPEC.md, "Verification". It returns
// the parsed token, whose Signature aliases raw (verification needs no
// token.Token), and its key if every check passes.
func (v *Verifier) precheck(raw []byte, now int64) (t format.Token, k *keyset.Key, err error) {
	t, err = format.ParseToken(raw)
	if err != nil {
		return t, nil, fmt.Errorf("%w: %v", token.ErrMalformed, err)
	}
	exp := int64(t.Expiry)
	switch {
	case exp+v.skew <= now:
		return t, nil, ErrExpired
	case exp > now+int64(v.dir.MaxLifetime)+v.skew:
		return t, nil, ErrTooFarAhead
	case t.Expiry%v.dir.EpochLength != 0:
		return t, nil, ErrKeyMismatch
	}
	k = v.keys.Lookup(t.KeyID)
	if k == nil {
		return t, nil, ErrUnknownKey
	}
	if !k.MatchesParsed(&t) {
		return t, nil, ErrKeyMismatch
	}
	if now+v.skew < int64(k.NotBefore) {
		return t, nil, ErrNotYetValid
	}
	return t, k, nil
}

// spend records a verified token in the spent store, until its key's
// epoch ends plus the tolerated skew.
func (v *Verifier) spend(ctx context.Context, k *keyset.Key, nonce token.Nonce, r *Result) error {
	if v.opts.Spent == nil {
		return nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	var err error
	if ended(ctx) {
		// The store is not asked once the context has ended: a batch
		// whose deadline passed costs no further store calls.
		err = fmt.Errorf("%w: %w", ErrStoreUnavailable, context.DeadlineExceeded)
		if cerr := ctx.Err(); cerr != nil {
			err = fmt.Errorf("%w: %w", ErrStoreUnavailable, cerr)
		}
	} else {
		until := time.Unix(int64(k.Expiry)+v.skew, 0)
		err = v.opts.Spent.Spend(ctx, k.ID, nonce, until)
		if err != nil && !errors.Is(err, ErrStoreUnavailable) && !errors.Is(err, ErrReplayed) && ended(ctx) {
			err = fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
		}
		if r, ok := v.opts.Spent.(SpentReleaser); ok && !v.opts.SpentFailOpen && errors.Is(err, ErrStoreUnavailable) {
			// Refused: a spend that landed all the same must not count.
			r.Release(k.ID, nonce)
		}
	}
	switch {
	case err == nil:
		r.Replay = ReplayChecked
		return nil
	case errors.Is(err, ErrReplayed):
		return ErrReplayed
	case v.opts.SpentFailOpen && errors.Is(err, ErrStoreUnavailable):
		r.Replay = ReplayStoreDown
		return nil
	}
	return err
}
