// Package transparency checks that a directory version is in the
// issuer's append-only log, as seen by a quorum of witnesses, recently
// (token/SPEC.md, "Directory transparency").
//
// A directory's log record is fixed-size binary (Record); the log is an
// RFC 6962 Merkle tree whose checkpoints are C2SP signed notes
// (c2sp.org/tlog-checkpoint), cosigned by witnesses (c2sp.org/
// tlog-cosignature); a proof is a c2sp.org/tlog-proof@v1 bundle. The
// pinned trust policy names the root key, the log key, the witnesses,
// the quorum and the freshness bounds.
//
// The package reads notes, checkpoints and policies itself, on
// golang.org/x/mod's tlog for the Merkle proofs, so that a scanner links
// no network code. Its errors carry a Kind, which the public packages
// turn into their own sentinels, what the checkpoint's signatures showed,
// and a detail that names no package.
package transparency

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/statustoken/statustoken/internal/edsig"
	"golang.org/x/mod/sumdb/tlog"
)

// Kind says which rule a proof or policy broke.
type Kind int

const (
	// NotLogged: the proof or its checkpoint is malformed, or does not
	// show the record in the checkpoint's tree.
	NotLogged Kind = iota + 1
	// Quorum: the checkpoint is not signed by the log and a quorum of the
	// witnesses.
	Quorum
	// Stale: the quorum's cosignatures are older than the policy allows,
	// or there is no current time to compare them with.
	Stale
	// Inconsistent: the checkpoint does not extend the last accepted one.
	Inconsistent
	// MalformedPolicy: the trust policy text is not valid.
	MalformedPolicy
	// NotNewest: the record is not the newest of the checkpoint's tree.
	NotNewest
)

// Error is a failed check.
type Error struct {
	Kind   Kind
	Detail string
	// Line and Keyword locate a policy error: the 1-based line and its
	// first word; zero for an error about the policy as a whole.
	Line    int
	Keyword string
	// Seen is what the checkpoint's signatures showed, for an error found
	// after they were checked; nil otherwise.
	Seen *Seen
}

func (e *Error) Error() string { return e.Detail }

func fail(k Kind, format string, args ...any) *Error {
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

// Seen is what the signatures of a checkpoint showed under a policy.
type Seen struct {
	// LogSigned reports a valid signature by the pinned log key.
	LogSigned bool
	// Cosignatures are the pinned witnesses whose cosignature verified,
	// in the policy's order, each with the time of its freshest
	// cosignature that counts (not dated beyond the clock skew).
	Cosignatures []Cosignature
	// QuorumTime is the newest time t such that the cosignatures dated t
	// or later meet the quorum; zero if the quorum is not met.
	QuorumTime time.Time
}

// Cosignature is a pinned witness's verified cosignature.
type Cosignature struct {
	Witness string // the witness's name in the policy
	Time    time.Time
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
	// MinMaxAge and MaxMaxAge bound a policy's freshness bounds.
	MinMaxAge = time.Minute
	MaxMaxAge = 90 * 24 * time.Hour
	// MaxFuture is how far ahead of the verifier's clock a cosignature
	// may be dated and still count.
	MaxFuture = 10 * time.Minute
	// maxSignatures bounds the signature lines read from one note.
	maxSignatures = 100
	proofHeader   = "c2sp.org/tlog-proof@v1"
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
	idx, ok := parseDecimal(idxText)
	if !ok {
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
		h, ok := decodeBase64(line)
		if !ok || len(h) != tlog.HashSize {
			return nil, fail(NotLogged, "proof line %q is not a canonical base64 hash", truncate(line))
		}
		p.Hashes = append(p.Hashes, tlog.Hash(h))
	}
	p.Checkpoint = []byte(rest)
	return p, nil
}

// Format encodes a proof bundle.
func (p *Proof) Format() []byte {
	b := []byte(proofHeader + "\nindex " + strconv.FormatInt(p.Index, 10) + "\n")
	for _, h := range p.Hashes {
		b = base64.StdEncoding.AppendEncode(b, h[:])
		b = append(b, '\n')
	}
	b = append(b, '\n')
	return append(b, p.Checkpoint...)
}

// parseDecimal parses a non-negative int64 in canonical decimal: no sign,
// no leading zero.
func parseDecimal(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
		return 0, false
	}
	return n, true
}

