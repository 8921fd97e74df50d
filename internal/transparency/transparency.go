// Package transparency checks that a directory version is in the
// issuer's append-only log, as seen by a quorum of witnesses, recently
// (token/SPEC.md, "Directory transparency").
//
// A directory's log record is fixed-size binary (Record); the log is an
// RFC 6962 Merkle tree whose checkpoints are C2SP signed notes
// (c2sp.org/tlog-checkpoint), cosigned by witnesses (c2sp.org/
// tlog-cosignature); a proof is a c2sp.org/tlog-proof@v1 bundle. The
// pinned trust policy names the root key, the log key, the witnesses,
// the quorum and the freshness bound.
//
// Its errors carry a Kind, which the public packages turn into their own
// sentinels, and a detail that names no package.
package transparency

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"filippo.io/torchwood"
	"github.com/statustoken/statustoken/internal/edsig"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Kind says which rule a proof or policy broke.
type Kind int

const (
	// NotLogged: the proof is malformed, or does not show the record in
	// the checkpoint's tree.
	NotLogged Kind = iota + 1
	// Quorum: the checkpoint is not signed by the log and a quorum of the
	// witnesses.
	Quorum
	// Stale: the quorum's cosignatures are older than the policy allows.
	Stale
	// Inconsistent: the checkpoint does not extend the last accepted one.
	Inconsistent
	// MalformedPolicy: the trust policy text is not valid.
	MalformedPolicy
)

// Error is a failed check.
type Error struct {
	Kind   Kind
	Detail string
}

func (e *Error) Error() string { return e.Detail }

func fail(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Detail: fmt.Sprintf(format, args...)}
}

// KindOf returns the Kind of err, or 0.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

const (
	// RecordSize is the length of a log record.
	RecordSize    = 1 + 8 + sha256.Size
	recordVersion = 1
	// MaxProofSize bounds a proof bundle: a header, an index, at most 63
	// hashes of 45 characters, and a checkpoint with a few signatures.
	MaxProofSize = 16 << 10
	// MaxPolicySize bounds a trust policy's text.
	MaxPolicySize = 64 << 10
	// MinMaxAge and MaxMaxAge bound a policy's freshness bound.
	MinMaxAge   = time.Minute
	MaxMaxAge   = 90 * 24 * time.Hour
	proofHeader = "c2sp.org/tlog-proof@v1"
)

// Record returns the log record of a directory version with serial
// number serial and canonical bytes data:
//
//	struct {
//	    uint8  version = 1;
//	    uint64 serial;
//	    opaque directory_sha256[32];  /* SHA-256 of the directory bytes */
//	} DirectoryRecord;
func Record(serial uint64, data []byte) []byte {
	r := make([]byte, 0, RecordSize)
	r = append(r, recordVersion)
	r = binary.BigEndian.AppendUint64(r, serial)
	h := sha256.Sum256(data)
	return append(r, h[:]...)
}

// ParseRecord returns the serial and directory hash of a record.
func ParseRecord(r []byte) (serial uint64, hash [32]byte, err error) {
	if len(r) != RecordSize || r[0] != recordVersion {
		return 0, hash, errors.New("not a version 1 directory record")
	}
	return binary.BigEndian.Uint64(r[1:9]), [32]byte(r[9:]), nil
}

// Proof is a parsed c2sp.org/tlog-proof@v1 bundle.
type Proof struct {
	Index      int64
	Hashes     tlog.RecordProof
	Checkpoint []byte // the signed note, verbatim
}

// ParseProof decodes a proof bundle strictly: the header, no extra data
// line, "index N" in canonical decimal, at most 63 standard base64
// hashes, an empty line, then the signed checkpoint.
func ParseProof(b []byte) (*Proof, error) {
	if len(b) > MaxProofSize {
		return nil, fail(NotLogged, "proof of %d bytes, limit %d", len(b), MaxProofSize)
	}
	s := string(b)
	hdr, rest, ok := strings.Cut(s, "\n")
	if !ok || hdr != proofHeader {
		return nil, fail(NotLogged, "proof does not start with %q", proofHeader)
	}
	line, rest, ok := strings.Cut(rest, "\n")
	idxText, isIndex := strings.CutPrefix(line, "index ")
	if !ok || !isIndex {
		return nil, fail(NotLogged, "proof has no index line")
	}
	idx, err := strconv.ParseInt(idxText, 10, 64)
	if err != nil || idx < 0 || strconv.FormatInt(idx, 10) != idxText {
		return nil, fail(NotLogged, "proof index %q is not canonical decimal", truncate(idxText))
	}
	p := &Proof{Index: idx}
	for {
		line, rest, ok = strings.Cut(rest, "\n")
		if !ok {
			return nil, fail(NotLogged, "proof ends before its checkpoint")
		}
		if line == "" {
			break
		}
		if len(p.Hashes) == 63 {
			return nil, fail(NotLogged, "proof has more than 63 hashes")
		}
		h, err := base64.StdEncoding.Strict().DecodeString(line)
		if err != nil || len(h) != tlog.HashSize || base64.StdEncoding.EncodeToString(h) != line {
			return nil, fail(NotLogged, "proof line %q is not a canonical base64 hash", truncate(line))
		}
		p.Hashes = append(p.Hashes, tlog.Hash(h))
	}
	p.Checkpoint = []byte(rest)
	return p, nil
}

