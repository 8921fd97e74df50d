package verify

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/statustoken/statustoken/holder"
	"github.com/statustoken/statustoken/internal/format"
	"github.com/statustoken/statustoken/internal/logtest"
	"github.com/statustoken/statustoken/internal/testkeys"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

// testNow is the fixed time of every fixture: noon in the middle of an
// epoch, whatever the epoch length.
var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

var testStatuses = []token.StatusName{{Code: 1, Name: "green"}, {Code: 2, Name: "amber"}, {Code: 3, Name: "red"}}

// fixedBytes returns n deterministic bytes derived from label.
func fixedBytes(label string, n int) []byte {
	var out []byte
	for i := byte(0); len(out) < n; i++ {
		h := sha256.Sum256(append([]byte(label), i))
		out = append(out, h[:]...)
	}
	return out[:n]
}

type fixture struct {
	issuer *issue.Issuer
	root   ed25519.PublicKey
	dir    []byte
	sig    []byte
	v      *Verifier
	holder *holder.Holder
}

// newFixture builds an issuer with fixed seeds publishing both suites for
// the current and next epoch, its directory, a verifier at testNow with no
// skew, and a holder.
func newFixture(t testing.TB, opts *Options) *fixture {
	t.Helper()
	store := issue.NewMemoryKeyStore()
	epoch := uint32(24 * 3600)
	start := uint32(testNow.Unix()) / epoch * epoch
	i := 0
	for e := range uint32(2) {
		for _, s := range testStatuses {
			ref := issue.KeyRef{Status: s.Code, NotBefore: start + e*epoch, EpochLength: epoch}
			if err := store.Put(ref, testkeys.RSA(i)); err != nil {
				t.Fatal(err)
			}
			i++
		}
	}
	rootKey := ed25519.NewKeyFromSeed(fixedBytes("root", 32))
	is, err := issue.NewIssuer(issue.Config{
		RootKey:     rootKey,
		Seed:        fixedBytes("issuer seed", issue.SeedSize),
		EpochLength: 24 * time.Hour,
		MaxLifetime: 48 * time.Hour,
		Statuses:    testStatuses,
		Suites:      []token.Suite{token.Ed25519, token.RSABSSA},
		RSAKeys:     store,
	})
	if err != nil {
		t.Fatal(err)
	}
	dir, sig, err := is.Directory(testNow, 1)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{issuer: is, root: is.RootPublicKey(), dir: dir, sig: sig}
	o := Options{Now: func() time.Time { return testNow }, Skew: -1}
	if opts != nil {
		o = *opts
		if o.Now == nil {
			o.Now = func() time.Time { return testNow }
		}
	}
	if f.v, err = newV(dir, sig, f.root, &o); err != nil {
		t.Fatal(err)
	}
	if f.holder, err = holder.New(published(dir, sig, f.root), trustOf(f.root), &holder.Options{Now: func() time.Time { return testNow }}); err != nil {
		t.Fatal(err)
	}
	return f
}

// edTokens issues n Ed25519 tokens of status at testNow, as binary.
func (f *fixture) edTokens(t testing.TB, status token.Status, n int) [][]byte {
	t.Helper()
	var out [][]byte
	for len(out) < n {
		toks, err := f.issuer.IssueEd25519(status, testNow, min(issue.MaxTokens, n-len(out)))
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range toks {
			raw, err := tok.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, raw)
		}
	}
	return out
}

// rsaTokens issues n rsabssa tokens of status at testNow through the
// blind protocol, as binary.
func (f *fixture) rsaTokens(t testing.TB, status token.Status, n int) [][]byte {
	t.Helper()
	var out [][]byte
	for len(out) < n {
		p, req, err := f.holder.Request(status, testNow, min(issue.MaxTokens, n-len(out)))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := f.issuer.Respond(req, testNow, status)
		if err != nil {
			t.Fatal(err)
		}
		toks, err := f.holder.Finalize(p, resp)
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range toks {
			raw, err := tok.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, raw)
		}
	}
	return out
}

// bg is the context of test calls that need no deadline.
var bg = context.Background()

// message returns the bytes a token's signature covers.
func message(t *token.Token) []byte {
	raw, err := t.MarshalBinary()
	if err != nil {
		// A token under construction may have no signature yet: sign
		// over its header alone.
		t2 := *t
		t2.Signature = make([]byte, t.Suite.SignatureSize())
		if raw, err = t2.MarshalBinary(); err != nil {
			panic(err)
		}
	}
	return format.AppendMessage(nil, raw)
}

// Every directory of these tests is logged in a test log of its root
// key, with three witnesses that cosign at the time the tests start (so
// that proofs are fresh both at testNow and at the real time).
var (
	envTime = time.Now()
	logs    = logtest.NewRegistry(testNow, envTime)
)

// envFor returns the test log of root and its trust policy. A root key
// that ParseTrust refuses (all zeros, of small order, not a key) has no
// trust policy: New then fails with token.ErrMalformedTrust.
func envFor(root ed25519.PublicKey) (*logtest.Env, *token.Trust) {
	e := logs.Env(root)
	tr, _ := token.ParseTrust(e.Policy())
	return e, tr
}

// published logs directory bytes in root's test log and returns them
// with sig and their proof.
func published(dir, sig []byte, root ed25519.PublicKey) token.Published {
	return token.Published{Directory: dir, Signature: sig, Proof: logs.Proof(root, dir)}
}

// newV is New for a directory signed by root and logged in root's log.
// A root key that no trust policy can pin gets the policy's error.
func newV(dir, sig []byte, root ed25519.PublicKey, opts *Options) (*Verifier, error) {
	e, _ := envFor(root)
	tr, err := token.ParseTrust(e.Policy())
	if err != nil {
		return nil, err
	}
	return New(published(dir, sig, root), tr, opts)
}

// updateV is v.Update for a directory logged in the log of v's root.
func updateV(v *Verifier, dir, sig []byte) (*Verifier, error) {
	var root ed25519.PublicKey
	if v != nil {
		root = v.trust.Root()
	}
	return v.Update(published(dir, sig, root))
}

// trustOf returns the trust policy of root's test log.
func trustOf(root ed25519.PublicKey) *token.Trust {
	_, tr := envFor(root)
	return tr
}

// issuerSign signs directory bytes with the fixture's root key.
func (f *fixture) issuerSign(t testing.TB, data []byte) []byte {
	t.Helper()
	return ed25519.Sign(ed25519.NewKeyFromSeed(fixedBytes("root", 32)), format.DirectoryMessage(data))
}