// decodeBase64 decodes canonical standard base64: padded, no newlines,
// zero trailing bits.
func decodeBase64(s string) ([]byte, bool) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || base64.StdEncoding.EncodeToString(b) != s {
		return nil, false
	}
	return b, true
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40]
	}
	return s
}

// Policy is a parsed trust policy (token/SPEC.md, "Trust policy").
type Policy struct {
	Root   ed25519.PublicKey
	Origin string
	// MaxAge is the freshness bound for loading a directory;
	// IssueMaxAge, zero when the policy sets none, the shorter bound for
	// requesting tokens under it.
	MaxAge      time.Duration
	IssueMaxAge time.Duration

	log    noteKey
	logKey ed25519.PublicKey
	// nodes are the witnesses and groups in the order the policy defines
	// them, so that every group comes after its members; quorum indexes
	// the one the policy requires.
	nodes  []node
	quorum int
	// witnesses maps a cosignature key's name and hash to its node.
	witnesses map[noteKey]int
	text      []byte
}

// node is a witness (key set) or a group of earlier nodes.
type node struct {
	name      string
	key       ed25519.PublicKey // a witness's
	threshold int               // a group's
	members   []int
	used      bool // a member of some group
}

type noteKey struct {
	name string
	hash uint32
}

// ParsePolicy parses a trust policy: lines of "root <base64 Ed25519
// key>", "max-age <duration>", "issue-max-age <duration>", "log <vkey>",
// "witness <name> <vkey> [url]", "group <name> <n|any|all> <member>...",
// "quorum <name>". Comments start with '#'. There must be exactly one
// root, one log, one max-age and one quorum, which is not "none", at
// least one witness, and at most one issue-max-age, no longer than
// max-age. Every key is a valid Ed25519 key and no two lines name the
// same key; a witness or group is a member of at most one group, once,
// and is defined before it; the quorum cannot be met by half of the
// witnesses or fewer. Parsing and evaluating the policy take time linear
// in its size (up to sorting each group's members).
func ParsePolicy(text []byte) (*Policy, error) {
	if len(text) > MaxPolicySize {
		return nil, fail(MalformedPolicy, "%d bytes, limit %d", len(text), MaxPolicySize)
	}
	if !utf8.Valid(text) {
		return nil, fail(MalformedPolicy, "not UTF-8 text")
	}
	p := &Policy{witnesses: make(map[noteKey]int), quorum: -1, text: bytes.Clone(text)}
	names := make(map[string]int) // node name -> index
	keys := make(map[string]string)
	var logs, quorums, ages, issueAges int
	var quorumName string
	var quorumLine int
	for i, line := range strings.Split(string(text), "\n") {
		content, _, _ := strings.Cut(line, "#")
		fields := strings.Fields(content)
		if len(fields) == 0 {
			continue
		}
		bad := func(format string, args ...any) error {
			e := fail(MalformedPolicy, "line %d: "+format, append([]any{i + 1}, args...)...)
			e.Line, e.Keyword = i+1, truncate(fields[0])
			return e
		}
		// newKey checks that no other line names the same key.
		newKey := func(k []byte, what string) error {
			if other, ok := keys[string(k)]; ok {
				return bad("%s has the same key as %s", what, other)
			}
			keys[string(k)] = what
			return nil
		}
		switch fields[0] {
		case "root":
			if p.Root != nil || len(fields) != 2 {
				return nil, bad("want one line \"root <base64 Ed25519 public key>\"")
			}
			k, ok := decodeBase64(fields[1])
			if !ok || len(k) != ed25519.PublicKeySize {
				return nil, bad("root key is not 32 bytes of standard base64")
			}
			if edsig.CheckPublicKey(k) != nil {
				return nil, bad("root key is not a valid Ed25519 public key (canonical, not of small order)")
			}
			if err := newKey(k, "the root"); err != nil {
				return nil, err
			}
			p.Root = k
		case "max-age", "issue-max-age":
			d, err := time.ParseDuration(safeField(fields, 1))
			n := &ages
			if fields[0] == "issue-max-age" {
				n = &issueAges
			}
			if *n++; *n > 1 || len(fields) != 2 || err != nil || d < MinMaxAge || d > MaxMaxAge || d%time.Second != 0 {
				return nil, bad("want one line \"%s <duration>\", whole seconds from %v to %v", fields[0], MinMaxAge, MaxMaxAge)
			}
			if fields[0] == "max-age" {
				p.MaxAge = d
			} else {
				p.IssueMaxAge = d
			}
		case "log":
			if logs++; logs > 1 || len(fields) != 2 {
				return nil, bad("want one line \"log <vkey>\"")
			}
			name, hash, k, err := parseVKey(fields[1], algEd25519)
			if err != nil {
				return nil, bad("log key: %v", err)
			}
			if err := newKey(k, "the log"); err != nil {
				return nil, err
			}
			p.log, p.logKey, p.Origin = noteKey{name, hash}, k, name
		case "witness":
			if len(fields) < 3 || len(fields) > 4 {
				return nil, bad("want \"witness <name> <vkey> [url]\"")
			}
			if _, dup := names[fields[1]]; dup {
				return nil, bad("name %q defined twice", truncate(fields[1]))
			}
			name, hash, k, err := parseVKey(fields[2], algCosignatureV1)
			if err != nil {
				return nil, bad("witness key: %v", err)
			}
			if err := newKey(k, fmt.Sprintf("witness %q", truncate(fields[1]))); err != nil {
				return nil, err
			}
			names[fields[1]] = len(p.nodes)
			p.witnesses[noteKey{name, hash}] = len(p.nodes)
			p.nodes = append(p.nodes, node{name: fields[1], key: k})
		case "group":
			if len(fields) < 4 {
				return nil, bad("want \"group <name> <n|any|all> <member>...\"")
			}
			if _, dup := names[fields[1]]; dup || fields[1] == "none" {
				return nil, bad("name %q defined twice", truncate(fields[1]))
			}
			g := node{name: fields[1]}
			for _, m := range fields[3:] {
				j, ok := names[m]
				switch {
				case !ok:
					return nil, bad("member %q is not a witness or group defined above", truncate(m))
				case p.nodes[j].used:
					return nil, bad("%q is a member of more than one group, or twice of one", truncate(m))
				}
				p.nodes[j].used = true
				g.members = append(g.members, j)
			}
			switch t := fields[2]; t {
			case "any":
				g.threshold = 1
			case "all":
				g.threshold = len(g.members)
			default:
				n, ok := parseDecimal(t)
				if !ok || n < 1 || n > int64(len(g.members)) {
					return nil, bad("threshold %q is not any, all or 1 to %d", truncate(t), len(g.members))
				}
				g.threshold = int(n)
			}
			names[fields[1]] = len(p.nodes)
			p.nodes = append(p.nodes, g)
		case "quorum":
			if quorums++; quorums > 1 || len(fields) != 2 || fields[1] == "none" {
				return nil, bad("want one line \"quorum <witness or group>\"; a policy must require witnesses")
			}
			quorumName, quorumLine = fields[1], i+1
		default:
			return nil, bad("unknown keyword %q", truncate(fields[0]))
		}
	}
	whole := func(format string, args ...any) (*Policy, error) {
		return nil, fail(MalformedPolicy, format, args...)
	}
	switch {
	case p.Root == nil:
		return whole("no root line")
	case logs != 1:
		return whole("no log line")
	case len(p.witnesses) == 0:
		return whole("no witness line")
	case quorums != 1:
		return whole("no quorum line")
	case ages != 1:
		return whole("no max-age line")
	case p.IssueMaxAge > p.MaxAge:
		return whole("issue-max-age %v is longer than max-age %v", p.IssueMaxAge, p.MaxAge)
	}
	q, ok := names[quorumName]
	if !ok {
		e := fail(MalformedPolicy, "line %d: quorum %q is not a witness or group", quorumLine, truncate(quorumName))
		e.Line, e.Keyword = quorumLine, "quorum"
		return nil, e
	}
	p.quorum = q
	if need := p.Minimum(); 2*need <= len(p.witnesses) {
		e := fail(MalformedPolicy, "line %d: quorum %q can be met by %d of the %d witnesses, not a majority", quorumLine, truncate(quorumName), need, len(p.witnesses))
		e.Line, e.Keyword = quorumLine, "quorum"
		return nil, e
	}
	return p, nil
}

