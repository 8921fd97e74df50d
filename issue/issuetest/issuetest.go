// Package issuetest is the test kit of statustoken: witness keys that
// cosign a log checkpoint at a chosen time, and a whole publisher in
// memory (an [issue.Issuer], its [issue.Log], witnesses and the trust
// policy that pins them), so that tests and examples get a directory with
// a valid log proof in a few lines. [NewPublisher] and
// [Publisher.Publish] are what most tests want.
//
// It is for tests and examples only, never for a deployment: every key is
// held in memory, and its witnesses are keys in the same process that
// cosign whatever they are given, without checking that a checkpoint
// extends the ones they cosigned before, as a real witness
// (c2sp.org/tlog-witness, such as litewitness) must. A publisher built
// with it proves nothing to anyone but the test that built it.
//
// # Security considerations
//
// A trust policy that pins a Publisher's witnesses trusts keys that
// whoever runs the test holds. [Key] derives keys from public labels:
// anyone can compute them.
package issuetest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/statustoken/statustoken/internal/logtest"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

// Key returns the Ed25519 private key derived from label: the same label
// always gives the same key, for tests that need fixed keys (the key of
// a witness, of a root, of a log). Its seed is SHA-256 of
// "statustoken logtest " followed by label, the derivation of the public
// test vectors in token/testdata. Anyone can compute it.
func Key(label string) ed25519.PrivateKey { return logtest.Key(label) }

// Witness is a witness's Ed25519 cosignature key in memory
// (c2sp.org/tlog-cosignature, version 1). It signs every checkpoint it is
// given: it keeps no state and checks no consistency.
type Witness struct {
	w    *logtest.Witness
	vkey string
}

