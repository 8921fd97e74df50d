package token

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/statustoken/statustoken/internal/transparency"
)

// Errors of directory transparency (SPEC.md, "Directory transparency").
// Each means that the directory may be a split view: refuse it, keep the
// current one, and tell the operator.
var (
	// ErrNotLogged: the directory's proof is malformed or does not show
	// the directory's record in the log.
	ErrNotLogged = errors.New("token: directory not proven to be in the log")
	// ErrQuorum: the log checkpoint is not signed by the pinned log and
	// cosigned by a quorum of the pinned witnesses.
	ErrQuorum = errors.New("token: log checkpoint not cosigned by a quorum of the pinned witnesses")
	// ErrStale: the witnesses' cosignatures are older than the trust
	// policy's freshness bound. Fetch a fresh directory and proof.
	ErrStale = errors.New("token: log checkpoint too old")
	// ErrInconsistent: the log checkpoint does not extend the last one
	// this wallet or scanner accepted: a smaller tree, or another tree of
	// the same size (which, cosigned, proves that the log forked).
	ErrInconsistent = errors.New("token: log checkpoint inconsistent with the last one accepted")
	// ErrMalformedTrust: a trust policy's text is not valid.
	ErrMalformedTrust = errors.New("token: malformed trust policy")
	// ErrRollback: a directory's serial number is lower than the highest
	// accepted, or equal with different contents. Keep the current
	// directory.
	ErrRollback = errors.New("token: directory serial rollback")
)

// Limits of directory transparency.
const (
	// LogRecordSize is the length of a directory's log record.
	LogRecordSize = transparency.RecordSize
	// MaxProofSize is the length of the longest proof bundle read.
	MaxProofSize = transparency.MaxProofSize
	// MaxTrustSize is the length of the longest trust policy read.
	MaxTrustSize = transparency.MaxPolicySize
)

// LogRecord returns the record that an issuer appends to its log for the
// directory bytes data, which must be a valid directory: a version byte,
// the directory's serial and the SHA-256 of data (SPEC.md, "Directory
// transparency").
func LogRecord(data []byte) ([]byte, error) {
	d, err := ParseDirectory(data)
	if err != nil {
		return nil, err
	}
	return transparency.Record(d.Serial, data), nil
}

// ParseLogRecord returns the serial and directory hash of a log record.
func ParseLogRecord(record []byte) (serial uint64, sha256 [32]byte, err error) {
	serial, sha256, err = transparency.ParseRecord(record)
	if err != nil {
		return 0, sha256, fmt.Errorf("%w: %v", ErrNotLogged, err)
	}
	return serial, sha256, nil
}

// Trust is what wallets and scanners pin: the issuer's root key, the
// log's key, the witnesses' keys and the quorum of them that must cosign,
// and how recent their cosignatures must be (SPEC.md, "Trust policy").
// It is immutable.
type Trust struct {
	p *transparency.Policy
}

// ParseTrust parses a trust policy's text, at most MaxTrustSize bytes.
func ParseTrust(text []byte) (*Trust, error) {
	p, err := transparency.ParsePolicy(text)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedTrust, err)
	}
	return &Trust{p: p}, nil
}

// MarshalText returns the policy's text as parsed.
func (t *Trust) MarshalText() ([]byte, error) {
	if t == nil || t.p == nil {
		return nil, fmt.Errorf("%w: no policy", ErrMalformedTrust)
	}
	return t.p.Text(), nil
}

// UnmarshalText parses a trust policy into t, as ParseTrust does.
func (t *Trust) UnmarshalText(text []byte) error {
	nt, err := ParseTrust(text)
	if err != nil {
		return err
	}
	*t = *nt
	return nil
}

// Root returns the pinned root public key.
func (t *Trust) Root() ed25519.PublicKey {
	if t == nil || t.p == nil {
		return nil
	}
	return bytes.Clone(t.p.Root)
}

// LogOrigin returns the origin line of the pinned log's checkpoints.
func (t *Trust) LogOrigin() string {
	if t == nil || t.p == nil {
		return ""
	}
	return t.p.Origin
}

// MaxAge returns the freshness bound of the witnesses' cosignatures.
func (t *Trust) MaxAge() time.Duration {
	if t == nil || t.p == nil {
		return 0
	}
	return t.p.MaxAge
}

// Published is one directory version as an issuer publishes it: the
// canonical directory bytes, their detached root signature, and the
// c2sp.org/tlog-proof@v1 bundle that shows the directory in the log
// under a checkpoint cosigned by the witnesses.
type Published struct {
	Directory []byte
	Signature []byte
	Proof     []byte
}

// Checkpoint is a log checkpoint that a wallet or scanner accepted.
// Persist it with MarshalText and pass it back when restarting, so that
// the next directory must extend it.
type Checkpoint struct {
	c *transparency.Checkpoint
}

