package rsabssa

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	encasn1 "encoding/asn1"
	"errors"
	"math/big"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// spki describes a SubjectPublicKeyInfo for the negative-encoding
// generators below. Its zero-value fields, filled by canonicalSPKI, give the
// canonical RFC 9578 encoding.
type spki struct {
	algOID      encasn1.ObjectIdentifier
	noParams    bool
	hashOID     encasn1.ObjectIdentifier
	hashNULL    bool
	mgfOID      encasn1.ObjectIdentifier
	mgfHashOID  encasn1.ObjectIdentifier
	mgfHashNULL bool
	salt        int64
	trailer     bool // an explicit trailerField [3] INTEGER 1
	unusedBits  bool // a nonzero unused-bits count in the BIT STRING
	nPad        bool // a non-minimal modulus INTEGER (extra leading zero)
	keyTrailing bool // a byte after RSAPublicKey inside the BIT STRING
	n           *big.Int
	e           int64
}

func canonicalSPKI(n *big.Int) spki {
	return spki{
		algOID: oidRSASSAPSS, hashOID: oidSHA384, mgfOID: oidMGF1,
		mgfHashOID: oidSHA384, salt: saltLength, n: n, e: publicExponent,
	}
}

func (s spki) build(t testing.TB) []byte {
	t.Helper()
	algID := func(b *cryptobyte.Builder, oid encasn1.ObjectIdentifier, null bool) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oid)
			if null {
				b.AddASN1NULL()
			}
		})
	}
	var key cryptobyte.Builder
	key.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		if s.nPad {
			b.AddASN1(asn1.INTEGER, func(b *cryptobyte.Builder) {
				b.AddBytes(append([]byte{0, 0}, s.n.Bytes()...))
			})
		} else {
			b.AddASN1BigInt(s.n)
		}
		b.AddASN1Int64(s.e)
	})
	if s.keyTrailing {
		key.AddUint8(0)
	}
	keyDER, err := key.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(s.algOID)
			if s.noParams {
				return
			}
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(asn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
					algID(b, s.hashOID, s.hashNULL)
				})
				b.AddASN1(asn1.Tag(1).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
					b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(s.mgfOID)
						algID(b, s.mgfHashOID, s.mgfHashNULL)
					})
				})
				b.AddASN1(asn1.Tag(2).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
					b.AddASN1Int64(s.salt)
				})
				if s.trailer {
					b.AddASN1(asn1.Tag(3).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
						b.AddASN1Int64(1)
					})
				}
			})
		})
		if s.unusedBits {
			b.AddASN1(asn1.BIT_STRING, func(b *cryptobyte.Builder) {
				b.AddUint8(1)
				b.AddBytes(keyDER)
			})
		} else {
			b.AddASN1BitString(keyDER)
		}
	})
	der, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// randomModulus returns a random odd integer of exactly bits bits. It is
// not an RSA modulus, which the public-key parser cannot tell.
func randomModulus(t testing.TB, bits int) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits-1)))
	if err != nil {
		t.Fatal(err)
	}
	n.SetBit(n, bits-1, 1)
	return n.SetBit(n, 0, 1)
}