// Minimum returns the fewest witnesses that meet the quorum: one for a
// witness, and for a group of threshold n the sum of its n members'
// minimums that are smallest. No witness is counted twice, since no node
// is a member twice.
func (p *Policy) Minimum() int {
	need := make([]int, len(p.nodes))
	var scratch []int
	for i, n := range p.nodes {
		if n.key != nil {
			need[i] = 1
			continue
		}
		scratch = scratch[:0]
		for _, m := range n.members {
			scratch = append(scratch, need[m])
		}
		slices.Sort(scratch)
		for _, x := range scratch[:n.threshold] {
			need[i] += x
		}
	}
	return need[p.quorum]
}

// quorumTime returns the newest time t such that the witnesses whose
// time is t or later meet the quorum, given each witness node's time (-1
// for none); -1 if the quorum is not met. A group's time is the n-th
// newest of its members' times.
func (p *Policy) quorumTime(times []int64) int64 {
	var scratch []int64
	for i, n := range p.nodes {
		if n.key != nil {
			continue
		}
		scratch = scratch[:0]
		for _, m := range n.members {
			scratch = append(scratch, times[m])
		}
		slices.Sort(scratch)
		times[i] = scratch[len(scratch)-n.threshold]
	}
	return times[p.quorum]
}

func safeField(f []string, i int) string {
	if i < len(f) {
		return f[i]
	}
	return ""
}

