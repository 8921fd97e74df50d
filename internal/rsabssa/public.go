package rsabssa

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/subtle"
	encasn1 "encoding/asn1"
	"encoding/binary"
	"fmt"
	"math/big"

	"filippo.io/bigmod"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

var (
	oidRSAEncryption = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidRSASSAPSS     = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidMGF1          = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidSHA384        = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
)

// PublicKey is an rsabssa public key, parsed and checked once. It verifies
// signatures and is the key a holder blinds messages under. It is immutable
// and safe for concurrent use.
type PublicKey struct {
	rsa rsa.PublicKey
	n   *bigmod.Modulus // N, prepared once for verification and blinding
	der []byte          // canonical encoding
}

// newPublicKey checks n and e against this suite's rules, with a modulus of
// exactly bits bits, and prepares the key. n is copied.
func newPublicKey(n *big.Int, e, bits int) (*PublicKey, error) {
	if n == nil || n.Sign() <= 0 || n.BitLen() != bits {
		bitLen := 0
		if n != nil {
			bitLen = n.BitLen()
		}
		return nil, invalidKey(fmt.Sprintf("the modulus has %d bits, want %d", bitLen, bits))
	}
	if n.Bit(0) != 1 {
		return nil, invalidKey("even modulus")
	}
	if e != publicExponent {
		return nil, invalidKey(fmt.Sprintf("public exponent %d, want %d", e, publicExponent))
	}
	pk := &PublicKey{rsa: rsa.PublicKey{N: new(big.Int).Set(n), E: e}}
	mod, err := bigmod.NewModulus(n.Bytes())
	if err != nil {
		return nil, invalidKey("bad modulus")
	}
	pk.n = mod
	der, err := marshalSPKI(&pk.rsa)
	if err != nil {
		return nil, invalidKey("cannot encode the key")
	}
	pk.der = der
	return pk, nil
}

// marshalSPKI encodes pub as the SubjectPublicKeyInfo of RFC 9578,
// section 6.5 (RFC 4055 parameters, DER):
//
//	SubjectPublicKeyInfo ::= SEQUENCE {
//	    algorithm        AlgorithmIdentifier ::= SEQUENCE {
//	        algorithm    OBJECT IDENTIFIER,      -- id-RSASSA-PSS
//	        parameters   RSASSA-PSS-params },
//	    subjectPublicKey BIT STRING }            -- DER of RSAPublicKey
//
//	RSASSA-PSS-params ::= SEQUENCE {
//	    hashAlgorithm    [0] SEQUENCE { id-sha384 },              -- no NULL
//	    maskGenAlgorithm [1] SEQUENCE { id-mgf1, SEQUENCE { id-sha384 } },
//	    saltLength       [2] INTEGER 48 }        -- trailerField omitted (DEFAULT 1)
//
//	RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
func marshalSPKI(pub *rsa.PublicKey) ([]byte, error) {
	var key cryptobyte.Builder
	key.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(pub.N)
		b.AddASN1Int64(int64(pub.E))
	})
	keyDER, err := key.Bytes()
	if err != nil {
		return nil, err
	}

	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidRSASSAPSS)
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(asn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
					b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(oidSHA384)
					})
				})
				b.AddASN1(asn1.Tag(1).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
					b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(oidMGF1)
						b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1ObjectIdentifier(oidSHA384)
						})
					})
				})
				b.AddASN1(asn1.Tag(2).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
					b.AddASN1Int64(saltLength)
				})
			})
		})
		b.AddASN1BitString(keyDER)
	})
	return b.Bytes()
}

// ParsePublicKey parses an rsabssa public key: the SubjectPublicKeyInfo of
// RFC 9578, section 6.5 (id-RSASSA-PSS with SHA-384, MGF1-SHA-384 and a
// 48-byte salt), DER, with a 2048-bit modulus and e = 65537.
//
// Only the canonical encoding is accepted: the bytes must equal what
// [MarshalPublicKey] gives for the key, so one key has one encoding and one
// key ID. In particular a plain rsaEncryption SubjectPublicKeyInfo of the
// same modulus is rejected: it is a second encoding of the key, and it does
// not bind the key to RSASSA-PSS with these parameters.
func ParsePublicKey(der []byte) (*PublicKey, error) {
	return parsePublicKey(der, ModulusBits)
}

