package scanner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/directory"
	"github.com/statustoken/statustoken/examples/deploy/internal/files"
	"github.com/statustoken/statustoken/examples/deploy/redisstore"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

// The words of the replay check (see the package documentation).
const (
	ReplaySpentStore  = "spent-store"
	ReplayThisScanner = "this-scanner"
	ReplayNotChecked  = "not-checked"
)

// MaxInput bounds one token's input: the longest text form, with room for
// surrounding whitespace. Longer lines are refused as malformed.
const MaxInput = max(token.MaxTextSize, token.MaxBase64Size) + 64

// BatchSize is the most tokens verified together: a batch file is read
// in chunks of BatchSize lines, and a gate verifies at most BatchSize of
// the scans queued up.
const BatchSize = 1024

// GateBatchSize is the most tokens a gate verifies together. It is
// smaller than BatchSize so that a token arriving during a burst waits for
// a short batch: with a shared store each token costs one round trip.
const GateBatchSize = 256

// Config configures a Scanner.
type Config struct {
	// TrustFile is the pinned trust policy, the issuer's trust.txt.
	TrustFile string
	// DirectoryFile, SignatureFile and ProofFile are the directory files
	// that Update saves.
	DirectoryFile, SignatureFile, ProofFile string
	// AcceptedFile is the accepted state that Update saves with them
	// (UpdateConfig.AcceptedFile): the saved directory must be the one it
	// names, or a newer one. LegacyCheckpointFile is read as Update reads
	// it while AcceptedFile does not exist.
	AcceptedFile, LegacyCheckpointFile string
	// Redis is the shared spent-token store, host:port or a redis:// URL;
	// none when empty.
	Redis string
	// RedisPrefix starts the store's keys; redisstore.DefaultPrefix when
	// empty.
	RedisPrefix string
	// RedisTimeout bounds the time spent on Redis by one token, and by one
	// batch together; redisstore.DefaultTimeout when zero.
	RedisTimeout time.Duration
	// FailOpen accepts valid tokens when Redis is unreachable, with
	// replay check this-scanner. By default they are refused.
	FailOpen bool
	// Skew is the clock skew tolerated at both ends of a token's
	// validity; none when zero or negative.
	Skew time.Duration
	// JSON prints one JSON object per token (JSON Lines) instead of text.
	JSON bool
	// SpentFile is the local spent-token file, used when Redis is empty:
	// it remembers the tokens accepted across the scanner's restarts, for
	// every scanner process of the machine that uses it. None when empty.
	// With Redis, the spends whose answer was lost and that are still to
	// release when the scanner closes are kept for the next run in a file
	// named like it with ".lost" added.
	SpentFile string
	// Single says that the scanner verifies one token and exits: it keeps
	// no store in memory, and says not-checked when neither a shared
	// store nor a spent-token file checked the token.
	Single bool
	// SpentLimit bounds the tokens the local store remembers;
	// verify.DefaultSpentLimit when zero.
	SpentLimit int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger receives warnings (the store timed out) and debug lines (each
	// batch verified); slog.Default() when nil.
	Logger *slog.Logger
}

// Scanner verifies tokens against one saved directory. It is not safe
// for concurrent use.
type Scanner struct {
	cfg   Config
	v     *verify.Verifier
	batch *verify.Batch
	// redis is the shared store, nil without one; watch wraps it to
	// remember why it was unavailable.
	redis *redisstore.Store
	watch *watchedStore
	// local remembers every token this process accepted; nil for a
	// Single scanner, or with a spent-token file. Without Redis it is the
	// verifier's store; with Redis, tokens are recorded in it after the
	// batch.
	local *verify.MemoryStore
	// spent is the spent-token file, the verifier's store when there is
	// no Redis; nil without one.
	spent *spentFile
	skew  time.Duration // the effective skew
	// closed is set by Close.
	closed bool
	log    *slog.Logger

	// Buffers reused from batch to batch.
	texts   []string
	idx     []int
	results []verify.Result
	errs    []error

	// onBatch, when set (by tests), is called with the size of every
	// batch verified.
	onBatch func(n int)
}

// SetupError is an error in the scanner's configuration or files, as
// opposed to a refused token: the command exits with status 2.
type SetupError struct {
	msg string
	err error // the cause, if it is worth testing with errors.Is
}

func (e *SetupError) Error() string { return e.msg }

func (e *SetupError) Unwrap() error { return e.err }

func setupErr(format string, args ...any) error {
	return &SetupError{msg: fmt.Sprintf(format, args...)}
}

// New loads the trust policy and the saved directory files, checks the
// directory under the policy, and opens the shared store if one is
// configured (without connecting to it). Every error is a *SetupError.
func New(cfg Config) (*Scanner, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RedisTimeout <= 0 {
		cfg.RedisTimeout = redisstore.DefaultTimeout
	}
	if cfg.TrustFile == "" {
		return nil, setupErr("-trust is required: the issuer's trust policy file (trust.txt)")
	}
	trust, err := loadTrust(cfg.TrustFile)
	if err != nil {
		return nil, err
	}
	dirData, err := files.ReadLimited(cfg.DirectoryFile, token.MaxDirectorySize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, setupErr("no directory file %s: fetch one with \"scanner update -trust FILE -issuer URL\"", cfg.DirectoryFile)
	}
	if err != nil {
		return nil, setupErr("reading the directory: %v", err)
	}
	sig, err := files.ReadLimited(cfg.SignatureFile, token.DirectorySignatureSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, setupErr("no signature file %s: fetch the directory with \"scanner update -trust FILE -issuer URL\"", cfg.SignatureFile)
	}
	if err != nil {
		return nil, setupErr("reading the directory signature: %v", err)
	}
	proof, err := files.ReadLimited(cfg.ProofFile, token.MaxProofSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, setupErr("no proof file %s: fetch the directory with \"scanner update -trust FILE -issuer URL\"", cfg.ProofFile)
	}
	if err != nil {
		return nil, setupErr("reading the directory proof: %v", err)
	}
	pub := token.Published{Directory: dirData, Signature: sig, Proof: proof}
	// SPEC.md, "Files a scanner saves": the saved directory is loaded
	// with the saved accepted state, so that an older copy put in its
	// place is refused, as Update would refuse it.
	acc, err := loadAccepted(cfg.AcceptedFile, cfg.DirectoryFile, cfg.LegacyCheckpointFile, trust)
	if err != nil {
		return nil, err
	}

	s := &Scanner{cfg: cfg, log: cfg.Logger, skew: max(cfg.Skew, 0)}
	skew := cfg.Skew
	if skew <= 0 {
		// verify.Options reads zero as its default.
		skew = -1
	}
	opts := &verify.Options{Now: cfg.Now, Skew: skew, SpentFailOpen: cfg.FailOpen, Accepted: acc}
	switch {
	case cfg.Redis == "" && cfg.SpentFile != "":
		s.spent, err = openSpentFile(cfg.SpentFile, cfg.SpentLimit, cfg.Now)
		if err != nil {
			msg := fmt.Sprintf("-spent: %v", err)
			if !errors.Is(err, ErrSpentFileDamaged) {
				msg += ": give -spent FILE in a folder this scanner may write, or -redis"
			}
			return nil, &SetupError{msg: msg, err: err}
		}
		opts.Spent = s.spent
	case !cfg.Single:
		s.local = verify.NewMemoryStore(cfg.SpentLimit, cfg.Now)
		opts.Spent = s.local
	}
	if cfg.Redis != "" {
		s.redis, err = redisstore.Open(cfg.Redis, &redisstore.Options{Prefix: cfg.RedisPrefix, Timeout: cfg.RedisTimeout, Now: cfg.Now})
		var ae *redisstore.AddrError
		switch {
		case errors.As(err, &ae):
			return nil, setupErr("-redis: %s", ae.Reason)
		case err != nil:
			return nil, setupErr("-redis: %v", err)
		}
		s.watch = &watchedStore{s: s.redis}
		if cfg.SpentFile != "" {
			// The spends that an earlier run could not release.
			lost, err := takeLost(cfg.SpentFile)
			if err != nil {
				// Redis holds the spent tokens; this is only a courtesy.
				s.log.Warn(fmt.Sprintf("the spends an earlier run could not release are not released: %v", err))
			}
			s.redis.Restore(lost)
		}
		// One deadline for all the store calls of a batch: a hung store
		// costs a batch one timeout, not one per token.
		opts.Spent, opts.SpentTimeout = s.watch, cfg.RedisTimeout
	}
	s.v, err = verify.New(pub, trust, opts)
	if err != nil {
		s.Close()
		if err := olderThanAccepted(err, cfg.DirectoryFile, cfg.AcceptedFile); err != nil {
			return nil, err
		}
		return nil, explainLoad(err, trust, pub, "the saved directory", cfg.TrustFile, cfg.DirectoryFile)
	}
	s.batch = s.v.NewBatch()
	return s, nil
}

// Close closes the connection to the shared store, or the spent-token
// file.
func (s *Scanner) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.spent != nil {
		return s.spent.Close()
	}
	if s.redis != nil {
		err := s.redis.Close()
		if s.cfg.SpentFile != "" {
			// For the next run to release.
			if kerr := keepLost(s.cfg.SpentFile, s.redis.Lost()); err == nil {
				err = kerr
			}
		}
		return err
	}
	return nil
}