// Note key algorithms (c2sp.org/signed-note).
const (
	algEd25519       = 0x01
	algCosignatureV1 = 0x04
)

// parseVKey parses a C2SP signed-note verifier key "<name>+<hash>+<key>"
// of algorithm alg strictly: a valid name, the hash as eight lowercase
// hexadecimal digits equal to the key's, canonical base64, and a valid
// Ed25519 public key.
func parseVKey(vkey string, alg byte) (name string, hash uint32, key ed25519.PublicKey, err error) {
	name, rest, ok1 := strings.Cut(vkey, "+")
	hash16, key64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 || !validName(name) {
		return "", 0, nil, errors.New("not a verifier key <name>+<hash>+<key>")
	}
	h, err := strconv.ParseUint(hash16, 16, 32)
	if err != nil || len(hash16) != 8 || strings.ToLower(hash16) != hash16 {
		return "", 0, nil, errors.New("key hash is not eight hexadecimal digits")
	}
	k, ok := decodeBase64(key64)
	if !ok || len(k) != 1+ed25519.PublicKeySize || k[0] != alg {
		return "", 0, nil, fmt.Errorf("key is not the base64 of type 0x%02x and 32 bytes", alg)
	}
	if keyHash(name, k) != uint32(h) {
		return "", 0, nil, errors.New("key hash does not match the name and key")
	}
	if edsig.CheckPublicKey(k[1:]) != nil {
		return "", 0, nil, errors.New("not a valid Ed25519 public key (canonical, not of small order)")
	}
	return name, uint32(h), ed25519.PublicKey(k[1:]), nil
}