// Format encodes a proof bundle.
func (p *Proof) Format() []byte {
	return torchwood.FormatProof(p.Index, p.Hashes, p.Checkpoint)
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40]
	}
	return s
}

// Policy is a parsed trust policy (token/SPEC.md, "Trust policy").
type Policy struct {
	Root      ed25519.PublicKey
	Origin    string
	MaxAge    time.Duration
	policy    torchwood.Policy
	log       note.Verifier
	witnesses map[noteKey]bool
	text      []byte
}

type noteKey struct {
	name string
	hash uint32
}

// ParsePolicy parses a trust policy: lines of "root <base64 Ed25519
// key>", "max-age <duration>", and the torchwood/Sigsum policy lines
// "log <vkey>", "witness <name> <vkey> [url]", "group <name> <n|any|all>
// <member>...", "quorum <name>". Comments start with '#'. There must be
// exactly one root, one log, one max-age and one quorum, which is not
// "none", and at least one witness.
func ParsePolicy(text []byte) (*Policy, error) {
	bad := func(format string, args ...any) error { return fail(MalformedPolicy, format, args...) }
	if len(text) > MaxPolicySize {
		return nil, bad("%d bytes, limit %d", len(text), MaxPolicySize)
	}
	p := &Policy{witnesses: make(map[noteKey]bool), text: bytes.Clone(text)}
	var rest strings.Builder // the lines torchwood.ParsePolicy reads
	var logs, quorums, ages int
	for i, line := range strings.Split(string(text), "\n") {
		content, _, _ := strings.Cut(line, "#")
		fields := strings.Fields(content)
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "root":
			if p.Root != nil || len(fields) != 2 {
				return nil, bad("line %d: want one line \"root <base64 Ed25519 public key>\"", i+1)
			}
			k, err := base64.StdEncoding.Strict().DecodeString(fields[1])
			if err != nil || len(k) != ed25519.PublicKeySize {
				return nil, bad("line %d: root key is not 32 bytes of standard base64", i+1)
			}
			if edsig.CheckPublicKey(k) != nil {
				return nil, bad("line %d: root key is not a valid Ed25519 public key (canonical, not of small order)", i+1)
			}
			p.Root = k
			continue
		case "max-age":
			d, err := time.ParseDuration(safeField(fields, 1))
			if ages++; ages > 1 || len(fields) != 2 || err != nil || d < MinMaxAge || d > MaxMaxAge {
				return nil, bad("line %d: want one line \"max-age <duration>\" from %v to %v", i+1, MinMaxAge, MaxMaxAge)
			}
			p.MaxAge = d
			continue
		case "log":
			logs++
			if len(fields) != 2 {
				return nil, bad("line %d: want \"log <vkey>\"", i+1)
			}
			v, err := note.NewVerifier(fields[1])
			if err != nil {
				return nil, bad("line %d: invalid log key: %v", i+1, err)
			}
			p.log, p.Origin = v, v.Name()
		case "witness":
			if len(fields) < 3 || len(fields) > 4 {
				return nil, bad("line %d: want \"witness <name> <vkey> [url]\"", i+1)
			}
			v, err := torchwood.NewCosignatureVerifier(fields[2])
			if err != nil {
				return nil, bad("line %d: invalid witness key: %v", i+1, err)
			}
			p.witnesses[noteKey{v.Name(), v.KeyHash()}] = true
		case "quorum":
			quorums++
			if len(fields) != 2 || fields[1] == "none" {
				return nil, bad("line %d: want \"quorum <witness or group>\"; a policy must require witnesses", i+1)
			}
		case "group":
		default:
			return nil, bad("line %d: unknown keyword %q", i+1, truncate(fields[0]))
		}
		rest.WriteString(content)
		rest.WriteByte('\n')
	}
	switch {
	case p.Root == nil:
		return nil, bad("no root line")
	case logs != 1:
		return nil, bad("%d log lines, want exactly one", logs)
	case quorums != 1:
		return nil, bad("%d quorum lines, want exactly one", quorums)
	case len(p.witnesses) == 0:
		return nil, bad("no witness line")
	case ages != 1:
		return nil, bad("no max-age line")
	}
	pol, err := torchwood.ParsePolicy([]byte(rest.String()))
	if err != nil {
		return nil, bad("%v", err)
	}
	p.policy = pol
	return p, nil
}