// NewWitness returns the witness named name (a note key name, URL-like
// such as "w1.example") with the Ed25519 private key key, or with a new
// random key if key is nil.
func NewWitness(name string, key ed25519.PrivateKey) (*Witness, error) {
	if name == "" || !utf8.ValidString(name) || strings.ContainsRune(name, '+') || strings.IndexFunc(name, unicode.IsSpace) >= 0 {
		return nil, fmt.Errorf("issuetest: witness name %q is not a note key name", name)
	}
	if key == nil {
		var err error
		if _, key, err = ed25519.GenerateKey(rand.Reader); err != nil {
			return nil, err
		}
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("issuetest: witness key of %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	w := logtest.NewWitnessKey(name, bytes.Clone(key))
	return &Witness{w: w, vkey: w.VerifierKey()}, nil
}

// Name returns the witness's name, as trust policies and signature lines
// name it.
func (w *Witness) Name() string { return w.w.Name }

// VerifierKey returns the witness's c2sp.org/tlog-cosignature vkey, for
// the "witness" line of a trust policy: "<name>+<key hash>+<base64 of
// 0x04 and the public key>".
func (w *Witness) VerifierKey() string { return w.vkey }

// Cosign returns the witness's cosignature of the signed checkpoint at
// time t, truncated to the second: one signature line, "— <name>
// <base64>\n", as a witness answers a c2sp.org/tlog-witness
// add-checkpoint request, ready for [issue.Log.Cosigned]. The signature is
// t in seconds, 8 bytes big-endian, then the Ed25519 signature of
// "cosignature/v1", "time <t>" and the checkpoint's text
// (c2sp.org/tlog-cosignature). The checkpoint's own signatures are not
// checked.
func (w *Witness) Cosign(checkpoint []byte, t time.Time) ([]byte, error) {
	if !bytes.Contains(checkpoint, []byte("\n\n")) {
		return nil, errors.New("issuetest: the checkpoint is not a signed note")
	}
	return w.w.Cosign(checkpoint, t)
}

// TrustPolicy returns the text of a trust policy (token/SPEC.md, "Trust
// policy") that pins the root public key root, the log's vkey logVKey and
// witnesses, one group "witnesses" of all of them with a quorum of a
// strict majority (2 of 3), and the freshness bound maxAge. Parse it with
// [token.ParseTrust].
func TrustPolicy(root ed25519.PublicKey, logVKey string, witnesses []*Witness, maxAge time.Duration) []byte {
	ws := make([]*logtest.Witness, len(witnesses))
	for i, w := range witnesses {
		ws[i] = w.w
	}
	return logtest.Policy(root, logVKey, ws, len(witnesses)/2+1, maxAge)
}

// DefaultOrigin is the log origin of a Publisher whose Options name none.
const DefaultOrigin = "example.org/health/directory"

// Options are a Publisher's settings. The zero value is three witnesses,
// w1.example to w3.example, of which w1 and w2 cosign at the time of
// publication; a 48-hour freshness bound; and the log origin
// DefaultOrigin.
type Options struct {
	// Origin is the log's origin line.
	Origin string
	// Witnesses is the number of witnesses, named w1.example, w2.example
	// and so on, each with a new random key.
	Witnesses int
	// MaxAge is the trust policy's freshness bound.
	MaxAge time.Duration
	// Cosigners say which witnesses cosign the checkpoints of Publish and
	// when; none: the first Quorum witnesses, at the time of publication.
	Cosigners []Cosigner
}

// Cosigner is one witness cosigning a checkpoint.
type Cosigner struct {
	// Witness is the witness's index in Publisher.Witnesses.
	Witness int
	// Time is the time the cosignature carries; zero: the time of
	// publication.
	Time time.Time
}

// Publisher is an issuer that publishes its directories through a log in
// memory that its witnesses cosign, with the trust policy that wallets
// and scanners of a test pin. NewPublisher sets its fields. A test may
// replace Log (with another issue.Log under LogKey, for a fork) or
// Witnesses between calls, or put a Publisher together from a log and
// witnesses of its own, for directories its own issuer signs:
// PublishDirectory, Prove and Cosigned use only Log, Witnesses and
// Quorum (a strict majority of the witnesses where it is zero). Its
// methods are safe for concurrent use while the fields do not change;
// the log takes directories in the order the calls reach it, and refuses
// a serial that does not increase.
type Publisher struct {
	Issuer *issue.Issuer
	// RootKey is the issuer's root private key, for tests that sign
	// directories of their own.
	RootKey ed25519.PrivateKey
	Log     *issue.Log
	// LogKey is the log's note signer key, for tests that fork the log
	// as an authority holding it could.
	LogKey    string
	Witnesses []*Witness
	// Quorum is how many witnesses the trust policy requires: a strict
	// majority.
	Quorum int
	// TrustText is the trust policy's text; Trust is it parsed.
	TrustText []byte
	Trust     *token.Trust

	cosigners []Cosigner
}

// NewPublisher returns a Publisher of a new issuer with cfg, which gets a
// new random root key and seed where cfg has none, and an empty log.
func NewPublisher(cfg issue.Config, opts *Options) (*Publisher, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Origin == "" {
		o.Origin = DefaultOrigin
	}
	if o.Witnesses == 0 {
		o.Witnesses = 3
	}
	if o.MaxAge == 0 {
		o.MaxAge = 48 * time.Hour
	}
	if o.Witnesses < 0 || o.Witnesses > 100 {
		return nil, fmt.Errorf("issuetest: %d witnesses, want 1 to 100", o.Witnesses)
	}
	p := &Publisher{Quorum: o.Witnesses/2 + 1}
	for _, c := range o.Cosigners {
		if c.Witness < 0 || c.Witness >= o.Witnesses {
			return nil, fmt.Errorf("issuetest: cosigner %d of %d witnesses", c.Witness, o.Witnesses)
		}
	}
	p.cosigners = append([]Cosigner(nil), o.Cosigners...)

	if cfg.RootKey == nil {
		_, root, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		cfg.RootKey = root
	}
	if cfg.Seed == nil {
		cfg.Seed = make([]byte, issue.SeedSize)
		if _, err := rand.Read(cfg.Seed); err != nil {
			return nil, err
		}
	}
	var err error
	if p.Issuer, err = issue.NewIssuer(cfg); err != nil {
		return nil, err
	}
	p.RootKey = cfg.RootKey
	var logVKey string
	if p.LogKey, logVKey, err = issue.GenerateLogKey(o.Origin); err != nil {
		return nil, err
	}
	if p.Log, err = issue.NewLog(p.LogKey, nil); err != nil {
		return nil, err
	}
	for i := range o.Witnesses {
		w, err := NewWitness(fmt.Sprintf("w%d.example", i+1), nil)
		if err != nil {
			return nil, err
		}
		p.Witnesses = append(p.Witnesses, w)
	}
	p.TrustText = TrustPolicy(p.Issuer.RootPublicKey(), logVKey, p.Witnesses, o.MaxAge)
	if p.Trust, err = token.ParseTrust(p.TrustText); err != nil {
		return nil, err
	}
	return p, nil
}

// Publish makes the issuer's directory at now with serial and publishes
// it as PublishDirectory does, with the Options' cosigners.
func (p *Publisher) Publish(now time.Time, serial uint64) (token.Published, error) {
	dir, sig, err := p.Issuer.Directory(now, serial)
	if err != nil {
		return token.Published{}, err
	}
	return p.PublishDirectory(dir, sig, now)
}

// PublishDirectory appends the record of the directory bytes dir to the
// log and returns dir published with its root signature sig and a proof
// under the log's new checkpoint, cosigned by cosigners (none: the
// Options' cosigners) with the time now where a Cosigner has none. The
// log refuses a directory whose serial is not higher than the last one's.
func (p *Publisher) PublishDirectory(dir, sig []byte, now time.Time, cosigners ...Cosigner) (token.Published, error) {
	index, err := p.Log.AppendDirectory(dir)
	if err != nil {
		return token.Published{}, err
	}
	proof, err := p.Prove(index, now, cosigners...)
	if err != nil {
		return token.Published{}, err
	}
	return token.Published{Directory: dir, Signature: sig, Proof: proof}, nil
}

// Prove returns the proof (c2sp.org/tlog-proof@v1) of the log's record at
// index under the log's current checkpoint, cosigned as Cosigned says.
func (p *Publisher) Prove(index int64, now time.Time, cosigners ...Cosigner) ([]byte, error) {
	checkpoint, err := p.Cosigned(now, cosigners...)
	if err != nil {
		return nil, err
	}
	return p.Log.Proof(index, checkpoint)
}

// Cosigned returns the log's current checkpoint with the cosignatures of
// cosigners (none: the Options' cosigners), each at its Time, or at now
// if it has none. For a checkpoint with the log's signature only, call
// p.Log.Checkpoint.
func (p *Publisher) Cosigned(now time.Time, cosigners ...Cosigner) ([]byte, error) {
	if len(cosigners) == 0 {
		cosigners = p.cosigners
	}
	if len(cosigners) == 0 {
		q := p.Quorum
		if q == 0 {
			q = len(p.Witnesses)/2 + 1
		}
		for i := range min(q, len(p.Witnesses)) {
			cosigners = append(cosigners, Cosigner{Witness: i})
		}
	}
	checkpoint, err := p.Log.Checkpoint()
	if err != nil {
		return nil, err
	}
	lines := make([][]byte, len(cosigners))
	for i, c := range cosigners {
		if c.Witness < 0 || c.Witness >= len(p.Witnesses) {
			return nil, fmt.Errorf("issuetest: cosigner %d of %d witnesses", c.Witness, len(p.Witnesses))
		}
		at := c.Time
		if at.IsZero() {
			at = now
		}
		if lines[i], err = p.Witnesses[c.Witness].Cosign(checkpoint, at); err != nil {
			return nil, err
		}
	}
	return p.Log.Cosigned(checkpoint, lines...)
}