// Directory returns the directory the scanner verifies against.
func (s *Scanner) Directory() *token.Directory { return s.v.Directory() }

// loadTrust reads the trust policy. token.ParseTrust refuses a root key
// that cannot verify anything (all zeros, of small order, not canonical);
// a policy refused for its root line gets its own message, since the fix
// is a new trust.txt.
func loadTrust(name string) (*token.Trust, error) {
	trust, err := directory.LoadTrust(name)
	var le *token.LoadError
	switch {
	case errors.As(err, &le) && le.Keyword == "root":
		return nil, setupErr("the trust policy %s pins a root key that is not a valid Ed25519 public key "+
			"(malformed trust policy: %s): take trust.txt again from the issuer's operator", name, le.Detail)
	case err != nil:
		return nil, setupErr("%v", err)
	}
	return trust, nil
}

// olderThanAccepted explains a saved directory that does not extend the
// saved accepted state (an older copy put in place of the directory that
// Update saved last, or a file of another directory): nil for any other
// error.
func olderThanAccepted(err error, dirFile, accFile string) error {
	var le *token.LoadError
	if !errors.As(err, &le) {
		return nil
	}
	var what string
	switch {
	case le.Err == token.ErrRollback && le.Serial < le.AcceptedSerial:
		what = fmt.Sprintf("is serial %d, older than serial %d accepted before", le.Serial, le.AcceptedSerial)
	case le.Err == token.ErrRollback:
		what = fmt.Sprintf("is not the serial %d accepted before: same serial, other contents", le.Serial)
	case le.Err == token.ErrInconsistent:
		what = fmt.Sprintf("has a log proof older than the one accepted before (%s)", le.Detail)
	case le.Err == token.ErrStatusRenamed:
		what = fmt.Sprintf("renames a status accepted before (%s)", le.Detail)
	default:
		return nil
	}
	return &SetupError{msg: fmt.Sprintf("the saved directory %s %s (in %s): it is not the directory this scanner saved last; run \"scanner update\"", dirFile, what, accFile), err: err}
}