func safeField(f []string, i int) string {
	if i < len(f) {
		return f[i]
	}
	return ""
}

// Text returns the policy's text as parsed.
func (p *Policy) Text() []byte { return bytes.Clone(p.text) }

// Checkpoint is a verified checkpoint.
type Checkpoint struct {
	Origin string
	tlog.Tree
	// Note is the signed checkpoint, verbatim.
	Note []byte
	// Time is the newest timestamp among the witnesses' cosignatures.
	Time time.Time
}

// OpenCheckpoint verifies a signed checkpoint under the policy: the log's
// signature, and a quorum of witness cosignatures that are no older than
// MaxAge at now (unless now is zero, which skips the freshness check).
func (p *Policy) OpenCheckpoint(signed []byte, now time.Time) (*Checkpoint, error) {
	c, n, err := torchwood.VerifyCheckpoint(signed, p.policy)
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var unknown *note.UnknownVerifierError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified) && unverified.Note != nil:
			return nil, fail(Quorum, "%s", p.signers(unverified.Note.Sigs))
		case errors.As(err, &unverified) || errors.As(err, &unknown):
			return nil, fail(Quorum, "signed by none of the pinned keys")
		case errors.As(err, &invalid):
			return nil, fail(Quorum, "a signature by %q does not verify", truncate(invalid.Name))
		}
		return nil, fail(NotLogged, "malformed checkpoint")
	}
	cp := &Checkpoint{Origin: c.Origin, Tree: c.Tree, Note: bytes.Clone(signed)}
	var fresh []note.Signature
	for _, sig := range n.Sigs {
		if !p.witnesses[noteKey{sig.Name, sig.Hash}] {
			fresh = append(fresh, sig) // the log's own signature
			continue
		}
		ts, err := torchwood.CosignatureTimestamp(sig)
		if err != nil {
			continue
		}
		t := time.Unix(ts, 0)
		if t.After(cp.Time) {
			cp.Time = t
		}
		if now.IsZero() || !t.Before(now.Add(-p.MaxAge)) {
			fresh = append(fresh, sig)
		}
	}
	if err := p.policy.Check(c.Origin, fresh); err != nil {
		return nil, fail(Stale, "the witnesses' cosignatures are older than %v", p.MaxAge)
	}
	return cp, nil
}

// signers describes who of the pinned log and witnesses signed.
func (p *Policy) signers(sigs []note.Signature) string {
	logSigned := false
	var names []string
	for _, sig := range sigs {
		switch {
		case sig.Name == p.log.Name() && sig.Hash == p.log.KeyHash():
			logSigned = true
		case p.witnesses[noteKey{sig.Name, sig.Hash}]:
			names = append(names, sig.Name)
		}
	}
	who := "cosigned by no pinned witness"
	if len(names) > 0 {
		who = fmt.Sprintf("cosigned only by %s", strings.Join(names, ", "))
	}
	if !logSigned {
		return "not signed by the pinned log, " + who
	}
	return who + ", short of the policy's quorum"
}

// Verify checks that record is in the log, as proof shows, under a fresh
// checkpoint that the policy accepts at now.
func (p *Policy) Verify(record, proof []byte, now time.Time) (*Checkpoint, error) {
	pr, err := ParseProof(proof)
	if err != nil {
		return nil, err
	}
	cp, err := p.OpenCheckpoint(pr.Checkpoint, now)
	if err != nil {
		return nil, err
	}
	if pr.Index >= cp.N {
		return nil, fail(NotLogged, "record index %d outside the tree of size %d", pr.Index, cp.N)
	}
	if err := tlog.CheckRecord(pr.Hashes, cp.N, cp.Hash, pr.Index, tlog.RecordHash(record)); err != nil {
		return nil, fail(NotLogged, "the proof does not show this directory at index %d of the tree of size %d", pr.Index, cp.N)
	}
	return cp, nil
}

// Extends checks that next extends prev, the last checkpoint accepted:
// the same origin, a tree at least as large, and the same root hash if
// the size is the same. A larger tree is accepted on the witnesses'
// word: each of them cosigns a tree only if it extends every tree it
// cosigned before, and two quorums of more than half of the witnesses
// share one.
func Extends(prev, next *Checkpoint) error {
	switch {
	case prev == nil:
		return nil
	case next.Origin != prev.Origin:
		return fail(Inconsistent, "log %q, not the accepted %q", truncate(next.Origin), truncate(prev.Origin))
	case next.N < prev.N:
		return fail(Inconsistent, "tree of size %d, smaller than the accepted %d", next.N, prev.N)
	case next.N == prev.N && next.Hash != prev.Hash:
		return fail(Inconsistent, "two different trees of size %d", next.N)
	}
	return nil
}
