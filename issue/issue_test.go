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
	"os"
	"path/filepath"
	"testing"
	"time"

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
		"no statuses":       func(c *Config) { c.Statuses = nil },
		"status 0":          func(c *Config) { c.Statuses = []token.StatusName{{Code: 0, Name: "x"}} },
		"rsabssa, no store": func(c *Config) { c.Suites = []token.Suite{token.RSABSSA} },
		"unknown suite":     func(c *Config) { c.Suites = []token.Suite{7} },
		"too many epochs":   func(c *Config) { c.Epochs = 17 },
	} {
		c := good
		mutate(&c)
		if _, err := NewIssuer(c); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := NewIssuer(Config{}); !errors.Is(err, ErrConfig) {
		t.Errorf("zero Config: %v", err)
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

func TestIssueEd25519(t *testing.T) {
	is := testIssuer(t, token.Ed25519)
	data, sig, _ := is.Directory(testNow, 1)
	h, err := NewHolder(data, sig, is.RootPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	toks, err := is.IssueEd25519(2, testNow, MaxTokens)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[token.Nonce]bool{}
	for _, tok := range toks {
		if tok.Status != 2 || tok.Suite != token.Ed25519 || seen[tok.Nonce] {
			t.Fatalf("token %+v", tok)
		}
		seen[tok.Nonce] = true
	}
	if err := h.Accept(toks); err != nil {
		t.Fatal(err)
	}
	toks[5].Signature[0] ^= 1
	if err := h.Accept(toks); !errors.Is(err, ErrResponse) {
		t.Fatalf("tampered token accepted: %v", err)
	}
	for _, n := range []int{0, -1, MaxTokens + 1} {
		if _, err := is.IssueEd25519(1, testNow, n); !errors.Is(err, ErrCount) {
			t.Errorf("n=%d: %v", n, err)
		}
	}
	if _, err := is.IssueEd25519(9, testNow, 1); !errors.Is(err, ErrUnknownStatus) {
		t.Errorf("unknown status: %v", err)
	}
	// A holder refuses Ed25519 tokens from a key outside its directory,
	// such as one kept for a targeted group.
	other, _ := NewIssuer(Config{RootKey: ed25519.NewKeyFromSeed(fixedBytes("root", 32)), Seed: fixedBytes("other", 32),
		EpochLength: 24 * time.Hour, Statuses: testStatuses})
	tagged, _ := other.IssueEd25519(2, testNow, 1)
	if err := h.Accept(tagged); !errors.Is(err, ErrResponse) {
		t.Fatalf("token of a key outside the directory accepted: %v", err)
	}
}

// issuerView records every byte the issuer receives and sends.
type issuerView struct{ requests, responses [][]byte }

func blindIssue(t *testing.T, is *Issuer, h *Holder, status token.Status, n int, view *issuerView) []*token.Token {
	t.Helper()
	p, req, err := h.Request(status, testNow, n)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := is.Respond(req, testNow, func() (token.Status, error) { return status, nil })
	if err != nil {
		t.Fatal(err)
	}
	if view != nil {
		view.requests = append(view.requests, req)
		view.responses = append(view.responses, resp)
	}
	toks, err := h.Finalize(p, resp)
	if err != nil {
		t.Fatal(err)
	}
	return toks
}

func TestBlindIssuance(t *testing.T) {
	is := testIssuer(t, token.RSABSSA)
	data, sig, err := is.Directory(testNow, 1)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHolder(data, sig, is.RootPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	var view issuerView
	var toks []*token.Token
	for _, n := range []int{1, 7, MaxTokens} {
		toks = append(toks, blindIssue(t, is, h, 1, n, &view)...)
	}
	d := h.Directory()
	for _, tok := range toks {
		k, ok := d.Lookup(tok.KeyID)
		if !ok || !k.Matches(tok) || tok.Suite != token.RSABSSA {
			t.Fatalf("token does not match a directory key: %+v", tok)
		}
		pk, err := rsabssa.ParsePublicKey(k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		if err := pk.Verify(tok.Message(), tok.Signature); err != nil {
			t.Fatal(err)
		}
	}
	// The issuer's whole view holds no nonce and no signature, nor any
	// 8-byte run of either. (Key ID, status and expiry are shared by every
	// holder of the status and epoch, and are public in the directory.)
	all := bytes.Join(append(view.requests, view.responses...), nil)
	for _, tok := range toks {
		for _, secret := range [][]byte{tok.Nonce[:], tok.Signature} {
			for i := 0; i+8 <= len(secret); i++ {
				if bytes.Contains(all, secret[i:i+8]) {
					t.Fatalf("issuer view contains token bytes %x", secret[i:i+8])
				}
			}
		}
		raw, _ := tok.Marshal()
		if bytes.Contains(all, raw[15:]) {
			t.Fatal("issuer view contains a token")
		}
	}
}

func TestResponseRefused(t *testing.T) {
	is := testIssuer(t, token.RSABSSA)
	data, sig, _ := is.Directory(testNow, 1)
	h, _ := NewHolder(data, sig, is.RootPublicKey())

	// A tagging key: valid RSA, not in the directory.
	tagKey, err := rsabssa.NewPrivateKey(testkeys.RSA(4))
	if err != nil {
		t.Fatal(err)
	}
	p, req, err := h.Request(1, testNow, 5)
	if err != nil {
		t.Fatal(err)
	}
	w, err := parseBlindWire(req)
	if err != nil {
		t.Fatal(err)
	}
	signAll := func(k *rsabssa.PrivateKey, id token.KeyID) []byte {
		out := blindWire{keyID: id, elements: make([][]byte, len(w.elements))}
		for i, m := range w.elements {
			if out.elements[i], err = k.BlindSign(m); err != nil {
				t.Fatal(err)
			}
		}
		b, err := out.marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// Signed with the tagging key but claiming the directory's key ID.
	if toks, err := h.Finalize(p, signAll(tagKey, w.keyID)); !errors.Is(err, ErrResponse) || toks != nil {
		t.Fatalf("response under another key accepted: %v", err)
	}
	// Naming the tagging key's own ID.
	tagID := token.ComputeKeyID(tagKey.PublicKeyBytes())
	if toks, err := h.Finalize(p, signAll(tagKey, tagID)); !errors.Is(err, ErrResponse) || toks != nil {
		t.Fatalf("response naming a key outside the directory accepted: %v", err)
	}
	// One bad signature among good ones refuses the whole response.
	good, err := is.Respond(req, testNow, func() (token.Status, error) { return 1, nil })
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 1
	if toks, err := h.Finalize(p, bad); !errors.Is(err, ErrResponse) || toks != nil {
		t.Fatalf("response with one bad signature: %v", err)
	}
	for _, r := range [][]byte{nil, good[:len(good)-1], append(bytes.Clone(good), 0)} {
		if _, err := h.Finalize(p, r); !errors.Is(err, ErrResponse) {
			t.Fatalf("malformed response: %v", err)
		}
	}
	// The pending state survives refused responses and finalizes once.
	if _, err := h.Finalize(p, good); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Finalize(p, good); !errors.Is(err, ErrResponse) {
		t.Fatalf("second Finalize: %v", err)
	}
	if _, err := h.Finalize(nil, good); !errors.Is(err, ErrResponse) {
		t.Fatalf("nil Pending: %v", err)
	}
}

func TestBadRequests(t *testing.T) {
	is := testIssuer(t, token.RSABSSA)
	data, sig, _ := is.Directory(testNow, 1)
	h, _ := NewHolder(data, sig, is.RootPublicKey())
	_, req, err := h.Request(2, testNow, 3)
	if err != nil {
		t.Fatal(err)
	}
	assigned := func(s token.Status) func() (token.Status, error) {
		return func() (token.Status, error) { return s, nil }
	}
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(req)) }
	cases := []struct {
		name string
		req  []byte
		as   token.Status
		want error
	}{
		{"empty", nil, 2, ErrMalformedRequest},
		{"truncated", req[:len(req)-1], 2, ErrMalformedRequest},
		{"extended", append(bytes.Clone(req), 0), 2, ErrMalformedRequest},
		{"oversized", make([]byte, 10*MaxRequestSize), 2, ErrMalformedRequest},
		{"version 2", mut(func(b []byte) []byte { b[0] = 2; return b }), 2, ErrMalformedRequest},
		{"count 0", mut(func(b []byte) []byte { b[9] = 0; return b[:10] }), 2, ErrMalformedRequest},
		{"count 101", append([]byte{1, req[1], req[2], req[3], req[4], req[5], req[6], req[7], req[8], 101}, make([]byte, 101*256)...), 2, ErrMalformedRequest},
		{"count says 4", mut(func(b []byte) []byte { b[9] = 4; return b }), 2, ErrMalformedRequest},
		{"unknown key", mut(func(b []byte) []byte { b[1] ^= 1; return b }), 2, ErrUnknownKey},
		{"status not assigned", req, 1, ErrStatusNotAssigned},
		{"blinded = 2^2048-1", mut(func(b []byte) []byte { copy(b[10:], bytes.Repeat([]byte{0xff}, 256)); return b }), 2, ErrBadBlindedMessage},
	}
	for _, c := range cases {
		resp, err := is.Respond(c.req, testNow, assigned(c.as))
		if !errors.Is(err, c.want) || resp != nil {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	attestErr := errors.New("attester down")
	if _, err := is.Respond(req, testNow, func() (token.Status, error) { return 0, attestErr }); !errors.Is(err, attestErr) {
		t.Errorf("attester error: %v", err)
	}
	// Keys of epochs outside the current directory are not used.
	if _, err := is.Respond(req, testNow.Add(72*time.Hour), assigned(2)); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("stale key: %v", err)
	}
	for _, n := range []int{0, MaxTokens + 1} {
		if _, _, err := h.Request(1, testNow, n); !errors.Is(err, ErrCount) {
			t.Errorf("Request n=%d: %v", n, err)
		}
	}
	if _, _, err := h.Request(9, testNow, 1); !errors.Is(err, ErrNoKey) {
		t.Errorf("Request for an unknown status: %v", err)
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
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644, 0o666} {
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

// FuzzParseBlindWire checks the request and response parser: it never
// panics, and what it accepts re-encodes to the same bytes.
func FuzzParseBlindWire(f *testing.F) {
	f.Add([]byte{})
	f.Add(append([]byte{1, 1, 2, 3, 4, 5, 6, 7, 8, 1}, make([]byte, 256)...))
	f.Add(append([]byte{1, 1, 2, 3, 4, 5, 6, 7, 8, 2}, make([]byte, 511)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := parseBlindWire(data)
		if err != nil {
			if w != nil {
				t.Fatal("error with a result")
			}
			return
		}
		out, err := w.marshal()
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}
