package token

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
	// ErrNotNewest: the directory is logged, but is not the newest record
	// of the checkpoint that proves it: a newer directory exists, and
	// serving this one would set its holders apart. Fetch the directory
	// again.
	ErrNotNewest = errors.New("token: directory is not the newest in the log")
	// ErrStatusRenamed: the directory gives a status code that was
	// accepted before another name. Tokens already issued under the code
	// would change meaning; keep the current directory and tell the
	// operator.
	ErrStatusRenamed = errors.New("token: directory renames a status")
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

// LoadError is the error of every refused trust policy, checkpoint,
// accepted state or published directory in the transparency steps of
// loading ([ParseTrust], [ParseCheckpoint], [ParseAccepted], [Open]): the
// sentinel, which errors.Is finds through Unwrap, and what the check saw,
// so that callers need not read the text. Find it with errors.As.
type LoadError struct {
	// Err is one of ErrNotLogged, ErrNotNewest, ErrQuorum, ErrStale,
	// ErrInconsistent, ErrRollback, ErrStatusRenamed or
	// ErrMalformedTrust.
	Err error
	// Detail says what broke, quoting only public input.
	Detail string
	// Serial is the refused directory's serial and AcceptedSerial the
	// highest serial accepted before, when a directory was read.
	Serial, AcceptedSerial uint64
	// Line and Keyword locate an error in a trust policy's text: the
	// 1-based line number and the line's first word; zero for an error
	// about the policy as a whole.
	Line    int
	Keyword string
	// LogSigned, Cosignatures and QuorumTime are what the checkpoint's
	// signatures showed, for an error found once they were checked: a
	// valid signature by the pinned log; each pinned witness whose
	// cosignature verified, with the time of its freshest one that
	// counts; and the newest time at which the quorum held (zero if it
	// does not).
	LogSigned    bool
	Cosignatures []Cosignature
	QuorumTime   time.Time
}

// Cosignature is a pinned witness's verified cosignature: the witness's
// name in the trust policy and the time it signed.
type Cosignature struct {
	Witness string
	Time    time.Time
}

func (e *LoadError) Error() string {
	if e.Detail == "" {
		return e.Err.Error()
	}
	return e.Err.Error() + ": " + e.Detail
}

func (e *LoadError) Unwrap() error { return e.Err }

// loadError turns an error of internal/transparency into a LoadError.
func loadError(err error) *LoadError {
	var te *transparency.Error
	if !errors.As(err, &te) {
		return &LoadError{Err: ErrNotLogged, Detail: err.Error()}
	}
	e := &LoadError{Detail: te.Detail, Line: te.Line, Keyword: te.Keyword}
	switch te.Kind {
	case transparency.Quorum:
		e.Err = ErrQuorum
	case transparency.Stale:
		e.Err = ErrStale
	case transparency.Inconsistent:
		e.Err = ErrInconsistent
	case transparency.MalformedPolicy:
		e.Err = ErrMalformedTrust
	case transparency.NotNewest:
		e.Err = ErrNotNewest
	default:
		e.Err = ErrNotLogged
	}
	if s := te.Seen; s != nil {
		e.LogSigned, e.QuorumTime = s.LogSigned, s.QuorumTime
		for _, c := range s.Cosignatures {
			e.Cosignatures = append(e.Cosignatures, Cosignature(c))
		}
	}
	return e
}

// Trust is what wallets and scanners pin: the issuer's root key, the
// log's key, the witnesses' keys and the quorum of them that must cosign,
// and how recent their cosignatures must be (SPEC.md, "Trust policy").
// It is immutable.
type Trust struct {
	p *transparency.Policy
}

// ParseTrust parses a trust policy's text, at most MaxTrustSize bytes. It
// refuses, with a *LoadError wrapping ErrMalformedTrust, any policy that
// breaks a rule of SPEC.md, "Trust policy": among them a key that is not
// a valid Ed25519 key, one key under two names, a witness or group that
// is a member of more than one group, and a quorum that half of the
// witnesses or fewer can meet.
func ParseTrust(text []byte) (*Trust, error) {
	p, err := transparency.ParsePolicy(text)
	if err != nil {
		return nil, loadError(err)
	}
	return &Trust{p: p}, nil
}