func TestParsePublicKey(t *testing.T) {
	_, k := testKey(t)
	pkS := unhex(t, loadRFC9578(t)[0].PkS)
	n := k.Public().rsa.N

	if got := canonicalSPKI(n).build(t); !bytes.Equal(got, pkS) {
		t.Fatalf("test generator does not reproduce pkS:\n got %x\nwant %x", got, pkS)
	}
	// Any odd 2048-bit modulus is accepted, and a bits parameter selects
	// another size.
	if _, err := ParsePublicKey(canonicalSPKI(randomModulus(t, 2048)).build(t)); err != nil {
		t.Errorf("random 2048-bit modulus: %v", err)
	}
	if _, err := parsePublicKey(canonicalSPKI(randomModulus(t, 3072)).build(t), 3072); err != nil {
		t.Errorf("3072-bit modulus with bits = 3072: %v", err)
	}

	rsaEncryption, err := x509.MarshalPKIXPublicKey(k.Public().RSA())
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(*spki)) []byte {
		s := canonicalSPKI(n)
		f(&s)
		return s.build(t)
	}
	longForm := append([]byte{0x30, 0x83, 0x00}, pkS[2:]...) // 30 82 01 52 → 30 83 00 01 52
	bad := map[string][]byte{
		"empty":                    {},
		"rsaEncryption SPKI":       rsaEncryption,
		"PKCS #1 RSAPublicKey":     x509.MarshalPKCS1PublicKey(k.Public().RSA()),
		"trailing byte":            append(bytes.Clone(pkS), 0),
		"long-form outer length":   longForm,
		"other algorithm":          with(func(s *spki) { s.algOID = oidRSAEncryption }),
		"no PSS parameters":        with(func(s *spki) { s.noParams = true }),
		"SHA-256":                  with(func(s *spki) { s.hashOID = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1} }),
		"MGF1 with SHA-256":        with(func(s *spki) { s.mgfHashOID = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1} }),
		"hash with NULL":           with(func(s *spki) { s.hashNULL = true }),
		"MGF1 hash with NULL":      with(func(s *spki) { s.mgfHashNULL = true }),
		"other mask generator":     with(func(s *spki) { s.mgfOID = oidSHA384 }),
		"salt 32":                  with(func(s *spki) { s.salt = 32 }),
		"salt 0":                   with(func(s *spki) { s.salt = 0 }),
		"explicit trailer field":   with(func(s *spki) { s.trailer = true }),
		"unused bits":              with(func(s *spki) { s.unusedBits = true }),
		"non-minimal modulus":      with(func(s *spki) { s.nPad = true }),
		"trailing byte in key":     with(func(s *spki) { s.keyTrailing = true }),
		"e = 3":                    with(func(s *spki) { s.e = 3 }),
		"e = 65539":                with(func(s *spki) { s.e = 65539 }),
		"e = 2^32+1":               with(func(s *spki) { s.e = 1<<32 + 1 }),
		"e = -65537":               with(func(s *spki) { s.e = -65537 }),
		"even modulus":             with(func(s *spki) { s.n = new(big.Int).SetBit(n, 0, 0) }),
		"negative modulus":         with(func(s *spki) { s.n = new(big.Int).Neg(n) }),
		"1024-bit modulus":         with(func(s *spki) { s.n = randomModulus(t, 1024) }),
		"2047-bit modulus":         with(func(s *spki) { s.n = randomModulus(t, 2047) }),
		"2049-bit modulus":         with(func(s *spki) { s.n = randomModulus(t, 2049) }),
		"3072-bit modulus":         with(func(s *spki) { s.n = randomModulus(t, 3072) }),
		"4096-bit modulus":         with(func(s *spki) { s.n = randomModulus(t, 4096) }),
		"2048-bit modulus in 4096": with(func(s *spki) { s.n = n }),
	}
	for name, der := range bad {
		bits := ModulusBits
		if name == "2048-bit modulus in 4096" {
			bits = 4096
		}
		pk, err := parsePublicKey(der, bits)
		if !errors.Is(err, ErrInvalidKey) || pk != nil {
			t.Errorf("%s: got %v, %v; want ErrInvalidKey", name, pk, err)
		}
	}
	for i := range pkS {
		if pk, err := ParsePublicKey(pkS[:i]); !errors.Is(err, ErrInvalidKey) || pk != nil {
			t.Fatalf("truncation to %d bytes: %v", i, err)
		}
	}
	for i := range pkS {
		for _, bit := range []byte{0x01, 0x80} {
			mut := bytes.Clone(pkS)
			mut[i] ^= bit
			// A flip in the modulus that keeps it odd and 2048 bits long
			// is another valid key; every other flip must be refused.
			first, last := len(pkS)-5-SignatureSize, len(pkS)-6
			if first <= i && i <= last && !(i == first && bit == 0x80) && !(i == last && bit == 0x01) {
				continue
			}
			if pk, err := ParsePublicKey(mut); err == nil {
				t.Errorf("byte %d ^ %#x accepted: %x", i, bit, MarshalPublicKey(pk))
			}
		}
	}
}

func TestNewPrivateKeyInvalid(t *testing.T) {
	sk, _ := testKey(t)
	withE := *sk
	withE.E = 3
	onePrime := *sk
	onePrime.Primes = sk.Primes[:1]
	nilPrime := *sk
	nilPrime.Primes = []*big.Int{sk.Primes[0], nil}
	swappedD := *sk
	swappedD.D = new(big.Int).Add(sk.D, big.NewInt(2))
	swappedD.Precomputed = rsa.PrecomputedValues{}
	bad := map[string]*rsa.PrivateKey{
		"nil":          nil,
		"zero":         {},
		"e = 3":        &withE,
		"one prime":    &onePrime,
		"nil prime":    &nilPrime,
		"inconsistent": &swappedD,
	}
	if multi, err := rsa.GenerateMultiPrimeKey(rand.Reader, 3, 2048); err == nil {
		bad["three primes"] = multi
	}
	for name, k := range bad {
		if got, err := NewPrivateKey(k); !errors.Is(err, ErrInvalidKey) || got != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
