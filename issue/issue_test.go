package issue

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/holder"
	"github.com/statustoken/statustoken/internal/format"
	"github.com/statustoken/statustoken/internal/logtest"
	"github.com/statustoken/statustoken/internal/rsabssa"
	"github.com/statustoken/statustoken/internal/testkeys"
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

// testStore returns a key store holding pre-generated keys for both
// statuses in the current and next epoch of testNow.
func testStore(t testing.TB) *MemoryKeyStore {
	s := NewMemoryKeyStore()
	start := uint32(testNow.Unix()) / 86400 * 86400
	i := 0
	for e := range uint32(2) {
		for _, st := range testStatuses {
			if err := s.Put(KeyRef{st.Code, start + e*86400, 86400}, testkeys.RSA(i)); err != nil {
				t.Fatal(err)
			}
			i++
		}
	}
	return s
}

func testIssuer(t testing.TB, suites ...token.Suite) *Issuer {
	t.Helper()
	is, err := NewIssuer(Config{
		RootKey:     ed25519.NewKeyFromSeed(fixedBytes("root", 32)),
		Seed:        fixedBytes("seed", SeedSize),
		EpochLength: 24 * time.Hour,
		Statuses:    testStatuses,
		Suites:      suites,
		RSAKeys:     testStore(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	return is
}

// testHolder returns a wallet holding is's directory at testNow; the
// issuer's tests use it to build genuine requests.
func testHolder(t testing.TB, is *Issuer) *holder.Holder {
	t.Helper()
	data, sig, err := is.Directory(testNow, 1)
	if err != nil {
		t.Fatal(err)
	}
	env := logtest.NewEnv(is.RootPublicKey(), time.Now())
	trust, err := token.ParseTrust(env.Policy())
	if err != nil {
		t.Fatal(err)
	}
	h, err := holder.New(token.Published{Directory: data, Signature: sig, Proof: env.Proof(data)}, trust, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// testRequest returns a genuine request of the holder for n tokens of
// status at testNow.
func testRequest(t testing.TB, h *holder.Holder, status token.Status, n int) []byte {
	t.Helper()
	_, req, err := h.Request(status, testNow, n)
	if err != nil {
		t.Fatal(err)
	}
	return req
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

// checkBlindSignatures checks, with math/big and apart from the library's
// own check, that resp answers req under the rsabssa key pub: the same
// key ID and count, every element s with s^e = m mod n for the request's
// element m.
func checkBlindSignatures(t testing.TB, pub *rsa.PublicKey, req, resp []byte) {
	t.Helper()
	inID, inCount, in, err := format.ParseBlind(req)
	if err != nil {
		t.Fatalf("request does not parse: %v", err)
	}
	outID, outCount, out, err := format.ParseBlind(resp)
	if err != nil {
		t.Fatalf("response does not parse: %v", err)
	}
	if outID != inID || outCount != inCount {
		t.Fatalf("response for key %x, %d elements; request for %x, %d elements", outID, outCount, inID, inCount)
	}
	e := big.NewInt(int64(pub.E))
	for i := range inCount {
		s := new(big.Int).SetBytes(out[i*format.ElementSize : (i+1)*format.ElementSize])
		m := new(big.Int).Exp(s, e, pub.N)
		if m.Cmp(new(big.Int).SetBytes(in[i*format.ElementSize:(i+1)*format.ElementSize])) != 0 {
			t.Fatalf("element %d is not a signature of the blinded message", i)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	good := Config{
		RootKey:     ed25519.NewKeyFromSeed(fixedBytes("root", 32)),
		Seed:        fixedBytes("seed", SeedSize),
		EpochLength: time.Hour,
		Statuses:    testStatuses,
	}
	if _, err := NewIssuer(good); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(c *Config){
		"no root key":       func(c *Config) { c.RootKey = nil },
		"short seed":        func(c *Config) { c.Seed = c.Seed[:31] },
		"epoch too short":   func(c *Config) { c.EpochLength = time.Hour - time.Second },
		"epoch fractional":  func(c *Config) { c.EpochLength = time.Hour + time.Millisecond },
		"epoch too long":    func(c *Config) { c.EpochLength = 169 * time.Hour },
		"lifetime too long": func(c *Config) { c.MaxLifetime = 3 * time.Hour },
		"lifetime too short": func(c *Config) {
			c.EpochLength, c.MaxLifetime = 2*time.Hour, time.Hour
		},
		"lifetime fractional": func(c *Config) { c.MaxLifetime = time.Hour + time.Millisecond },
		"no statuses":         func(c *Config) { c.Statuses = nil },
		"status 0":            func(c *Config) { c.Statuses = []token.StatusName{{Code: 0, Name: "x"}} },
		"rsabssa, no store":   func(c *Config) { c.Suites = []token.Suite{token.RSABSSA} },
		"unknown suite":       func(c *Config) { c.Suites = []token.Suite{7} },
		"too many epochs":     func(c *Config) { c.Epochs = 17 },
		"negative epochs":     func(c *Config) { c.Epochs = -1 },
		// The status rules are the directory's (token.Directory.Validate).
		"duplicate code":  func(c *Config) { c.Statuses = []token.StatusName{{Code: 1, Name: "a"}, {Code: 1, Name: "b"}} },
		"codes unsorted":  func(c *Config) { c.Statuses = []token.StatusName{{Code: 2, Name: "a"}, {Code: 1, Name: "b"}} },
		"duplicate name":  func(c *Config) { c.Statuses = []token.StatusName{{Code: 1, Name: "a"}, {Code: 2, Name: "a"}} },
		"empty name":      func(c *Config) { c.Statuses = []token.StatusName{{Code: 1, Name: ""}} },
		"upper-case name": func(c *Config) { c.Statuses = []token.StatusName{{Code: 1, Name: "Green"}} },
		"name with space": func(c *Config) { c.Statuses = []token.StatusName{{Code: 1, Name: "a b"}} },
		"name too long": func(c *Config) {
			c.Statuses = []token.StatusName{{Code: 1, Name: strings.Repeat("a", token.MaxStatusNameSize+1)}}
		},
		"name not ascii":  func(c *Config) { c.Statuses = []token.StatusName{{Code: 1, Name: "grün"}} },
		"status 0 of two": func(c *Config) { c.Statuses = []token.StatusName{{Code: 0, Name: "a"}, {Code: 1, Name: "b"}} },
		"later status 0":  func(c *Config) { c.Statuses = []token.StatusName{{Code: 1, Name: "a"}, {Code: 0, Name: "b"}} },
	} {
		c := good
		mutate(&c)
		if is, err := NewIssuer(c); !errors.Is(err, ErrConfig) || is != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := NewIssuer(Config{}); !errors.Is(err, ErrConfig) {
		t.Errorf("zero Config: %v", err)
	}
	// The longest status name, and 255 statuses, are valid.
	c := good
	c.Statuses = []token.StatusName{{Code: 1, Name: strings.Repeat("z", token.MaxStatusNameSize)}}
	if _, err := NewIssuer(c); err != nil {
		t.Errorf("status name of %d characters: %v", token.MaxStatusNameSize, err)
	}
	c.Statuses = nil
	for i := 1; i <= 255; i++ {
		c.Statuses = append(c.Statuses, token.StatusName{Code: token.Status(i), Name: "s" + string(rune('a'+i%26)) + string(rune('a'+i/26))})
	}
	if _, err := NewIssuer(c); err != nil {
		t.Errorf("255 statuses: %v", err)
	}
	// NewIssuer keeps copies: changing the Config afterwards changes
	// nothing.
	c = good
	c.RootKey = bytes.Clone(good.RootKey)
	c.Seed = bytes.Clone(good.Seed)
	c.Statuses = []token.StatusName{{Code: 1, Name: "green"}}
	is, err := NewIssuer(c)
	if err != nil {
		t.Fatal(err)
	}
	before, _, err := is.Directory(testNow, 1)
	if err != nil {
		t.Fatal(err)
	}
	c.RootKey[0] ^= 1
	c.Seed[0] ^= 1
	c.Statuses[0].Name = "Bad name"
	after, sig, err := is.Directory(testNow, 1)
	if err != nil || !bytes.Equal(before, after) {
		t.Fatalf("the issuer's directory changed with the caller's Config: %v", err)
	}
	if _, err := token.OpenDirectory(after, sig, good.RootKey.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
}

// TestKeyDerivation checks the directory's Ed25519 keys against the
// derivation of SPEC.md, "Keys", computed here independently.
func TestKeyDerivation(t *testing.T) {
	is := testIssuer(t, token.Ed25519)
	data, sig, err := is.Directory(testNow, 3)
	if err != nil {
		t.Fatal(err)
	}
	d, err := token.OpenDirectory(data, sig, is.RootPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Keys) != 2*len(testStatuses) {
		t.Fatalf("%d keys", len(d.Keys))
	}
	for _, k := range d.Keys {
		info := []byte("statustoken/v1 ed25519 issuing key")
		info = append(info, 1, byte(k.Status))
		info = binary.BigEndian.AppendUint32(info, k.NotBefore)
		info = binary.BigEndian.AppendUint32(info, 86400)
		seed, _ := hkdf.Key(sha256.New, fixedBytes("seed", 32), nil, string(info), 32)
		want := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
		if !bytes.Equal(k.PublicKey, want) {
			t.Fatalf("key for status %d epoch %d differs from the SPEC derivation", k.Status, k.NotBefore)
		}
		if k.NotBefore%86400 != 0 || k.Expiry != k.NotBefore+86400 {
			t.Fatalf("epoch bounds %d..%d", k.NotBefore, k.Expiry)
		}
	}
	again, _, _ := is.Directory(testNow.Add(time.Hour), 3)
	if !bytes.Equal(again, data) {
		t.Fatal("directory differs within one epoch")
	}
}

// TestDirectory checks the signed directory: the data is the canonical
// MarshalBinary encoding, and the signature covers
// format.DirectoryMessage(data), the domain-separated message, not the
// bare data.
func TestDirectory(t *testing.T) {
	is := testIssuer(t, token.Ed25519, token.RSABSSA)
	data, sig, err := is.Directory(testNow, 7)
	if err != nil {
		t.Fatal(err)
	}
	root := is.RootPublicKey()
	if !ed25519.Verify(root, format.DirectoryMessage(data), sig) {
		t.Fatal("the signature does not cover format.DirectoryMessage(data)")
	}
	if ed25519.Verify(root, data, sig) {
		t.Fatal("the signature covers the bare data: no domain separation")
	}
	d, err := token.OpenDirectory(data, sig, root)
	if err != nil {
		t.Fatal(err)
	}
	canon, err := d.MarshalBinary()
	if err != nil || !bytes.Equal(canon, data) {
		t.Fatalf("directory data is not its MarshalBinary encoding: %v", err)
	}
	if d.Serial != 7 || d.EpochLength != 86400 || d.MaxLifetime != 86400 || d.Version != token.Version {
		t.Fatalf("directory header %+v", d)
	}
	// Two epochs by default, each with a key per suite and status, the
	// RSABSSA ones those of the key store.
	if len(d.Keys) != DefaultEpochs*2*len(testStatuses) {
		t.Fatalf("%d keys", len(d.Keys))
	}
	for _, k := range d.Keys {
		if k.Suite != token.RSABSSA {
			continue
		}
		sk, err := is.rsaKeys.Get(KeyRef{Status: k.Status, NotBefore: k.NotBefore, EpochLength: 86400})
		if err != nil {
			t.Fatal(err)
		}
		pk, err := rsabssa.ParsePublicKey(k.PublicKey)
		if err != nil || !pk.RSA().Equal(&sk.PublicKey) {
			t.Fatalf("rsabssa key %v is not the stored key: %v", k.ID, err)
		}
	}
	// The root public key is a copy.
	root[0] ^= 1
	if bytes.Equal(root, is.RootPublicKey()) {
		t.Fatal("RootPublicKey returns the issuer's own slice")
	}
}

func TestIssueEd25519(t *testing.T) {
	is := testIssuer(t, token.Ed25519)
	data, sig, _ := is.Directory(testNow, 1)
	d, err := token.OpenDirectory(data, sig, is.RootPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	toks, err := is.IssueEd25519(2, testNow, MaxTokens)
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != MaxTokens {
		t.Fatalf("%d tokens", len(toks))
	}
	seen := map[token.Nonce]bool{}
	for _, tok := range toks {
		if tok.Status != 2 || tok.Suite != token.Ed25519 || seen[tok.Nonce] {
			t.Fatalf("token %+v", tok)
		}
		seen[tok.Nonce] = true
		// Each token verifies under the directory's key for its status
		// and epoch (the holder's own check is holder.Accept's test).
		k, ok := d.KeyAt(token.Ed25519, 2, testNow)
		if !ok || !k.Matches(tok) {
			t.Fatalf("token does not match the directory's key: %+v", tok)
		}
		if !ed25519.Verify(k.PublicKey, tokenMessage(t, tok), tok.Signature) {
			t.Fatal("token signature does not verify")
		}
	}
	for _, n := range []int{0, -1, MaxTokens + 1} {
		if _, err := is.IssueEd25519(1, testNow, n); !errors.Is(err, ErrCount) {
			t.Errorf("n=%d: %v", n, err)
		}
	}
	if _, err := is.IssueEd25519(9, testNow, 1); !errors.Is(err, ErrNotIssuing) {
		t.Errorf("unknown status: %v", err)
	}
	// An issuer of rsabssa only issues no Ed25519 token.
	if _, err := testIssuer(t, token.RSABSSA).IssueEd25519(1, testNow, 1); !errors.Is(err, ErrNotIssuing) {
		t.Errorf("IssueEd25519 of an rsabssa issuer: %v", err)
	}
}

// TestRespond checks the issuer's side of blind issuance: the response
// to a request for a key of the current or the next epoch holds, for
// every blinded message, its RSA signature under that key.
func TestRespond(t *testing.T) {
	is := testIssuer(t, token.RSABSSA)
	h := testHolder(t, is)
	for _, at := range []time.Time{testNow, testNow.Add(24 * time.Hour)} {
		for _, status := range []token.Status{1, 2} {
			for _, n := range []int{1, 3, MaxTokens} {
				_, req, err := h.Request(status, at, n)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := is.Respond(req, testNow, status)
				if err != nil {
					t.Fatalf("status %d, %d tokens at %v: %v", status, n, at, err)
				}
				if len(resp) != format.BlindSize(n) {
					t.Fatalf("response of %d bytes for %d tokens", len(resp), n)
				}
				dk, _ := h.Directory().KeyAt(token.RSABSSA, status, at)
				pk, err := rsabssa.ParsePublicKey(dk.PublicKey)
				if err != nil {
					t.Fatal(err)
				}
				checkBlindSignatures(t, pk.RSA(), req, resp)
			}
		}
	}
}

func TestBadRequests(t *testing.T) {
	is := testIssuer(t, token.RSABSSA)
	h := testHolder(t, is)
	req := testRequest(t, h, 2, 3)
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(req)) }
	dk, _ := h.Directory().KeyAt(token.RSABSSA, 2, testNow)
	pk, err := rsabssa.ParsePublicKey(dk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	modulus := pk.RSA().N.FillBytes(make([]byte, format.ElementSize))
	cases := []struct {
		name string
		req  []byte
		as   token.Status
		want error
	}{
		{"empty", nil, 2, ErrMalformedRequest},
		{"truncated", req[:len(req)-1], 2, ErrMalformedRequest},
		{"header only", req[:10], 2, ErrMalformedRequest},
		{"short header", req[:9], 2, ErrMalformedRequest},
		{"extended", append(bytes.Clone(req), 0), 2, ErrMalformedRequest},
		{"oversized", make([]byte, 10*MaxRequestSize), 2, ErrMalformedRequest},
		{"version 0", mut(func(b []byte) []byte { b[0] = 0; return b }), 2, ErrMalformedRequest},
		{"version 2", mut(func(b []byte) []byte { b[0] = 2; return b }), 2, ErrMalformedRequest},
		{"count 0", mut(func(b []byte) []byte { b[9] = 0; return b[:10] }), 2, ErrMalformedRequest},
		{"count 101", append([]byte{1, req[1], req[2], req[3], req[4], req[5], req[6], req[7], req[8], 101}, make([]byte, 101*256)...), 2, ErrMalformedRequest},
		{"count says 4", mut(func(b []byte) []byte { b[9] = 4; return b }), 2, ErrMalformedRequest},
		{"count says 2", mut(func(b []byte) []byte { b[9] = 2; return b }), 2, ErrMalformedRequest},
		{"unknown key", mut(func(b []byte) []byte { b[1] ^= 1; return b }), 2, ErrNotIssuing},
		{"status not assigned", req, 1, ErrStatusNotAssigned},
		{"no status assigned", req, 0, ErrStatusNotAssigned},
		{"unknown status assigned", req, 9, ErrStatusNotAssigned},
		// A blinded message not below the modulus is the holder's fault.
		{"blinded = 2^2048-1", mut(func(b []byte) []byte { copy(b[10:], bytes.Repeat([]byte{0xff}, 256)); return b }), 2, ErrMalformedRequest},
		{"blinded = n", mut(func(b []byte) []byte { copy(b[10+256:], modulus); return b }), 2, ErrMalformedRequest},
	}
	for _, c := range cases {
		resp, err := is.Respond(c.req, testNow, c.as)
		if !errors.Is(err, c.want) || resp != nil {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	// The key is checked before the status: a holder learns nothing
	// about the policy from a request for a key that is not issuing.
	if _, err := is.Respond(mut(func(b []byte) []byte { b[1] ^= 1; return b }), testNow, 1); !errors.Is(err, ErrNotIssuing) {
		t.Errorf("unknown key, other status: %v", err)
	}
	// Keys of epochs outside the current directory are not used.
	if _, err := is.Respond(req, testNow.Add(72*time.Hour), 2); !errors.Is(err, ErrNotIssuing) {
		t.Errorf("stale key: %v", err)
	}
	if _, err := is.Respond(req, testNow.Add(-48*time.Hour), 2); !errors.Is(err, ErrNotIssuing) {
		t.Errorf("key of an epoch two ahead: %v", err)
	}
	for _, at := range []time.Time{time.Unix(-1, 0), time.Unix(1<<40, 0)} {
		if _, err := is.Respond(req, at, 2); !errors.Is(err, ErrNotIssuing) {
			t.Errorf("Respond at %v: %v", at, err)
		}
	}
	// The next epoch's key is issuing already.
	if _, err := is.Respond(req, testNow.Add(-24*time.Hour), 2); err != nil {
		t.Errorf("key of the next epoch: %v", err)
	}
	// An Ed25519 issuer answers no blind request.
	ed := testIssuer(t, token.Ed25519)
	if _, err := ed.Respond(req, testNow, 2); !errors.Is(err, ErrNotIssuing) {
		t.Errorf("Respond of an ed25519 issuer: %v", err)
	}
}

// TestRespondKeyStoreErrors checks that a key store failure while looking
// for a request's key is returned, not taken for a missing key, and that
// a key missing from the store is never generated by Respond.
func TestRespondKeyStoreErrors(t *testing.T) {
	store := testStore(t)
	is, err := NewIssuer(Config{
		RootKey:     ed25519.NewKeyFromSeed(fixedBytes("root", 32)),
		Seed:        fixedBytes("seed", SeedSize),
		EpochLength: 24 * time.Hour,
		Statuses:    testStatuses,
		Suites:      []token.Suite{token.RSABSSA},
		RSAKeys:     store,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := testHolder(t, is)
	req := testRequest(t, h, 1, 1)
	// A fresh issuer of the same configuration on an empty store: the
	// request's key is unknown to it, and Respond must not generate keys.
	empty := NewMemoryKeyStore()
	is2, err := NewIssuer(Config{
		RootKey:     ed25519.NewKeyFromSeed(fixedBytes("root", 32)),
		Seed:        fixedBytes("seed", SeedSize),
		EpochLength: 24 * time.Hour,
		Statuses:    testStatuses,
		Suites:      []token.Suite{token.RSABSSA},
		RSAKeys:     empty,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := is2.Respond(req, testNow, 1); !errors.Is(err, ErrNotIssuing) {
		t.Errorf("Respond with an empty key store: %v", err)
	}
	if len(empty.keys) != 0 {
		t.Errorf("Respond generated %d keys", len(empty.keys))
	}
	// A store that fails.
	failing := failingStore{err: errors.New("store down")}
	is3, err := NewIssuer(Config{
		RootKey:     ed25519.NewKeyFromSeed(fixedBytes("root", 32)),
		Seed:        fixedBytes("seed", SeedSize),
		EpochLength: 24 * time.Hour,
		Statuses:    testStatuses,
		Suites:      []token.Suite{token.RSABSSA},
		RSAKeys:     failing,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := is3.Respond(req, testNow, 1); !errors.Is(err, failing.err) {
		t.Errorf("Respond with a failing key store: %v", err)
	}
	if _, _, err := is3.Directory(testNow, 1); !errors.Is(err, failing.err) {
		t.Errorf("Directory with a failing key store: %v", err)
	}
}

type failingStore struct{ err error }

func (f failingStore) Get(KeyRef) (*rsa.PrivateKey, error) { return nil, f.err }
func (f failingStore) Put(KeyRef, *rsa.PrivateKey) error   { return f.err }

// TestDirectoryGeneratesKeys checks that Directory generates and stores
// the RSABSSA keys missing from the store, and uses the stored ones from
// then on.
func TestDirectoryGeneratesKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("generates RSA keys")
	}
	store := NewMemoryKeyStore()
	is, err := NewIssuer(Config{
		RootKey:     ed25519.NewKeyFromSeed(fixedBytes("root", 32)),
		Seed:        fixedBytes("seed", SeedSize),
		EpochLength: 24 * time.Hour,
		Epochs:      1,
		Statuses:    testStatuses[:1],
		Suites:      []token.Suite{token.RSABSSA},
		RSAKeys:     store,
	})
	if err != nil {
		t.Fatal(err)
	}
	data, _, err := is.Directory(testNow, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(store.keys) != 1 {
		t.Fatalf("%d keys stored", len(store.keys))
	}
	// Another issuer on the same store publishes the same key.
	is2, err := NewIssuer(Config{
		RootKey:     ed25519.NewKeyFromSeed(fixedBytes("root", 32)),
		Seed:        fixedBytes("seed", SeedSize),
		EpochLength: 24 * time.Hour,
		Epochs:      1,
		Statuses:    testStatuses[:1],
		Suites:      []token.Suite{token.RSABSSA},
		RSAKeys:     store,
	})
	if err != nil {
		t.Fatal(err)
	}
	again, _, err := is2.Directory(testNow, 1)
	if err != nil || !bytes.Equal(again, data) {
		t.Fatalf("a second issuer on the same store publishes another directory: %v", err)
	}
}

func TestFileKeyStore(t *testing.T) {
	dir := t.TempDir()
	fs := FileKeyStore{Dir: dir}
	ref := KeyRef{Status: 1, NotBefore: 86400, EpochLength: 86400}
	if _, err := fs.Get(ref); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("empty store: %v", err)
	}
	if err := fs.Put(ref, testkeys.RSA(0)); err != nil {
		t.Fatal(err)
	}
	if err := fs.Put(ref, testkeys.RSA(1)); !errors.Is(err, ErrKeyExists) {
		t.Fatalf("second Put: %v", err)
	}
	name := filepath.Join(dir, ref.String()+".pem")
	st, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
	k, err := fs.Get(ref)
	if err != nil || !k.Equal(testkeys.RSA(0)) {
		t.Fatalf("Get: %v", err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644, 0o666, 0o610, 0o601, 0o620, 0o602} {
		os.Chmod(name, mode)
		if _, err := fs.Get(ref); !errors.Is(err, ErrKeyFile) {
			t.Errorf("mode %v accepted: %v", mode, err)
		}
	}
	os.Chmod(name, 0o400)
	if _, err := fs.Get(ref); err != nil {
		t.Errorf("mode 0400: %v", err)
	}
	os.Chmod(name, 0o600)
	for name2, content := range map[string]string{
		"empty":      "",
		"garbage":    "not a key",
		"two blocks": "-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n",
	} {
		os.WriteFile(name, []byte(content), 0o600)
		if _, err := fs.Get(ref); !errors.Is(err, ErrKeyFile) {
			t.Errorf("%s key file: %v", name2, err)
		}
	}
	os.WriteFile(name, make([]byte, 20<<10), 0o600)
	if _, err := fs.Get(ref); !errors.Is(err, ErrKeyFile) {
		t.Errorf("oversized key file: %v", err)
	}
	// Error text names the file, never key material.
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	fs2 := FileKeyStore{Dir: t.TempDir()}
	fs2.Put(ref, small)
	if _, err := fs2.Get(ref); !errors.Is(err, ErrKeyFile) {
		t.Errorf("1024-bit key accepted: %v", err)
	} else if bytes.Contains([]byte(err.Error()), small.D.Bytes()[:4]) {
		t.Errorf("error text has key bytes")
	}
}