// MarshalText returns the policy's text as parsed.
func (t *Trust) MarshalText() ([]byte, error) {
	return t.policy().Text(), nil
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

// policy returns t's policy; it panics for a Trust not made by
// ParseTrust, which is a programming error.
func (t *Trust) policy() *transparency.Policy {
	if t == nil || t.p == nil {
		panic("token: Trust not made by ParseTrust")
	}
	return t.p
}

// Root returns the pinned root public key.
func (t *Trust) Root() ed25519.PublicKey { return bytes.Clone(t.policy().Root) }

// LogOrigin returns the origin line of the pinned log's checkpoints.
func (t *Trust) LogOrigin() string { return t.policy().Origin }

// Witnesses returns the names of the pinned witnesses, in the policy's
// order.
func (t *Trust) Witnesses() []string { return t.policy().Witnesses() }

// MinCosigners returns the fewest pinned witnesses whose cosignatures can
// meet the quorum: more than half of the witnesses the policy names.
func (t *Trust) MinCosigners() int { return t.policy().Minimum() }

// MaxAge returns the freshness bound for loading a directory: the
// quorum's cosignatures may be at most this old.
func (t *Trust) MaxAge() time.Duration { return t.policy().MaxAge }

// IssueMaxAge returns the freshness bound for requesting tokens, the
// policy's issue-max-age: a wallet asks for tokens only while the quorum
// time of its directory's checkpoint is at most this old. It is MaxAge
// when the policy sets none.
func (t *Trust) IssueMaxAge() time.Duration {
	p := t.policy()
	if p.IssueMaxAge == 0 {
		return p.MaxAge
	}
	return p.IssueMaxAge
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

// Checkpoint is a log checkpoint that a wallet or scanner accepted. It is
// kept as part of [Accepted].
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

// Time returns the checkpoint's quorum time: the newest time t such that
// the pinned witnesses' cosignatures dated t or later meet the quorum.
// Freshness is measured from it.
func (c *Checkpoint) Time() time.Time {
	if c == nil || c.c == nil {
		return time.Time{}
	}
	return c.c.Time()
}

// Cosignatures returns the pinned witnesses whose cosignature verified,
// with the time of the freshest of each.
func (c *Checkpoint) Cosignatures() []Cosignature {
	if c == nil || c.c == nil {
		return nil
	}
	out := make([]Cosignature, len(c.c.Seen.Cosignatures))
	for i, s := range c.c.Seen.Cosignatures {
		out[i] = Cosignature(s)
	}
	return out
}

// MarshalText returns the signed checkpoint note, with its cosignatures.
func (c *Checkpoint) MarshalText() ([]byte, error) {
	if c == nil || c.c == nil {
		return nil, &LoadError{Err: ErrQuorum, Detail: "no checkpoint"}
	}
	return bytes.Clone(c.c.Note), nil
}

// ParseCheckpoint checks a persisted checkpoint (from
// Checkpoint.MarshalText) under trust: the log's signature and a quorum
// of witness cosignatures, however old.
func ParseCheckpoint(signed []byte, trust *Trust) (*Checkpoint, error) {
	p := trust.policy()
	if len(signed) > MaxProofSize {
		return nil, &LoadError{Err: ErrNotLogged, Detail: fmt.Sprintf("checkpoint of %d bytes, limit %d", len(signed), MaxProofSize)}
	}
	c, err := p.OpenPersisted(signed)
	if err != nil {
		return nil, loadError(err)
	}
	return &Checkpoint{c: c}, nil
}

// Accepted is what a wallet or scanner has accepted before, which every
// newer directory must extend: the highest serial, the SHA-256 of that
// directory's bytes (zero if unknown), the name of every status code
// accepted so far, and the last log checkpoint (nil for none). The zero
// Accepted accepts any first directory. Persist it with MarshalText and
// read it back with ParseAccepted after a restart.
type Accepted struct {
	Serial     uint64
	Directory  [32]byte
	Statuses   []StatusName
	Checkpoint *Checkpoint
}

// MaxAcceptedSize is the length of the longest accepted state read.
const MaxAcceptedSize = 64 << 10

type jsonAccepted struct {
	Serial     uint64       `json:"serial"`
	Directory  string       `json:"directory_sha256"`
	Statuses   []StatusName `json:"statuses"`
	Checkpoint string       `json:"checkpoint"`
}

// MarshalText encodes the accepted state as JSON: the serial, the
// directory's SHA-256 in hexadecimal, the status names and the signed
// checkpoint note (SPEC.md, "Accepted state").
func (a Accepted) MarshalText() ([]byte, error) {
	j := jsonAccepted{Serial: a.Serial, Directory: hex.EncodeToString(a.Directory[:]), Statuses: a.Statuses}
	if j.Statuses == nil {
		j.Statuses = []StatusName{}
	}
	if a.Checkpoint != nil {
		cp, err := a.Checkpoint.MarshalText()
		if err != nil {
			return nil, err
		}
		j.Checkpoint = string(cp)
	}
	return json.Marshal(j)
}

// ParseAccepted decodes an accepted state written by
// Accepted.MarshalText and checks its checkpoint under trust, as
// ParseCheckpoint does. Damage is reported as a *LoadError wrapping
// ErrRollback (the state cannot be trusted to refuse a rollback) or, for
// the checkpoint, the error of ParseCheckpoint.
func ParseAccepted(text []byte, trust *Trust) (Accepted, error) {
	trust.policy()
	bad := func(format string, args ...any) (Accepted, error) {
		return Accepted{}, &LoadError{Err: ErrRollback, Detail: "accepted state: " + fmt.Sprintf(format, args...)}
	}
	if len(text) > MaxAcceptedSize {
		return bad("%d bytes, limit %d", len(text), MaxAcceptedSize)
	}
	var j jsonAccepted
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return bad("not the JSON of an accepted state")
	}
	sum, err := hex.DecodeString(j.Directory)
	if err != nil || len(sum) != sha256.Size {
		return bad("directory_sha256 is not 64 hexadecimal digits")
	}
	if len(j.Statuses) > 0 && validateStatuses(j.Statuses) != nil {
		return bad("statuses are not distinct codes and names in increasing order")
	}
	a := Accepted{Serial: j.Serial, Directory: [32]byte(sum), Statuses: j.Statuses}
	if j.Checkpoint != "" {
		if a.Checkpoint, err = ParseCheckpoint([]byte(j.Checkpoint), trust); err != nil {
			return Accepted{}, err
		}
	}
	return a, nil
}

// Open checks a published directory against the pinned trust policy at
// time now, in the order of SPEC.md, "Loading a directory": the root
// signature and every directory rule (as OpenDirectory); the serial
// against prev (a lower serial, or an equal one with other bytes, is
// ErrRollback); the status names against prev (ErrStatusRenamed); then
// the proof: the directory's record as the newest of the log
// (ErrNotLogged, ErrNotNewest), under a checkpoint signed by the log and
// cosigned by a quorum of the witnesses no longer ago than the policy's
// freshness bound (ErrQuorum, ErrStale), extending prev's checkpoint
// (ErrInconsistent). It returns the directory and the new Accepted state
// to keep. A zero now is refused with ErrStale. Open performs no I/O.
//
// Failures of the directory itself are the errors of OpenDirectory;
// every later failure is a *LoadError.
func Open(p Published, trust *Trust, prev Accepted, now time.Time) (*Directory, Accepted, error) {
	pol := trust.policy()
	d, err := OpenDirectory(p.Directory, p.Signature, pol.Root)
	if err != nil {
		return nil, prev, err
	}
	refuse := func(err error) (*Directory, Accepted, error) {
		e, ok := err.(*LoadError)
		if !ok {
			e = loadError(err)
		}
		e.Serial, e.AcceptedSerial = d.Serial, prev.Serial
		return nil, prev, e
	}
	sum := sha256.Sum256(p.Directory)
	switch {
	case d.Serial < prev.Serial:
		return refuse(&LoadError{Err: ErrRollback, Detail: fmt.Sprintf("serial %d below the accepted %d", d.Serial, prev.Serial)})
	case d.Serial == prev.Serial && prev.Directory != ([32]byte{}) && sum != prev.Directory:
		return refuse(&LoadError{Err: ErrRollback, Detail: fmt.Sprintf("two different directories with serial %d", d.Serial)})
	}
	statuses, err := mergeStatuses(prev.Statuses, d.Statuses)
	if err != nil {
		return refuse(err)
	}
	c, err := pol.Verify(transparency.Record(d.Serial, p.Directory), p.Proof, now)
	if err != nil {
		return refuse(err)
	}
	var pc *transparency.Checkpoint
	if prev.Checkpoint != nil {
		pc = prev.Checkpoint.c
	}
	if err := transparency.Extends(pc, c); err != nil {
		return refuse(err)
	}
	return d, Accepted{Serial: d.Serial, Directory: sum, Statuses: statuses, Checkpoint: &Checkpoint{c: c}}, nil
}

// mergeStatuses returns the union of the accepted status names and a
// directory's, sorted by code, or a *LoadError wrapping ErrStatusRenamed
// if the directory names an accepted code otherwise, or gives an accepted
// name to another code.
func mergeStatuses(accepted, dir []StatusName) ([]StatusName, error) {
	out := slices.Clone(accepted)
	byCode := func(a, b StatusName) int { return int(a.Code) - int(b.Code) }
	slices.SortFunc(out, byCode)
	for _, s := range dir {
		i, found := slices.BinarySearchFunc(out, s, byCode)
		if found && out[i].Name == s.Name {
			continue
		}
		if found {
			return nil, &LoadError{Err: ErrStatusRenamed, Detail: fmt.Sprintf("status %d is named %q, accepted before as %q", s.Code, s.Name, out[i].Name)}
		}
		if j := slices.IndexFunc(out, func(a StatusName) bool { return a.Name == s.Name }); j >= 0 {
			return nil, &LoadError{Err: ErrStatusRenamed, Detail: fmt.Sprintf("status %q has code %d, accepted before as %d", s.Name, s.Code, out[j].Code)}
		}
		out = slices.Insert(out, i, s)
	}
	return out, nil
}
