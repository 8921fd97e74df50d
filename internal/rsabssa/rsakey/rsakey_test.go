package rsakey

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"testing"

	"github.com/statustoken/statustoken/internal/rsabssa"
)

// rfc9578KeyDER returns the PKCS #8 DER of the RFC 9578 A.2 issuer key,
// from rsabssa's test vectors (testdata/README.md there).
func rfc9578KeyDER(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile("../testdata/rfc9578_appA2_type2_blindrsa2048.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []struct {
		SkS string `json:"skS"`
	}
	if err := json.Unmarshal(data, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("no RFC 9578 vectors")
	}
	pemBytes, err := hex.DecodeString(vs[0].SkS)
	if err != nil {
		t.Fatal(err)
	}
	block, rest := pem.Decode(pemBytes)
	if block == nil || block.Type != "PRIVATE KEY" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatal("skS is not one PEM PRIVATE KEY block")
	}
	return block.Bytes
}

// TestRoundTrip stores a fresh key and signs with the key read back.
func TestRoundTrip(t *testing.T) {
	sk, err := rsabssa.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := Marshal(sk)
	if err != nil {
		t.Fatal(err)
	}
	sk2, err := Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if !sk2.Equal(sk) {
		t.Fatal("private key changed through Marshal and Parse")
	}
	k, err := rsabssa.NewPrivateKey(sk2)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := rsabssa.ParsePublicKey(k.PublicKeyBytes())
	if err != nil {
		t.Fatal(err)
	}
	if !pk.RSA().Equal(&sk.PublicKey) {
		t.Fatal("public key does not match the private key")
	}
	msg := []byte("status 1, expiry 1700000000, nonce 0123456789abcdef")
	blinded, st, err := rsabssa.Blind(pk, rand.Reader, msg)
	if err != nil {
		t.Fatal(err)
	}
	blindSig, err := k.BlindSign(blinded)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := rsabssa.Finalize(st, blindSig)
	if err != nil {
		t.Fatal(err)
	}
	if err := pk.Verify(msg, sig); err != nil {
		t.Fatal(err)
	}
}

func TestParse(t *testing.T) {
	der := rfc9578KeyDER(t)
	sk, err := Parse(der)
	if err != nil {
		t.Fatalf("the RFC 9578 key: %v", err)
	}
	if got, err := Marshal(sk); err != nil || !bytes.Equal(got, der) {
		t.Fatalf("Marshal does not reproduce skS (%v)", err)
	}

	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallDER, err := x509.MarshalPKCS8PrivateKey(small)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parse(smallDER, 1024); err != nil {
		t.Errorf("1024-bit key with bits = 1024: %v", err)
	}
	if _, err := Marshal(small); !errors.Is(err, rsabssa.ErrInvalidKey) {
		t.Errorf("Marshal of a 1024-bit key: %v", err)
	}

	// Another public exponent, with the same primes.
	p, q := sk.Primes[0], sk.Primes[1]
	lambda := new(big.Int).Mul(new(big.Int).Sub(p, big.NewInt(1)), new(big.Int).Sub(q, big.NewInt(1)))
	var otherE []byte
	for _, e := range []int64{3, 5, 17, 257, 65539} {
		d := new(big.Int).ModInverse(big.NewInt(e), lambda)
		if d == nil {
			continue
		}
		other := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: sk.N, E: int(e)}, D: d, Primes: []*big.Int{p, q}}
		other.Precompute()
		if otherE, err = x509.MarshalPKCS8PrivateKey(other); err != nil {
			t.Fatal(err)
		}
		break
	}
	if otherE == nil {
		t.Fatal("no small exponent fits the test key")
	}

	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edDER, err := x509.MarshalPKCS8PrivateKey(edKey)
	if err != nil {
		t.Fatal(err)
	}
	flipLast := bytes.Clone(der)
	flipLast[len(flipLast)-1] ^= 1 // the CRT coefficient
	flipD := bytes.Clone(der)
	flipD[len(der)/3] ^= 1 // inside d

	bad := map[string][]byte{
		"nil":                   nil,
		"PKCS #1":               x509.MarshalPKCS1PrivateKey(sk),
		"trailing byte":         append(bytes.Clone(der), 0),
		"1024-bit key":          smallDER,
		"other public exponent": otherE,
		"Ed25519 key":           edDER,
		"wrong CRT coefficient": flipLast,
		"wrong d":               flipD,
		"oversized":             make([]byte, 1<<20),
	}
	if multi, err := rsa.GenerateMultiPrimeKey(rand.Reader, 3, 2048); err == nil {
		if bad["three primes"], err = x509.MarshalPKCS8PrivateKey(multi); err != nil {
			t.Fatal(err)
		}
		if _, err := Marshal(multi); !errors.Is(err, rsabssa.ErrInvalidKey) {
			t.Errorf("Marshal of a three-prime key: %v", err)
		}
	}
	for name, in := range bad {
		got, err := Parse(in)
		if !errors.Is(err, rsabssa.ErrInvalidKey) || got != nil {
			t.Errorf("%s: got %v; want ErrInvalidKey", name, err)
			continue
		}
		// Error texts describe structure, never key material.
		if bytes.Contains([]byte(err.Error()), []byte(sk.D.Text(16)[:8])) ||
			bytes.Contains([]byte(err.Error()), []byte(p.Text(10)[:8])) {
			t.Errorf("%s: error text contains key material", name)
		}
	}
	for i := range der {
		if got, err := Parse(der[:i]); !errors.Is(err, rsabssa.ErrInvalidKey) || got != nil {
			t.Fatalf("truncation to %d bytes: %v", i, err)
		}
	}
}

// FuzzParse checks that Parse never panics, returns a key or an error
// wrapping ErrInvalidKey but not both, and accepts only keys that Marshal
// encodes back to the same bytes and rsabssa.NewPrivateKey takes.
func FuzzParse(f *testing.F) {
	der := rfc9578KeyDER(f)
	f.Add(der)
	f.Add(der[:len(der)-1])
	f.Add(append(bytes.Clone(der), 0))
	sk, err := Parse(der)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(x509.MarshalPKCS1PrivateKey(sk))
	f.Fuzz(func(t *testing.T, data []byte) {
		sk, err := Parse(data)
		if err != nil {
			if sk != nil || !errors.Is(err, rsabssa.ErrInvalidKey) {
				t.Fatalf("error %v with a key", err)
			}
			return
		}
		again, err := Marshal(sk)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted a non-canonical encoding (%v)", err)
		}
		if _, err := rsabssa.NewPrivateKey(sk); err != nil {
			t.Fatalf("parsed key refused by NewPrivateKey: %v", err)
		}
	})
}
