// Package logtest builds the directory transparency fixtures that the
// public test kit, issue/issuetest, cannot: a rogue log in memory that
// appends any record in any order (a rollback, two directories of one
// serial, bytes that are no directory, a fork), which issue.Log refuses
// by design and the kit therefore does not export; and the witness key
// (c2sp.org/tlog-cosignature v1 at a chosen time) that issuetest.Witness
// wraps, here because the tests of package issue itself cannot import
// issuetest, which imports issue. Keys are deterministic, derived from
// labels, so that the public test vectors (token/testdata) are stable.
// Nothing here checks consistency as a witness must.
package logtest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/statustoken/statustoken/internal/logtree"
	"github.com/statustoken/statustoken/internal/transparency"
	"golang.org/x/mod/sumdb/note"
)

// Key returns a deterministic Ed25519 key for label.
func Key(label string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("statustoken logtest " + label))
	return ed25519.NewKeyFromSeed(seed[:])
}

// Witness is a witness key.
type Witness struct {
	Name string
	key  ed25519.PrivateKey
}

// NewWitness returns the witness name with a key derived from its name.
func NewWitness(name string) *Witness { return NewWitnessKey(name, Key("witness "+name)) }

// NewWitnessKey returns the witness name with the Ed25519 key key.
func NewWitnessKey(name string, key ed25519.PrivateKey) *Witness {
	return &Witness{Name: name, key: key}
}

func (w *Witness) encodedKey() []byte {
	return append([]byte{0x04}, w.key.Public().(ed25519.PublicKey)...)
}

// KeyHash is the witness key's hash in signature lines.
func (w *Witness) KeyHash() uint32 {
	h := sha256.Sum256(append([]byte(w.Name+"\n"), w.encodedKey()...))
	return binary.BigEndian.Uint32(h[:4])
}

// VerifierKey returns the witness's c2sp.org/tlog-cosignature vkey.
func (w *Witness) VerifierKey() string {
	return fmt.Sprintf("%s+%08x+%s", w.Name, w.KeyHash(), base64.StdEncoding.EncodeToString(w.encodedKey()))
}

// At returns a note.Signer that cosigns (c2sp.org/tlog-cosignature v1)
// with timestamp t.
func (w *Witness) At(t time.Time) note.Signer { return cosigner{w, uint64(t.Unix())} }

// Cosign returns the witness's signature line over the text of the
// signed note checkpoint with timestamp t, "— <name> <base64>\n", as a
// witness answers a c2sp.org/tlog-witness add-checkpoint request.
func (w *Witness) Cosign(checkpoint []byte, t time.Time) ([]byte, error) {
	text, _, ok := strings.Cut(string(checkpoint), "\n\n")
	if !ok {
		return nil, errors.New("logtest: not a signed note")
	}
	signed, err := note.Sign(&note.Note{Text: text + "\n"}, w.At(t))
	if err != nil {
		return nil, err
	}
	return signed[len(text)+2:], nil
}

type cosigner struct {
	w *Witness
	t uint64
}

func (c cosigner) Name() string    { return c.w.Name }
func (c cosigner) KeyHash() uint32 { return c.w.KeyHash() }
func (c cosigner) Sign(msg []byte) ([]byte, error) {
	m := fmt.Sprintf("cosignature/v1\ntime %d\n%s", c.t, msg)
	sig := binary.BigEndian.AppendUint64(nil, c.t)
	return append(sig, ed25519.Sign(c.w.key, []byte(m))...), nil
}

// Log is a log in memory with its signer.
type Log struct {
	Tree   logtree.Tree
	signer note.Signer
	vkey   string
}

// NewLog returns an empty log of origin with a key derived from it.
func NewLog(origin string) *Log {
	k := Key("log " + origin)
	skey := "PRIVATE+KEY+" + origin + "+" + fmt.Sprintf("%08x", noteKeyHash(origin, k)) + "+" +
		base64.StdEncoding.EncodeToString(append([]byte{1}, k.Seed()...))
	s, err := note.NewSigner(skey)
	if err != nil {
		panic("logtest: " + err.Error())
	}
	vkey, err := note.NewEd25519VerifierKey(origin, k.Public().(ed25519.PublicKey))
	if err != nil {
		panic("logtest: " + err.Error())
	}
	return &Log{signer: s, vkey: vkey}
}

func noteKeyHash(name string, k ed25519.PrivateKey) uint32 {
	h := sha256.Sum256(append([]byte(name+"\n\x01"), k.Public().(ed25519.PublicKey)...))
	return binary.BigEndian.Uint32(h[:4])
}

// VerifierKey returns the log's vkey.
func (l *Log) VerifierKey() string { return l.vkey }

// Origin returns the log's origin.
func (l *Log) Origin() string { return l.signer.Name() }

// Append adds the record of the directory data with serial and returns
// its index.
func (l *Log) Append(serial uint64, data []byte) int64 {
	if err := l.Tree.Append(transparency.Record(serial, data)); err != nil {
		panic("logtest: " + err.Error())
	}
	return l.Tree.Size() - 1
}

