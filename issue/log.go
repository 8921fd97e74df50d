package issue

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"filippo.io/torchwood"
	"github.com/statustoken/statustoken/internal/logtree"
	"github.com/statustoken/statustoken/token"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// ErrLog: a log operation was refused: a record that is not the log
// record of a valid directory, a serial that does not increase along the
// log (in AppendDirectory, or in the records passed to NewLog), or a tree
// size, index, tile or checkpoint that the log does not have. The
// caller's request is wrong; the log is unchanged.
var ErrLog = errors.New("issue: log request refused")

// Log is the issuer's append-only transparency log of directory versions
// (token/SPEC.md, "Directory transparency"): an RFC 6962 Merkle tree of
// the records of every directory the issuer publishes, with checkpoints
// signed by the log's note key (c2sp.org/tlog-checkpoint), proofs in the
// c2sp.org/tlog-proof format, and tiles in the c2sp.org/tlog-tiles layout.
//
// A Log keeps its records and tree hashes in memory (about 130 bytes per
// record); the caller stores the records it appends and passes them back
// to NewLog after a restart. It is safe for concurrent use.
type Log struct {
	signer      note.Signer
	verifier    note.Verifier
	verifierKey string

	mu   sync.Mutex
	tree logtree.Tree
	last uint64 // the serial of the last record, if any
}

// GenerateLogKey returns a new note signer key and its verifier key for a
// log whose checkpoints name origin, such as "example.org/health/directory".
// Keep skey like a private key; wallets and scanners pin vkey in their
// trust policy.
func GenerateLogKey(origin string) (skey, vkey string, err error) {
	skey, vkey, err = note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return "", "", fmt.Errorf("%w: origin %q: %v", ErrConfig, origin, err)
	}
	return skey, vkey, nil
}

// NewLog returns the log signed with the note signer key skey, holding
// records, the records appended before (in order), each checked to be a
// directory record with a serial higher than the one before it, as
// AppendDirectory checks: stored records out of order are refused with
// ErrLog, never replayed into a log that breaks the rule.
func NewLog(skey string, records [][]byte) (*Log, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("%w: the log key is not a note signer key", ErrConfig)
	}
	v, err := torchwood.NewVerifierFromSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("%w: the log key is not a note signer key", ErrConfig)
	}
	vkey, err := verifierKey(skey)
	if err != nil {
		return nil, fmt.Errorf("%w: the log key is not an Ed25519 note signer key", ErrConfig)
	}
	l := &Log{signer: s, verifier: v, verifierKey: vkey}
	for i, r := range records {
		if err := l.append(r); err != nil {
			return nil, fmt.Errorf("%w: record %d: %v", ErrLog, i, err)
		}
	}
	return l, nil
}

// verifierKey returns the vkey of an Ed25519 note signer key,
// "PRIVATE+KEY+<name>+<hash>+<base64 of 0x01 || seed>".
func verifierKey(skey string) (string, error) {
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return "", errors.New("not a signer key")
	}
	k, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(k) != 1+ed25519.SeedSize || k[0] != 1 {
		return "", errors.New("not an Ed25519 signer key")
	}
	pub := ed25519.NewKeyFromSeed(k[1:]).Public().(ed25519.PublicKey)
	return note.NewEd25519VerifierKey(parts[2], pub)
}

// Origin returns the origin line of the log's checkpoints.
func (l *Log) Origin() string { return l.signer.Name() }

// VerifierKey returns the log's verifier key (vkey), for trust policies.
func (l *Log) VerifierKey() string { return l.verifierKey }

// append adds record, a directory record whose serial must be higher than
// that of the last record; l.mu is held, or l is not shared yet.
func (l *Log) append(record []byte) error {
	serial, _, err := token.ParseLogRecord(record)
	if err != nil {
		return err
	}
	if l.tree.Size() > 0 && serial <= l.last {
		return fmt.Errorf("serial %d after serial %d: serials must increase along the log", serial, l.last)
	}
	if err := l.tree.Append(record); err != nil {
		return err
	}
	l.last = serial
	return nil
}