// explainLoad says why a directory was refused, in the scanner's words
// and from what the library's errors carry. what is "the saved directory"
// or "the issuer's directory".
func explainLoad(err error, trust *token.Trust, pub token.Published, what, trustFile, dirFile string) error {
	switch {
	case errors.Is(err, token.ErrDirectorySignature):
		msg := fmt.Sprintf("%s is not signed by the pinned root key in %s", what, trustFile)
		if what == "the saved directory" {
			msg += `: if that is the issuer's trust policy, fetch its directory again with "scanner update"`
		} else {
			msg += ": the issuer URL or the trust policy is wrong"
		}
		return setupErr("%s", msg)
	case errors.Is(err, token.ErrMalformedDirectory), errors.Is(err, token.ErrInvalidDirectory):
		return setupErr("%s %s breaks the directory format (%s): fetch it again with \"scanner update\"", what, dirFile, directoryFault(err))
	}
	msg := directory.Explain(err, trust, pub).Error()
	if errors.Is(err, token.ErrStale) {
		msg += `; run "scanner update" for a fresh directory and proof`
	}
	return setupErr("%s %s is refused: %s", what, dirFile, msg)
}

// directoryFault says which rule a directory's bytes break.
func directoryFault(err error) string {
	switch {
	case errors.Is(err, token.ErrMalformedDirectory):
		return "not the one canonical JSON encoding of a directory"
	case errors.Is(err, token.ErrInvalidDirectory):
		return "its keys, epochs, statuses or limits break the directory rules"
	case errors.Is(err, token.ErrDirectorySignature):
		return "its signature does not verify under the pinned root key"
	}
	return "unreadable"
}

// watchedStore is the shared store, remembering the first error that
// said it was unavailable since the last reset, for the warning.
type watchedStore struct {
	s   *redisstore.Store
	mu  sync.Mutex
	err error
}

func (w *watchedStore) Spend(ctx context.Context, id token.KeyID, nonce token.Nonce, until time.Time) error {
	err := w.s.Spend(ctx, id, nonce, until)
	if errors.Is(err, verify.ErrStoreUnavailable) {
		w.mu.Lock()
		if w.err == nil {
			w.err = err
		}
		w.mu.Unlock()
	}
	return err
}

// Release passes a release on to the shared store: the verifier refused
// a token whose spend may have landed.
func (w *watchedStore) Release(id token.KeyID, nonce token.Nonce) { w.s.Release(id, nonce) }

// take returns the error remembered and forgets it.
func (w *watchedStore) take() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.err
	w.err = nil
	return err
}