// parsePublicKey is ParsePublicKey for a modulus of exactly bits bits.
func parsePublicKey(der []byte, bits int) (*PublicKey, error) {
	input := cryptobyte.String(der)
	var spki, alg cryptobyte.String
	var keyDER []byte
	if !input.ReadASN1(&spki, asn1.SEQUENCE) || !input.Empty() ||
		!spki.ReadASN1(&alg, asn1.SEQUENCE) ||
		!spki.ReadASN1BitStringAsBytes(&keyDER) || !spki.Empty() {
		return nil, invalidKey("malformed SubjectPublicKeyInfo")
	}
	var oid encasn1.ObjectIdentifier
	if !alg.ReadASN1ObjectIdentifier(&oid) {
		return nil, invalidKey("malformed algorithm identifier")
	}
	switch {
	case oid.Equal(oidRSASSAPSS):
	case oid.Equal(oidRSAEncryption):
		return nil, invalidKey("rsaEncryption key, want id-RSASSA-PSS (RFC 9578, section 6.5)")
	default:
		return nil, invalidKey(fmt.Sprintf("algorithm %v, want id-RSASSA-PSS", oid))
	}

	keyInput := cryptobyte.String(keyDER)
	var rsaKey cryptobyte.String
	n := new(big.Int)
	var e int64
	if !keyInput.ReadASN1(&rsaKey, asn1.SEQUENCE) || !keyInput.Empty() ||
		!rsaKey.ReadASN1Integer(n) || !rsaKey.ReadASN1Integer(&e) || !rsaKey.Empty() {
		return nil, invalidKey("malformed RSAPublicKey")
	}
	if e != publicExponent {
		return nil, invalidKey(fmt.Sprintf("public exponent %d, want %d", e, publicExponent))
	}
	pk, err := newPublicKey(n, int(e), bits)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(pk.der, der) {
		return nil, invalidKey("not the canonical RFC 9578 encoding")
	}
	return pk, nil
}

// MarshalPublicKey returns the canonical encoding of pk, the form
// [ParsePublicKey] reads (RFC 9578, section 6.5). Privacy Pass derives the
// token key ID from these bytes.
func MarshalPublicKey(pk *PublicKey) []byte { return bytes.Clone(pk.der) }

// RSA returns a copy of pk as an [rsa.PublicKey], for use with other
// libraries such as crypto/rsa.
func (pk *PublicKey) RSA() *rsa.PublicKey {
	return &rsa.PublicKey{N: new(big.Int).Set(pk.rsa.N), E: pk.rsa.E}
}

// Size returns the size of pk's signatures, in bytes.
func (pk *PublicKey) Size() int { return pk.rsa.Size() }

// Verify reports whether sig is a valid RSABSSA-SHA384-PSS-Deterministic
// signature of msg under pk: an RSASSA-PSS signature (RFC 8017,
// section 8.1.2) with SHA-384, MGF1-SHA-384 and a salt of exactly 48 bytes
// (RFC 9474, section 4.5). msg is the message as given to [Blind] (the
// prepare prefix is empty). Every failure, including a signature of the
// wrong length or not below N, returns ErrInvalidSignature. Verify runs in
// variable time: all its inputs are public. It gives the same result as
// crypto/rsa.VerifyPSS with these parameters, but uses the modulus prepared
// when pk was parsed.
func (pk *PublicKey) Verify(msg, sig []byte) error {
	mHash := sha512.Sum384(msg)
	return pk.verifyDigest(mHash[:], sig)
}