// AppendDirectory appends the log record of the directory bytes data
// (token.LogRecord) and returns its index. The directory's serial must be
// higher than that of the log's last record. Publish a directory only after
// its record is in a checkpoint that the witnesses have cosigned.
func (l *Log) AppendDirectory(data []byte) (int64, error) {
	r, err := token.LogRecord(data)
	if err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.append(r); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrLog, err)
	}
	return l.tree.Size() - 1, nil
}

// Size returns the number of records in the log.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tree.Size()
}

// Record returns the record at index i.
func (l *Log) Record(i int64) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i < 0 || i >= l.tree.Size() {
		return nil, fmt.Errorf("%w: no record %d in a log of %d", ErrLog, i, l.tree.Size())
	}
	return l.tree.Record(i), nil
}

// Checkpoint returns the current tree's checkpoint signed by the log:
// the note that witnesses cosign.
func (l *Log) Checkpoint() ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, err := l.tree.Checkpoint(l.signer)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLog, err)
	}
	return c, nil
}

// Proof returns the c2sp.org/tlog-proof@v1 bundle that shows the record
// at index i in the tree of checkpoint, a checkpoint of this log with the
// witnesses' cosignatures added: the proof that wallets and scanners
// check with the directory. The cosignatures are not checked here.
func (l *Log) Proof(i int64, checkpoint []byte) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, err := l.treeOfLocked(checkpoint)
	if err != nil {
		return nil, err
	}
	p, err := l.tree.Proof(i, t.N, checkpoint)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLog, err)
	}
	return p, nil
}

// WitnessRequest returns the body of a c2sp.org/tlog-witness
// add-checkpoint request for checkpoint, a checkpoint of this log, to a
// witness whose latest cosigned tree has oldSize records: "old N", the
// consistency proof from that tree to the checkpoint's, an empty line
// and the checkpoint.
func (l *Log) WitnessRequest(oldSize int64, checkpoint []byte) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, err := l.treeOfLocked(checkpoint)
	if err != nil {
		return nil, err
	}
	b, err := l.tree.WitnessRequest(oldSize, t.N, checkpoint)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLog, err)
	}
	return b, nil
}

// Cosigned returns checkpoint, a checkpoint of this log, with the
// cosignature lines that witnesses returned for it added (the body of a
// c2sp.org/tlog-witness add-checkpoint response: lines
// "— <name> <base64>"). Each line must be a well-formed signature line
// (c2sp.org/signed-note: a key name without spaces or "+", and the key
// hash and signature in base64); whether it verifies is for wallets and
// scanners to check.
//
// The result has one line per key (name and key hash), so that a
// witness that cosigned again is read at its newest time: where
// checkpoint already has a line of a key, or several lines of one key
// are given, the line kept is the newest cosignature by its timestamp
// (c2sp.org/tlog-cosignature), in the place of the first line of that
// key; a line without a timestamp is kept only if it came first. The
// log's own signature is never replaced.
func (l *Log) Cosigned(checkpoint []byte, cosignatures ...[]byte) ([]byte, error) {
	if _, err := l.treeOf(checkpoint); err != nil {
		return nil, err
	}
	// A note that opened ends with a blank line and its signature lines.
	split := bytes.LastIndex(checkpoint, []byte("\n\n")) + 2
	var lines sigLines
	lines.log = noteKey{l.verifier.Name(), l.verifier.KeyHash()}
	for _, line := range strings.SplitAfter(string(checkpoint[split:]), "\n") {
		if line == "" {
			continue
		}
		s, ok := parseSigLine(line, false)
		if !ok {
			return nil, fmt.Errorf("%w: %q is not a signature line", ErrLog, truncateString(line))
		}
		lines.add(s)
	}
	for _, c := range cosignatures {
		for _, line := range strings.SplitAfter(string(c), "\n") {
			if line == "" {
				continue
			}
			s, ok := parseSigLine(line, true)
			if !ok {
				return nil, fmt.Errorf("%w: %q is not a signature line", ErrLog, truncateString(line))
			}
			lines.add(s)
		}
	}
	out := bytes.Clone(checkpoint[:split])
	for _, s := range lines.lines {
		out = append(out, s.line...)
	}
	return out, nil
}

