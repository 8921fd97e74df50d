package issue

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"

	"github.com/statustoken/statustoken/holder"
	"github.com/statustoken/statustoken/internal/format"
	"github.com/statustoken/statustoken/internal/rsabssa"
	"github.com/statustoken/statustoken/internal/testkeys"
	"github.com/statustoken/statustoken/token"
)

// fuzzSetup returns an rsabssa issuer and a holder of its directory.
func fuzzSetup(f *testing.F) (*Issuer, *holder.Holder) {
	is := testIssuer(f, token.RSABSSA)
	return is, testHolder(f, is)
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
			req := testRequest(f, h, status, n)
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
	f.Add(append(format.AppendBlindHeader(nil, (*[8]byte)(&dk.ID), 1), n.FillBytes(make([]byte, format.ElementSize))...), uint8(1))
	f.Add([]byte{}, uint8(1))
	f.Add([]byte{}, uint8(0))

	f.Fuzz(func(t *testing.T, req []byte, assigned uint8) {
		resp, err := is.Respond(req, testNow, token.Status(assigned))
		inID, inCount, in, perr := format.ParseBlind(req)
		if err != nil {
			if resp != nil {
				t.Fatal("error with a response")
			}
			if !errors.Is(err, ErrMalformedRequest) && !errors.Is(err, ErrNotIssuing) &&
				!errors.Is(err, ErrStatusNotAssigned) {
				t.Fatalf("unexpected error %v", err)
			}
			if perr != nil && !errors.Is(err, ErrMalformedRequest) {
				t.Fatalf("Respond gave %v, the parser %v", err, perr)
			}
			if errors.Is(err, ErrMalformedRequest) && perr == nil {
				// Well-formed: then only a blinded message not below the
				// modulus of the key, one the policy assigns, is
				// malformed.
				k, ok := h.Directory().Lookup(inID)
				if !ok || k.Suite != token.RSABSSA || k.Status != token.Status(assigned) {
					t.Fatalf("well-formed request for key %x refused as malformed: %v", inID, err)
				}
				pk, err := rsabssa.ParsePublicKey(k.PublicKey)
				if err != nil {
					t.Fatal(err)
				}
				above := false
				for i := range inCount {
					m := new(big.Int).SetBytes(in[i*format.ElementSize : (i+1)*format.ElementSize])
					above = above || m.Cmp(pk.RSA().N) >= 0
				}
				if !above {
					t.Fatalf("request with every blinded message below the modulus refused: %v", err)
				}
			}
			return
		}
		if perr != nil {
			t.Fatalf("answered a request the parser refuses: %v", perr)
		}
		outID, outCount, out, err := format.ParseBlind(resp)
		if err != nil {
			t.Fatalf("response does not parse: %v", err)
		}
		again := append(format.AppendBlindHeader(nil, &outID, outCount), out...)
		if !bytes.Equal(again, resp) {
			t.Fatal("response is not canonical")
		}
		k, ok := h.Directory().Lookup(inID)
		if !ok || outID != inID || outCount != inCount ||
			k.Suite != token.RSABSSA || k.Status != token.Status(assigned) {
			t.Fatalf("response for key %x, %d elements; request for %x, %d elements", outID, outCount, inID, inCount)
		}
		pk, err := rsabssa.ParsePublicKey(k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		checkBlindSignatures(t, pk.RSA(), req, resp)
	})
}

// FuzzParseBlind checks the request and response parser that Respond and
// holder.Finalize share: it never panics, refuses with no result, and
// what it accepts re-encodes to the same bytes, with elements aliasing
// the input.
func FuzzParseBlind(f *testing.F) {
	f.Add([]byte{})
	f.Add(append([]byte{1, 1, 2, 3, 4, 5, 6, 7, 8, 1}, make([]byte, 256)...))
	f.Add(append([]byte{1, 1, 2, 3, 4, 5, 6, 7, 8, 2}, make([]byte, 511)...))
	f.Add(append([]byte{1, 1, 2, 3, 4, 5, 6, 7, 8, 100}, make([]byte, 100*256)...))
	f.Add(append([]byte{1, 1, 2, 3, 4, 5, 6, 7, 8, 101}, make([]byte, 101*256)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		id, count, elems, err := format.ParseBlind(data)
		if err != nil {
			if id != [format.KeyIDSize]byte{} || count != 0 || elems != nil {
				t.Fatal("error with a result")
			}
			return
		}
		if count < 1 || count > format.MaxTokens || len(elems) != count*format.ElementSize ||
			len(data) != format.BlindSize(count) || len(data) > format.MaxBlindSize {
			t.Fatalf("accepted %d bytes: count %d, %d bytes of elements", len(data), count, len(elems))
		}
		out := append(format.AppendBlindHeader(nil, &id, count), elems...)
		if !bytes.Equal(out, data) {
			t.Fatal("re-encoding differs")
		}
		if &elems[0] != &data[len(data)-len(elems)] {
			t.Fatal("elements do not alias the input")
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