// verifyDigest is Verify for the SHA-384 digest mHash of the message: the
// check of every verifier, which [Finalize] also runs on its result.
func (pk *PublicKey) verifyDigest(mHash, sig []byte) error {
	size := pk.n.Size()
	if len(sig) != size {
		return ErrInvalidSignature
	}
	// RSAVP1 (RFC 8017, section 5.2.2): s must be below N.
	s, err := bigmod.NewNat().SetBytes(sig, pk.n)
	if err != nil {
		return ErrInvalidSignature
	}
	var emBuf [maxStackBytes]byte
	var em []byte
	if size <= len(emBuf) {
		em = emBuf[:size]
	} else {
		em = make([]byte, size)
	}
	natToBytes(em, s.ExpShortVarTime(s, uint(pk.rsa.E), pk.n))
	if !emsaPSSVerify(mHash, em, pk.n.BitLen()-1) {
		return ErrInvalidSignature
	}
	return nil
}

// emsaPSSVerify is EMSA-PSS-VERIFY (RFC 8017, section 9.1.2) with SHA-384,
// MGF1-SHA-384 and a salt of exactly saltLength bytes. em is the
// modulus-size big-endian encoding of s^e mod N, and emBits is the modulus
// size in bits minus one.
func emsaPSSVerify(mHash, em []byte, emBits int) bool {
	const hLen = sha512.Size384
	emLen := (emBits + 7) / 8
	// I2OSP(m, emLen): when emBits is a multiple of 8, EM is one byte
	// shorter than the modulus, and the byte dropped must be zero.
	if len(em) < emLen {
		return false
	}
	for _, b := range em[:len(em)-emLen] {
		if b != 0 {
			return false
		}
	}
	em = em[len(em)-emLen:]

	// Steps 3 to 6.
	if emLen < hLen+saltLength+2 || em[emLen-1] != 0xbc {
		return false
	}
	maskedDB, h := em[:emLen-hLen-1], em[emLen-hLen-1:emLen-1]
	topBits := byte(0xff >> (8*emLen - emBits))
	if maskedDB[0]&^topBits != 0 {
		return false
	}

	// Steps 7 to 9: DB = maskedDB ⊕ MGF1(H, emLen - hLen - 1).
	var dbBuf [maxStackBytes]byte
	var db []byte
	if len(maskedDB) <= len(dbBuf) {
		db = dbBuf[:len(maskedDB)]
	} else {
		db = make([]byte, len(maskedDB))
	}
	mgf1XOR(db, maskedDB, h)
	db[0] &= topBits

	// Step 10: DB = PS (zeros) || 0x01 || salt.
	psLen := emLen - hLen - saltLength - 2
	for _, b := range db[:psLen] {
		if b != 0 {
			return false
		}
	}
	if db[psLen] != 0x01 {
		return false
	}
	salt := db[len(db)-saltLength:]

	// Steps 12 to 14: H' = Hash(0x00 × 8 || mHash || salt) must equal H.
	if len(mHash) != hLen {
		return false
	}
	var mPrime [8 + hLen + saltLength]byte
	copy(mPrime[8:], mHash)
	copy(mPrime[8+hLen:], salt)
	hPrime := sha512.Sum384(mPrime[:])
	return bytes.Equal(hPrime[:], h)
}

// mgf1XOR sets out = in ⊕ MGF1-SHA-384(seed, len(in)) (RFC 8017,
// appendix B.2.1). out and in have the same length.
func mgf1XOR(out, in, seed []byte) {
	// Each block is Hash(seed || counter), with a 4-byte big-endian counter.
	var input [sha512.Size384 + 4]byte
	if len(seed) != sha512.Size384 {
		panic("rsabssa: internal error: MGF1 seed of the wrong size")
	}
	copy(input[:], seed)
	for counter, done := uint32(0), 0; done < len(in); counter++ {
		binary.BigEndian.PutUint32(input[sha512.Size384:], counter)
		t := sha512.Sum384(input[:])
		done += subtle.XORBytes(out[done:], in[done:], t[:])
	}
}