// Checkpoint returns the current checkpoint, signed by the log and by
// each of cosigners.
func (l *Log) Checkpoint(cosigners ...note.Signer) []byte {
	c, err := l.Tree.Checkpoint(l.signer)
	if err != nil {
		panic("logtest: " + err.Error())
	}
	if len(cosigners) == 0 {
		return c
	}
	return Cosign(c, cosigners...)
}

// Cosign adds cosigners' signatures to a signed note.
func Cosign(signed []byte, cosigners ...note.Signer) []byte {
	text, sigs, ok := strings.Cut(string(signed), "\n\n")
	if !ok {
		panic("logtest: not a signed note")
	}
	n := &note.Note{Text: text + "\n"}
	out, err := note.Sign(n, cosigners...)
	if err != nil {
		panic("logtest: " + err.Error())
	}
	// note.Sign writes only the new signatures; keep the old ones first.
	return []byte(text + "\n\n" + sigs + strings.TrimPrefix(string(out), text+"\n\n"))
}

// Proof returns the proof bundle of record i under checkpoint, which must
// describe the log's current tree.
func (l *Log) Proof(i int64, checkpoint []byte) []byte {
	p, err := l.Tree.Proof(i, l.Tree.Size(), checkpoint)
	if err != nil {
		panic("logtest: " + err.Error())
	}
	return p
}

// Policy returns a trust policy text for root, this log, witnesses with
// a quorum of q, and maxAge.
func (l *Log) Policy(root ed25519.PublicKey, witnesses []*Witness, q int, maxAge time.Duration) []byte {
	return Policy(root, l.vkey, witnesses, q, maxAge)
}

// Policy returns a trust policy text for root, the log of vkey logVKey,
// witnesses in one group with a quorum of q, and maxAge.
func Policy(root ed25519.PublicKey, logVKey string, witnesses []*Witness, q int, maxAge time.Duration) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "root %s\n", base64.StdEncoding.EncodeToString(root))
	fmt.Fprintf(&b, "log %s\n", logVKey)
	var names []string
	for _, w := range witnesses {
		fmt.Fprintf(&b, "witness %s %s\n", w.Name, w.VerifierKey())
		names = append(names, w.Name)
	}
	fmt.Fprintf(&b, "group witnesses %d %s\n", q, strings.Join(names, " "))
	fmt.Fprintf(&b, "quorum witnesses\n")
	fmt.Fprintf(&b, "max-age %v\n", maxAge)
	return []byte(b.String())
}

// Env is a log with three witnesses w1, w2 and w3 for tests: a 2 of 3
// quorum and a 48-hour freshness bound, for a root key.
type Env struct {
	Log       *Log
	Witnesses []*Witness
	Root      ed25519.PublicKey
	// Times are the timestamps of the witnesses' cosignatures: each
	// witness cosigns once at each.
	Times []time.Time
}

// Origin is the log origin of every Env.
const Origin = "statustoken.example/test/directory"

// NewEnv returns an empty Env for root whose witnesses cosign at each of
// times.
func NewEnv(root ed25519.PublicKey, times ...time.Time) *Env {
	e := &Env{Log: NewLog(Origin), Root: root, Times: times}
	for _, n := range []string{"w1.example", "w2.example", "w3.example"} {
		e.Witnesses = append(e.Witnesses, NewWitness(n))
	}
	return e
}

// Policy returns the Env's trust policy text.
func (e *Env) Policy() []byte { return e.Log.Policy(e.Root, e.Witnesses, 2, 48*time.Hour) }

// Proof appends the record of directory bytes data and returns its proof
// under a checkpoint cosigned by w1 and w2 at each of e.Times. The serial
// is read from data's "serial" member (0 if it has none).
func (e *Env) Proof(data []byte) []byte {
	var d struct{ Serial uint64 }
	json.Unmarshal(data, &d)
	i := e.Log.Append(d.Serial, data)
	c := e.Log.Checkpoint()
	for _, t := range e.Times {
		c = Cosign(c, e.Witnesses[0].At(t), e.Witnesses[1].At(t))
	}
	return e.Log.Proof(i, c)
}

// Registry keeps one Env per root key, for tests that log the directories
// of several issuers. It is safe for concurrent use.
type Registry struct {
	mu    sync.Mutex
	times []time.Time
	envs  map[string]*Env
}

// NewRegistry returns a Registry whose witnesses cosign at each of times.
func NewRegistry(times ...time.Time) *Registry {
	return &Registry{times: times, envs: map[string]*Env{}}
}

// Env returns the Env of root; a root that is not 32 bytes long gets the
// Env of the all-zero key (which a trust policy cannot pin).
func (r *Registry) Env(root ed25519.PublicKey) *Env {
	if len(root) != ed25519.PublicKeySize {
		root = make(ed25519.PublicKey, ed25519.PublicKeySize)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.envs[string(root)]
	if !ok {
		e = NewEnv(bytes.Clone(root), r.times...)
		r.envs[string(root)] = e
	}
	return e
}

// Proof logs the directory bytes data in root's Env and returns its
// proof (Env.Proof).
func (r *Registry) Proof(root ed25519.PublicKey, data []byte) []byte {
	e := r.Env(root)
	r.mu.Lock()
	defer r.mu.Unlock()
	return e.Proof(data)
}