// Size returns the number of records in the checkpoint's tree.
func (c *Checkpoint) Size() int64 {
	if c == nil || c.c == nil {
		return 0
	}
	return c.c.N
}

// Origin returns the log's origin line.
func (c *Checkpoint) Origin() string {
	if c == nil || c.c == nil {
		return ""
	}
	return c.c.Origin
}

// RootHash returns the root hash of the checkpoint's tree.
func (c *Checkpoint) RootHash() [32]byte {
	if c == nil || c.c == nil {
		return [32]byte{}
	}
	return c.c.Hash
}

// Time returns the newest of the witnesses' cosignature times.
func (c *Checkpoint) Time() time.Time {
	if c == nil || c.c == nil {
		return time.Time{}
	}
	return c.c.Time
}

// MarshalText returns the signed checkpoint note, with its cosignatures.
func (c *Checkpoint) MarshalText() ([]byte, error) {
	if c == nil || c.c == nil {
		return nil, fmt.Errorf("%w: no checkpoint", ErrQuorum)
	}
	return bytes.Clone(c.c.Note), nil
}

// ParseCheckpoint checks a persisted checkpoint (from
// Checkpoint.MarshalText) under trust: the log's signature and a quorum
// of witness cosignatures, however old.
func ParseCheckpoint(signed []byte, trust *Trust) (*Checkpoint, error) {
	if trust == nil || trust.p == nil {
		return nil, fmt.Errorf("%w: no trust policy", ErrMalformedTrust)
	}
	if len(signed) > MaxProofSize {
		return nil, fmt.Errorf("%w: checkpoint of %d bytes", ErrNotLogged, len(signed))
	}
	c, err := trust.p.OpenCheckpoint(signed, time.Time{})
	if err != nil {
		return nil, transparencyError(err)
	}
	return &Checkpoint{c: c}, nil
}

// Accepted is what a wallet or scanner has accepted before, which every
// newer directory must extend: the highest serial, the SHA-256 of that
// directory's bytes (zero if unknown, as after a restart that kept only
// the serial), and the last log checkpoint (nil for none). The zero
// Accepted accepts any first directory.
type Accepted struct {
	Serial     uint64
	Directory  [32]byte
	Checkpoint *Checkpoint
}

// Open checks a published directory against the pinned trust policy at
// time now, in the order of SPEC.md, "Loading a directory": the root
// signature and every directory rule (as OpenDirectory); the serial
// against prev (a lower serial, or an equal one with other bytes, is
// ErrRollback); then the proof: the directory's record in the log, under
// a checkpoint signed by the log and cosigned by a quorum of the
// witnesses no longer ago than the policy's freshness bound, extending
// prev's checkpoint. It returns the directory and the new Accepted state
// to keep. Open performs no I/O.
func Open(p Published, trust *Trust, prev Accepted, now time.Time) (*Directory, Accepted, error) {
	if trust == nil || trust.p == nil {
		return nil, prev, fmt.Errorf("%w: no trust policy", ErrMalformedTrust)
	}
	d, err := OpenDirectory(p.Directory, p.Signature, trust.p.Root)
	if err != nil {
		return nil, prev, err
	}
	sum := sha256.Sum256(p.Directory)
	switch {
	case d.Serial < prev.Serial:
		return nil, prev, fmt.Errorf("%w: serial %d below the accepted %d", ErrRollback, d.Serial, prev.Serial)
	case d.Serial == prev.Serial && prev.Directory != ([32]byte{}) && sum != prev.Directory:
		return nil, prev, fmt.Errorf("%w: two different directories with serial %d", ErrRollback, d.Serial)
	}
	c, err := trust.p.Verify(transparency.Record(d.Serial, p.Directory), p.Proof, now)
	if err != nil {
		return nil, prev, transparencyError(err)
	}
	var pc *transparency.Checkpoint
	if prev.Checkpoint != nil {
		pc = prev.Checkpoint.c
	}
	if err := transparency.Extends(pc, c); err != nil {
		return nil, prev, transparencyError(err)
	}
	return d, Accepted{Serial: d.Serial, Directory: sum, Checkpoint: &Checkpoint{c: c}}, nil
}

func transparencyError(err error) error {
	var sentinel error
	switch transparency.KindOf(err) {
	case transparency.Quorum:
		sentinel = ErrQuorum
	case transparency.Stale:
		sentinel = ErrStale
	case transparency.Inconsistent:
		sentinel = ErrInconsistent
	case transparency.MalformedPolicy:
		sentinel = ErrMalformedTrust
	default:
		sentinel = ErrNotLogged
	}
	return fmt.Errorf("%w: %v", sentinel, err)
}