// noteKey names a note signing key: its name and key hash.
type noteKey struct {
	name string
	hash uint32
}

// sigLine is a signature line of a note, "— <name> <base64>\n", where the
// base64 decodes to the key hash (4 bytes) and the signature; a
// c2sp.org/tlog-cosignature/v1 signature is a timestamp (8 bytes) and an
// Ed25519 signature (64 bytes).
type sigLine struct {
	line    string
	key     noteKey
	time    uint64
	hasTime bool
}

// cosignatureSize is the length of a decoded cosignature/v1 line: key
// hash, timestamp and Ed25519 signature.
const cosignatureSize = 4 + 8 + ed25519.SignatureSize

// parseSigLine parses a signature line as golang.org/x/mod/sumdb/note
// reads it; if canonical, its base64 must also be the canonical encoding
// (no line breaks, which a decoder skips, and no stray padding bits).
func parseSigLine(line string, canonical bool) (sigLine, bool) {
	rest, ok := strings.CutPrefix(line, "— ")
	if !ok {
		return sigLine{}, false
	}
	rest, ok = strings.CutSuffix(rest, "\n")
	if !ok {
		return sigLine{}, false
	}
	name, b64, ok := strings.Cut(rest, " ")
	if !ok || !validKeyName(name) {
		return sigLine{}, false
	}
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(sig) < 5 || canonical && base64.StdEncoding.EncodeToString(sig) != b64 {
		return sigLine{}, false
	}
	s := sigLine{line: line, key: noteKey{name, binary.BigEndian.Uint32(sig)}}
	if len(sig) == cosignatureSize {
		s.time, s.hasTime = binary.BigEndian.Uint64(sig[4:]), true
	}
	return s, true
}

// validKeyName reports whether name can name a note key: not empty,
// UTF-8 without spaces, control characters or "+".
func validKeyName(name string) bool {
	if name == "" || !utf8.ValidString(name) || strings.Contains(name, "+") {
		return false
	}
	for _, r := range name {
		if unicode.IsSpace(r) || r < 0x20 {
			return false
		}
	}
	return true
}

// sigLines is a note's signature lines, one per key.
type sigLines struct {
	log   noteKey // the log's key, whose line is never replaced
	lines []sigLine
	index map[noteKey]int
}

// add adds s, or puts it in the place of the line of the same key if s is
// a newer cosignature.
func (ls *sigLines) add(s sigLine) {
	i, ok := ls.index[s.key]
	if !ok {
		if ls.index == nil {
			ls.index = make(map[noteKey]int)
		}
		ls.index[s.key] = len(ls.lines)
		ls.lines = append(ls.lines, s)
		return
	}
	if old := ls.lines[i]; s.key != ls.log && s.hasTime && (!old.hasTime || s.time > old.time) {
		ls.lines[i] = s
	}
}

func (l *Log) treeOf(checkpoint []byte) (tlog.Tree, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.treeOfLocked(checkpoint)
}

// treeOfLocked returns the tree of a checkpoint of this log; l.mu is held.
func (l *Log) treeOfLocked(checkpoint []byte) (tlog.Tree, error) {
	t, err := l.tree.TreeOf(checkpoint, l.verifier)
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("%w: %v", ErrLog, err)
	}
	return t, nil
}

// Tile returns the tile at path in the c2sp.org/tlog-tiles layout
// (token/SPEC.md, "Directory transparency"): "tile/<L>/<N>[.p/<W>]" for
// the hashes of level L, "tile/entries/<N>[.p/<W>]" for records in entry
// bundles, for a tile within the current tree. A partial tile is served
// at the right edge of the tree, and also where a tree the log had before
// ended (a prefix of a full tile, as a client holding an older
// checkpoint asks for it). Any other path, one that is not in the
// canonical spelling, or a tile beyond the tree, is refused with ErrLog.
func (l *Log) Tile(path string) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, err := l.tree.Tile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: tile %q: %v", ErrLog, truncateString(path), err)
	}
	return b, nil
}

func truncateString(s string) string {
	if len(s) > 60 {
		return s[:60]
	}
	return s
}
