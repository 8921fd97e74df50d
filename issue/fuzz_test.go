package issue

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/cryptotest"

	"github.com/statustoken/statustoken/internal/rsabssa"
	"github.com/statustoken/statustoken/internal/testkeys"
	"github.com/statustoken/statustoken/token"
)

// fuzzSetup returns an rsabssa issuer and a holder of its directory.
func fuzzSetup(f *testing.F) (*Issuer, *Holder) {
	is := testIssuer(f, token.RSABSSA)
	data, sig, err := is.Directory(testNow, 1)
	if err != nil {
		f.Fatal(err)
	}
	h, err := NewHolder(data, sig, is.RootPublicKey())
	if err != nil {
		f.Fatal(err)
	}
	return is, h
}

// FuzzRespond checks the issuer's side of blind issuance on any request:
// it answers only a well-formed request for one of its keys whose status
// the policy assigns, and then every element of the response is the RSA
// signature of the element of the request (s^e = m mod n, checked here
// with math/big, apart from the library's own check); anything else is
// refused with one of the package's errors and no response.
func FuzzRespond(f *testing.F) {
	is, h := fuzzSetup(f)
	for _, n := range []int{1, 2} {
		for _, status := range []token.Status{1, 2} {
			_, req, err := h.Request(status, testNow, n)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(req, uint8(status))
			f.Add(req, uint8(3-status))
		}
	}
	// A blinded message equal to the modulus.
	dk, _ := h.Directory().KeyAt(token.RSABSSA, 1, testNow)
	pk, err := rsabssa.ParsePublicKey(dk.PublicKey)
	if err != nil {
		f.Fatal(err)
	}
	n := pk.RSA().N
	f.Add(append(append([]byte{wireVersion}, dk.ID[:]...), append([]byte{1}, n.FillBytes(make([]byte, rsaSize))...)...), uint8(1))
	f.Add([]byte{}, uint8(1))

	f.Fuzz(func(t *testing.T, req []byte, assigned uint8) {
		resp, err := is.Respond(req, testNow, func() (token.Status, error) { return token.Status(assigned), nil })
		if err != nil {
			if resp != nil {
				t.Fatal("error with a response")
			}
			if !errors.Is(err, ErrMalformedRequest) && !errors.Is(err, ErrUnknownKey) &&
				!errors.Is(err, ErrStatusNotAssigned) && !errors.Is(err, ErrBadBlindedMessage) {
				t.Fatalf("unexpected error %v", err)
			}
			if _, perr := parseBlindWire(req); (perr != nil) != errors.Is(err, ErrMalformedRequest) {
				t.Fatalf("Respond gave %v, the parser %v", err, perr)
			}
			return
		}
		in, err := parseBlindWire(req)
		if err != nil {
			t.Fatalf("answered a request the parser refuses: %v", err)
		}
		out, err := parseBlindWire(resp)
		if err != nil {
			t.Fatalf("response does not parse: %v", err)
		}
		if again, err := out.marshal(); err != nil || !bytes.Equal(again, resp) {
			t.Fatal("response is not canonical")
		}
		k, ok := h.Directory().Lookup(in.keyID)
		if !ok || out.keyID != in.keyID || len(out.elements) != len(in.elements) ||
			k.Suite != token.RSABSSA || k.Status != token.Status(assigned) {
			t.Fatalf("response for key %v, %d elements; request for %v, %d elements", out.keyID, len(out.elements), in.keyID, len(in.elements))
		}
		pk, err := rsabssa.ParsePublicKey(k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		pub := pk.RSA()
		e := big.NewInt(int64(pub.E))
		for i, s := range out.elements {
			m := new(big.Int).Exp(new(big.Int).SetBytes(s), e, pub.N)
			if m.Cmp(new(big.Int).SetBytes(in.elements[i])) != 0 {
				t.Fatalf("element %d is not a signature of the blinded message", i)
			}
		}
	})
}

// FuzzFinalize checks the holder's side: a response is accepted only if
// it is exactly the issuer's response to the holder's request, and then
// every token verifies under the directory's key; anything else is refused
// with ErrResponse and no token. The holder's randomness is fixed, so its
// request, and the one valid response, are the same in every run; with
// xorValid set the fuzzed bytes are XORed onto that response (all zeros is
// the valid response itself), so mutations start from it.
func FuzzFinalize(f *testing.F) {
	is, h := fuzzSetup(f)
	const count = 2
	var (
		once  sync.Once
		p0    *Pending
		valid []byte
		err   error
	)
	// pending returns a fresh copy of the one Pending that the fixed
	// randomness gives; Finalize changes nothing in a Pending but its used
	// flag.
	pending := func(t *testing.T) *Pending {
		once.Do(func() {
			cryptotest.SetGlobalRandom(t, 1)
			var req []byte
			if p0, req, err = h.Request(1, testNow, count); err == nil {
				valid, err = is.Respond(req, testNow, func() (token.Status, error) { return 1, nil })
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		p := *p0
		return &p
	}
	size := 1 + len(token.KeyID{}) + 1 + count*rsaSize
	f.Add(make([]byte, size), true)
	f.Add(make([]byte, size-1), true)
	f.Add(make([]byte, size+1), true)
	f.Add(make([]byte, size-rsaSize), true)
	f.Add([]byte{}, false)
	f.Add(append([]byte{wireVersion, 1, 2, 3, 4, 5, 6, 7, 8, count}, make([]byte, count*rsaSize)...), false)

	f.Fuzz(func(t *testing.T, data []byte, xorValid bool) {
		p := pending(t)
		resp := data
		if xorValid {
			resp = bytes.Clone(data)
			for i := range min(len(resp), len(valid)) {
				resp[i] ^= valid[i]
			}
		}
		toks, err := h.Finalize(p, resp)
		if err != nil {
			if toks != nil || !errors.Is(err, ErrResponse) {
				t.Fatalf("refusal gave %v and %d tokens", err, len(toks))
			}
			if bytes.Equal(resp, valid) {
				t.Fatalf("the valid response was refused: %v", err)
			}
			return
		}
		if !bytes.Equal(resp, valid) {
			t.Fatal("accepted a response other than the issuer's")
		}
		if len(toks) != count {
			t.Fatalf("%d tokens for %d requested", len(toks), count)
		}
		for _, tok := range toks {
			k := h.keys.Lookup(tok.KeyID)
			if k == nil || !k.Matches(tok) || !k.VerifySignature(tok.Message(), tok.Signature) {
				t.Fatal("accepted a token that does not verify under the directory's key")
			}
		}
		if _, err := h.Finalize(p, resp); !errors.Is(err, ErrResponse) {
			t.Fatalf("a second Finalize gave %v", err)
		}
	})
}

// testKeyPEMs returns the committed test keys, one PEM file each.
func testKeyPEMs(f *testing.F) [][]byte {
	data, err := os.ReadFile("../internal/testkeys/rsa2048.pem")
	if err != nil {
		f.Fatal(err)
	}
	var out [][]byte
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		out = append(out, pem.EncodeToMemory(block))
	}
	if len(out) != testkeys.N {
		f.Fatalf("%d test keys, want %d", len(out), testkeys.N)
	}
	return out
}

// FuzzKeyPEM checks FileKeyStore's key file parser: a file it accepts holds
// one PKCS #8 block with the canonical encoding of a usable rsabssa key;
// anything else is refused with ErrKeyFile and no key. FileKeyStore.Get on
// a file with the same bytes gives the same result, or refuses a file
// larger than its limit.
func FuzzKeyPEM(f *testing.F) {
	for _, p := range testKeyPEMs(f) {
		f.Add(p)
	}
	f.Add([]byte{})
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"))
	dir := f.TempDir()
	store := FileKeyStore{Dir: dir}
	ref := KeyRef{Status: 1, NotBefore: 86400, EpochLength: 86400}
	name := filepath.Join(dir, ref.String()+".pem")

	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := parseKeyPEM(data, "key.pem")
		if err != nil {
			if k != nil || !errors.Is(err, ErrKeyFile) {
				t.Fatalf("refusal gave %v and a key", err)
			}
		} else {
			block, _ := pem.Decode(data)
			der, err := x509.MarshalPKCS8PrivateKey(k)
			if err != nil || !bytes.Equal(der, block.Bytes) {
				t.Fatalf("accepted a non-canonical encoding: %v", err)
			}
			if _, err := rsabssa.NewPrivateKey(k); err != nil {
				t.Fatalf("accepted a key the issuer cannot use: %v", err)
			}
		}
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
		gk, gerr := store.Get(ref)
		switch {
		case len(data) > maxKeyFileSize:
			if gk != nil || !errors.Is(gerr, ErrKeyFile) {
				t.Fatalf("Get read a %d-byte file: %v", len(data), gerr)
			}
		case (gerr == nil) != (err == nil):
			t.Fatalf("Get gave %v, the parser %v", gerr, err)
		case gerr == nil && !gk.Equal(k):
			t.Fatal("Get and the parser return different keys")
		}
	})
}
