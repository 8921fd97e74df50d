package holder

import (
	"crypto/ed25519"
	"crypto/sha256"
	"math/big"
	"testing"
	"time"

	"github.com/statustoken/statustoken/internal/format"
	"github.com/statustoken/statustoken/internal/logtest"
	"github.com/statustoken/statustoken/internal/rsabssa"
	"github.com/statustoken/statustoken/internal/testkeys"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

var testStatuses = []token.StatusName{{Code: 1, Name: "green"}, {Code: 2, Name: "red"}}

func fixedBytes(label string, n int) []byte {
	var out []byte
	for i := byte(0); len(out) < n; i++ {
		h := sha256.Sum256(append([]byte(label), i))
		out = append(out, h[:]...)
	}
	return out[:n]
}

// testRootKey is the issuers' root private key.
func testRootKey() ed25519.PrivateKey { return ed25519.NewKeyFromSeed(fixedBytes("root", 32)) }

// testStore returns a key store holding pre-generated keys for both
// statuses in the three epochs from testNow's: test keys 0 to 3 for the
// current and next epoch, 5 and 6 for the one after. Test key 4 is in no
// store: a tagging key.
func testStore(t testing.TB) *issue.MemoryKeyStore {
	s := issue.NewMemoryKeyStore()
	start := uint32(testNow.Unix()) / 86400 * 86400
	keys := []int{0, 1, 2, 3, 5, 6}
	for e := range uint32(3) {
		for j, st := range testStatuses {
			ref := issue.KeyRef{Status: st.Code, NotBefore: start + e*86400, EpochLength: 86400}
			if err := s.Put(ref, testkeys.RSA(keys[int(e)*2+j])); err != nil {
				t.Fatal(err)
			}
		}
	}
	return s
}

// testIssuer returns an issuer of the test statuses with one-day epochs,
// of the rsabssa suite unless mutate changes its Config.
func testIssuer(t testing.TB, mutate func(c *issue.Config)) *issue.Issuer {
	t.Helper()
	c := issue.Config{
		RootKey:     testRootKey(),
		Seed:        fixedBytes("seed", issue.SeedSize),
		EpochLength: 24 * time.Hour,
		Statuses:    testStatuses,
		Suites:      []token.Suite{token.RSABSSA},
		RSAKeys:     testStore(t),
	}
	if mutate != nil {
		mutate(&c)
	}
	is, err := issue.NewIssuer(c)
	if err != nil {
		t.Fatal(err)
	}
	return is
}

// signedDirectory returns is's directory at `at` with serial.
func signedDirectory(t testing.TB, is *issue.Issuer, at time.Time, serial uint64) (data, sig []byte) {
	t.Helper()
	data, sig, err := is.Directory(at, serial)
	if err != nil {
		t.Fatal(err)
	}
	return data, sig
}

// signDirectory encodes d and signs it with the test root key, the way an
// issuer does: for directories that no Issuer would publish.
func signDirectory(t testing.TB, d *token.Directory) (data, sig []byte) {
	t.Helper()
	data, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return data, ed25519.Sign(testRootKey(), format.DirectoryMessage(data))
}

// testHolder returns a holder of is's directory at testNow, serial 1.
func testHolder(t testing.TB, is *issue.Issuer) *Holder {
	t.Helper()
	data, sig := signedDirectory(t, is, testNow, 1)
	h, err := newH(data, sig, is.RootPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// request returns a pending request of h for n tokens of status at
// testNow, with the issuer's response to it.
func request(t testing.TB, is *issue.Issuer, h *Holder, status token.Status, n int) (*Pending, []byte, []byte) {
	t.Helper()
	p, req, err := h.Request(status, testNow, n)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := is.Respond(req, testNow, status)
	if err != nil {
		t.Fatal(err)
	}
	return p, req, resp
}

// tokenMessage returns the message a token's signature covers.
func tokenMessage(t testing.TB, tok *token.Token) []byte {
	t.Helper()
	raw, err := tok.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return format.AppendMessage(nil, raw[:format.HeaderSize])
}

// checkTokens checks toks against the directory d: each of the rsabssa
// suite, of status, under the key d lists, with fields equal to the key's
// entry and a signature that verifies.
func checkTokens(t testing.TB, d *token.Directory, status token.Status, toks []*token.Token) {
	t.Helper()
	for _, tok := range toks {
		k, ok := d.Lookup(tok.KeyID)
		if !ok || !k.Matches(tok) || tok.Suite != token.RSABSSA || tok.Status != status {
			t.Fatalf("token does not match a directory key: %+v", tok)
		}
		pk, err := rsabssa.ParsePublicKey(k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		if err := pk.Verify(tokenMessage(t, tok), tok.Signature); err != nil {
			t.Fatal(err)
		}
	}
}

// signBlind signs every blinded message of req with k, as an issuer that
// misbehaves would, and returns the response naming id. A message not
// below k's modulus is reduced first.
func signBlind(t testing.TB, k *rsabssa.PrivateKey, id token.KeyID, req []byte) []byte {
	t.Helper()
	_, count, elems, err := format.ParseBlind(req)
	if err != nil {
		t.Fatal(err)
	}
	n := k.Public().RSA().N
	out := format.AppendBlindHeader(nil, (*[format.KeyIDSize]byte)(&id), count)
	for i := range count {
		m := new(big.Int).SetBytes(elems[i*format.ElementSize : (i+1)*format.ElementSize])
		s, err := k.BlindSign(m.Mod(m, n).FillBytes(make([]byte, format.ElementSize)))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s...)
	}
	return out
}

// ed25519Sign signs directory bytes data with the test root key,
// whatever they hold.
func ed25519Sign(data []byte) []byte {
	return ed25519.Sign(testRootKey(), format.DirectoryMessage(data))
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

// newH is New for a directory signed by root and logged in root's log.
// A root key that no trust policy can pin gets the policy's error.
func newH(dir, sig []byte, root ed25519.PublicKey) (*Holder, error) {
	e, _ := envFor(root)
	tr, err := token.ParseTrust(e.Policy())
	if err != nil {
		return nil, err
	}
	return New(published(dir, sig, root), tr, nil)
}

// updateH is h.Update for a directory logged in the log of h's root.
func updateH(h *Holder, dir, sig []byte) error {
	var root ed25519.PublicKey
	if h != nil && h.trust != nil {
		root = h.trust.Root()
	}
	return h.Update(published(dir, sig, root))
}