// keyHash is a note key's hash: the first four bytes of SHA-256(name ||
// "\n" || type || key).
func keyHash(name string, typedKey []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write(typedKey)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// validName reports whether name is a valid note key name: non-empty
// UTF-8 without spaces or '+'.
func validName(name string) bool {
	return name != "" && utf8.ValidString(name) && strings.IndexFunc(name, unicode.IsSpace) < 0 && !strings.Contains(name, "+")
}

// Text returns the policy's text as parsed.
func (p *Policy) Text() []byte { return bytes.Clone(p.text) }

// Witnesses returns the policy's witness names, in order.
func (p *Policy) Witnesses() []string {
	var out []string
	for _, n := range p.nodes {
		if n.key != nil {
			out = append(out, n.name)
		}
	}
	return out
}

// Checkpoint is a verified checkpoint.
type Checkpoint struct {
	Origin string
	tlog.Tree
	// Note is the signed checkpoint, verbatim.
	Note []byte
	// Seen is what its signatures showed; Seen.QuorumTime is set.
	Seen Seen
}

// Time returns the time at which the quorum last held.
func (c *Checkpoint) Time() time.Time { return c.Seen.QuorumTime }

// OpenCheckpoint verifies a signed checkpoint under the policy at now: the
// log's signature, and a quorum of witness cosignatures whose quorum time
// is no older than MaxAge. Only cosignatures dated at most MaxFuture
// after now count, and each witness's freshest such one. A zero now is
// an error.
func (p *Policy) OpenCheckpoint(signed []byte, now time.Time) (*Checkpoint, error) {
	if now.IsZero() {
		return nil, fail(Stale, "no current time to check the cosignatures' age against")
	}
	c, err := p.openCheckpoint(signed, now.Add(MaxFuture).Unix())
	if err != nil {
		return nil, err
	}
	if c.Seen.QuorumTime.Unix() < now.Unix()-int64(p.MaxAge/time.Second) {
		e := fail(Stale, "the quorum's cosignatures are from %s, older than %v", c.Seen.QuorumTime.UTC().Format(time.RFC3339), p.MaxAge)
		e.Seen = &c.Seen
		return nil, e
	}
	return c, nil
}

// OpenPersisted verifies a checkpoint accepted before: the log's
// signature and a quorum of witness cosignatures, however old.
func (p *Policy) OpenPersisted(signed []byte) (*Checkpoint, error) {
	return p.openCheckpoint(signed, 1<<62)
}

// openCheckpoint verifies signed and counts the cosignatures dated at
// most latest.
func (p *Policy) openCheckpoint(signed []byte, latest int64) (*Checkpoint, error) {
	text, sigs, err := splitNote(signed)
	if err != nil {
		return nil, err
	}
	c, err := parseCheckpointText(text)
	if err != nil {
		return nil, err
	}
	c.Note = bytes.Clone(signed)
	if c.Origin != p.Origin {
		return nil, fail(Quorum, "checkpoint of log %q, not the pinned %q", truncate(c.Origin), truncate(p.Origin))
	}
	times := make([]int64, len(p.nodes))
	for i := range times {
		times[i] = -1
	}
	var future int
	for _, s := range sigs {
		k := noteKey{s.name, s.hash}
		if k == p.log {
			if !ed25519.Verify(p.logKey, []byte(text), s.sig) {
				return nil, fail(Quorum, "the log's signature does not verify")
			}
			c.Seen.LogSigned = true
			continue
		}
		if w, ok := p.witnesses[k]; ok {
			if len(s.sig) != 8+ed25519.SignatureSize {
				return nil, fail(Quorum, "a cosignature by %q is not 72 bytes", truncate(s.name))
			}
			ts := binary.BigEndian.Uint64(s.sig[:8])
			msg := "cosignature/v1\ntime " + strconv.FormatUint(ts, 10) + "\n" + text
			if ts > 1<<62 || !ed25519.Verify(p.nodes[w].key, []byte(msg), s.sig[8:]) {
				return nil, fail(Quorum, "a cosignature by %q does not verify", truncate(s.name))
			}
			switch {
			case int64(ts) > latest:
				future++
			case int64(ts) > times[w]:
				times[w] = int64(ts)
			}
		}
	}
	for i, t := range times {
		if t >= 0 && p.nodes[i].key != nil {
			c.Seen.Cosignatures = append(c.Seen.Cosignatures, Cosignature{Witness: p.nodes[i].name, Time: time.Unix(t, 0).UTC()})
		}
	}
	qt := p.quorumTime(times)
	if !c.Seen.LogSigned || qt < 0 {
		e := fail(Quorum, "%s", p.describe(&c.Seen, future))
		e.Seen = &c.Seen
		return nil, e
	}
	c.Seen.QuorumTime = time.Unix(qt, 0).UTC()
	return c, nil
}

// describe says who of the pinned log and witnesses signed.
func (p *Policy) describe(s *Seen, future int) string {
	who := "cosigned by no pinned witness"
	if len(s.Cosignatures) > 0 {
		names := make([]string, len(s.Cosignatures))
		for i, c := range s.Cosignatures {
			names[i] = c.Witness
		}
		who = "cosigned only by " + strings.Join(names, ", ")
	}
	if future > 0 {
		who += fmt.Sprintf(" (%d cosignatures dated more than %v ahead not counted)", future, MaxFuture)
	}
	if !s.LogSigned {
		return "not signed by the pinned log, " + who
	}
	return who + ", short of the policy's quorum"
}

type signature struct {
	name string
	hash uint32
	sig  []byte
}

// splitNote splits a C2SP signed note into its text, which ends in a
// newline, and its signature lines "— <name> <base64 of hash and
// signature>", in canonical base64. The note is UTF-8 without control
// characters other than newline and has at most 100 signature lines.
func splitNote(msg []byte) (string, []signature, error) {
	for i := 0; i < len(msg); {
		r, size := utf8.DecodeRune(msg[i:])
		if r < 0x20 && r != '\n' || r == utf8.RuneError && size == 1 {
			return "", nil, fail(NotLogged, "checkpoint is not a signed note: control character or invalid UTF-8")
		}
		i += size
	}
	split := bytes.LastIndex(msg, []byte("\n\n"))
	if split < 0 || !bytes.HasSuffix(msg, []byte("\n")) || split+2 == len(msg) {
		return "", nil, fail(NotLogged, "checkpoint is not a signed note: no signature block")
	}
	text, block := string(msg[:split+1]), string(msg[split+2:])
	lines := strings.Split(strings.TrimSuffix(block, "\n"), "\n")
	if len(lines) > maxSignatures {
		return "", nil, fail(NotLogged, "checkpoint has %d signature lines, limit %d", len(lines), maxSignatures)
	}
	sigs := make([]signature, 0, len(lines))
	for _, line := range lines {
		rest, ok := strings.CutPrefix(line, "— ")
		name, b64, ok2 := strings.Cut(rest, " ")
		b, ok3 := decodeBase64(b64)
		if !ok || !ok2 || !ok3 || !validName(name) || len(b) < 5 {
			return "", nil, fail(NotLogged, "checkpoint signature line %q is malformed", truncate(line))
		}
		sigs = append(sigs, signature{name, binary.BigEndian.Uint32(b), b[4:]})
	}
	return text, sigs, nil
}

// parseCheckpointText parses a checkpoint's text: exactly the origin
// line, the tree size in canonical decimal and the root hash in
// canonical base64 (c2sp.org/tlog-checkpoint, with no extension lines).
func parseCheckpointText(text string) (*Checkpoint, error) {
	lines := strings.SplitAfter(text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		return nil, fail(NotLogged, "checkpoint text is not exactly an origin, a size and a hash line")
	}
	origin := strings.TrimSuffix(lines[0], "\n")
	n, ok1 := parseDecimal(strings.TrimSuffix(lines[1], "\n"))
	h, ok2 := decodeBase64(strings.TrimSuffix(lines[2], "\n"))
	if origin == "" || !ok1 || !ok2 || len(h) != tlog.HashSize {
		return nil, fail(NotLogged, "checkpoint text has a malformed origin, size or hash line")
	}
	return &Checkpoint{Origin: origin, Tree: tlog.Tree{N: n, Hash: tlog.Hash(h)}}, nil
}

// Verify checks that record is the newest record of the log, as proof
// shows, under a checkpoint that the policy accepts at now.
func (p *Policy) Verify(record, proof []byte, now time.Time) (*Checkpoint, error) {
	pr, err := ParseProof(proof)
	if err != nil {
		return nil, err
	}
	cp, err := p.OpenCheckpoint(pr.Checkpoint, now)
	if err != nil {
		return nil, err
	}
	var e *Error
	switch {
	case pr.Index >= cp.N:
		e = fail(NotLogged, "record index %d outside the tree of size %d", pr.Index, cp.N)
	case tlog.CheckRecord(pr.Hashes, cp.N, cp.Hash, pr.Index, tlog.RecordHash(record)) != nil:
		e = fail(NotLogged, "the proof does not show this directory at index %d of the tree of size %d", pr.Index, cp.N)
	case pr.Index != cp.N-1:
		e = fail(NotNewest, "the directory is record %d of a tree of %d: a newer directory is logged", pr.Index, cp.N)
	default:
		return cp, nil
	}
	e.Seen = &cp.Seen
	return nil, e
}

// Extends checks that next extends prev, the last checkpoint accepted:
// the same origin, a tree at least as large, and the same root hash if
// the size is the same. A larger tree is accepted on the witnesses'
// word: each of them cosigns a tree only if it extends every tree it
// cosigned before, and two quorums of more than half of the witnesses
// share one.
func Extends(prev, next *Checkpoint) error {
	var e *Error
	switch {
	case prev == nil:
		return nil
	case next.Origin != prev.Origin:
		e = fail(Inconsistent, "log %q, not the accepted %q", truncate(next.Origin), truncate(prev.Origin))
	case next.N < prev.N:
		e = fail(Inconsistent, "tree of size %d, smaller than the accepted %d", next.N, prev.N)
	case next.N == prev.N && next.Hash != prev.Hash:
		e = fail(Inconsistent, "two different trees of size %d", next.N)
	default:
		return nil
	}
	e.Seen = &next.Seen
	return e
}

// ForLog returns a policy for another log of the same issuer, checked by
// the same witnesses and quorum: the log of the signed-note verifier key
// vkey (the decision log a directory names). Its key must be a valid
// Ed25519 key other than the root's, a witness's or p's log key, and its
// origin another than p's log origin, so that a checkpoint of one log
// can never pass for the other's.
func (p *Policy) ForLog(vkey string) (*Policy, error) {
	name, hash, k, err := parseVKey(vkey, algEd25519)
	if err != nil {
		return nil, fail(NotLogged, "decision log key: %v", err)
	}
	if name == p.Origin {
		return nil, fail(NotLogged, "decision log origin %q is the directory log's", truncate(name))
	}
	if bytes.Equal(k, p.Root) || bytes.Equal(k, p.logKey) {
		return nil, fail(NotLogged, "decision log key is the root or directory log key")
	}
	for _, n := range p.nodes {
		if n.key != nil && bytes.Equal(k, n.key) {
			return nil, fail(NotLogged, "decision log key is witness %q's key", truncate(n.name))
		}
	}
	q := *p
	q.log, q.logKey, q.Origin = noteKey{name, hash}, k, name
	return &q, nil
}

// CheckLogKey checks a log's signed-note verifier key as ParsePolicy
// checks the "log" line, and returns the log's origin.
func CheckLogKey(vkey string) (origin string, err error) {
	name, _, _, err := parseVKey(vkey, algEd25519)
	return name, err
}

// Included checks that record is in the log at the proof's index, under
// a checkpoint signed by the log and a quorum of the witnesses, however
// old: the check of an appeal, made long after the proof was issued.
// The record need not be the newest.
func (p *Policy) Included(record, proof []byte) (*Checkpoint, error) {
	pr, err := ParseProof(proof)
	if err != nil {
		return nil, err
	}
	cp, err := p.OpenPersisted(pr.Checkpoint)
	if err != nil {
		return nil, err
	}
	if err := p.included(record, pr, cp); err != nil {
		return nil, err
	}
	return cp, nil
}

// IncludedAt is Included with the freshness bound of OpenCheckpoint at
// now: the check a wallet makes when it first gets a proof.
func (p *Policy) IncludedAt(record, proof []byte, now time.Time) (*Checkpoint, error) {
	pr, err := ParseProof(proof)
	if err != nil {
		return nil, err
	}
	cp, err := p.OpenCheckpoint(pr.Checkpoint, now)
	if err != nil {
		return nil, err
	}
	if err := p.included(record, pr, cp); err != nil {
		return nil, err
	}
	return cp, nil
}

func (p *Policy) included(record []byte, pr *Proof, cp *Checkpoint) error {
	var e *Error
	switch {
	case pr.Index >= cp.N:
		e = fail(NotLogged, "record index %d outside the tree of size %d", pr.Index, cp.N)
	case tlog.CheckRecord(pr.Hashes, cp.N, cp.Hash, pr.Index, tlog.RecordHash(record)) != nil:
		e = fail(NotLogged, "the proof does not show this record at index %d of the tree of size %d", pr.Index, cp.N)
	default:
		return nil
	}
	e.Seen = &cp.Seen
	return e
}
