package rsabssa

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"testing"
)

// stdPSSOptions are the variant's parameters for crypto/rsa, the reference
// that Verify must agree with.
var stdPSSOptions = &rsa.PSSOptions{SaltLength: saltLength, Hash: crypto.SHA384}

func stdVerify(pub *rsa.PublicKey, msg, sig []byte) bool {
	h := sha512.Sum384(msg)
	return rsa.VerifyPSS(pub, crypto.SHA384, h[:], sig, stdPSSOptions) == nil
}

// encodePSS is EMSA-PSS-ENCODE (RFC 8017, section 9.1.1) with SHA-384,
// written independently of Verify, with a hook to damage DB before masking
// and one to damage EM after.
func encodePSS(mHash, salt []byte, emBits int, damageDB, damageEM func([]byte)) []byte {
	const hLen = sha512.Size384
	emLen := (emBits + 7) / 8
	mPrime := append(append(make([]byte, 8), mHash...), salt...)
	h := sha512.Sum384(mPrime)
	db := make([]byte, emLen-hLen-1)
	db[len(db)-len(salt)-1] = 0x01
	copy(db[len(db)-len(salt):], salt)
	if damageDB != nil {
		damageDB(db)
	}
	mask := make([]byte, 0, len(db)+hLen)
	for c := byte(0); len(mask) < len(db); c++ {
		t := sha512.Sum384(append(h[:], 0, 0, 0, c))
		mask = append(mask, t[:]...)
	}
	for i := range db {
		db[i] ^= mask[i]
	}
	db[0] &= 0xff >> (8*emLen - emBits)
	em := append(append(db, h[:]...), 0xbc)
	if damageEM != nil {
		damageEM(em)
	}
	return em
}

// TestVerifyEncodings signs raw encodings, one generator per way an
// EMSA-PSS encoding can be wrong, and checks Verify against crypto/rsa.
func TestVerifyEncodings(t *testing.T) {
	_, k := testKey(t)
	pk := k.Public()
	msg := []byte("a token message")
	mHash := sha512.Sum384(msg)
	salt := bytes.Repeat([]byte{0x5a}, saltLength)
	emBits := ModulusBits - 1

	for _, c := range []struct {
		name     string
		mHash    []byte
		salt     []byte
		damageDB func([]byte)
		damageEM func([]byte)
		valid    bool
	}{
		{name: "valid", valid: true},
		{name: "salt all zero", salt: make([]byte, saltLength), valid: true},
		{name: "salt of 32 bytes", salt: salt[:32]},
		{name: "salt of 64 bytes", salt: bytes.Repeat([]byte{1}, 64)},
		{name: "no salt", salt: []byte{}},
		{name: "another message", mHash: make([]byte, 48)},
		{name: "trailer 0xbb", damageEM: func(em []byte) { em[len(em)-1] = 0xbb }},
		{name: "top bit set", damageEM: func(em []byte) { em[0] |= 0x80 }},
		{name: "H altered", damageEM: func(em []byte) { em[len(em)-2] ^= 1 }},
		{name: "maskedDB altered", damageEM: func(em []byte) { em[100] ^= 1 }},
		{name: "separator 0x02", damageDB: func(db []byte) { db[len(db)-saltLength-1] = 0x02 }},
		{name: "separator 0x00", damageDB: func(db []byte) { db[len(db)-saltLength-1] = 0x00 }},
		{name: "padding not zero", damageDB: func(db []byte) { db[5] = 1 }},
		{name: "padding first byte not zero", damageDB: func(db []byte) { db[0] = 0x40 }},
		{name: "padding top bit set before masking", damageDB: func(db []byte) { db[0] = 0x80 }, valid: true},
	} {
		h, s := mHash[:], salt
		if c.mHash != nil {
			h = c.mHash
		}
		if c.salt != nil {
			s = c.salt
		}
		em := encodePSS(h, s, emBits, c.damageDB, c.damageEM)
		sig, err := k.BlindSign(em)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		ours := pk.Verify(msg, sig) == nil
		std := stdVerify(pk.RSA(), msg, sig)
		if ours != c.valid || std != c.valid {
			t.Errorf("%s: Verify %v, crypto/rsa %v, want %v", c.name, ours, std, c.valid)
		}
	}
}

// TestEMSAPSSVerifyShortEM checks the case of a modulus whose size minus
// one is a multiple of 8, where EM is one byte shorter than the modulus.
func TestEMSAPSSVerifyShortEM(t *testing.T) {
	mHash := sha512.Sum384([]byte("m"))
	salt := bytes.Repeat([]byte{7}, saltLength)
	em := encodePSS(mHash[:], salt, 2048, nil, nil)
	if len(em) != 256 {
		t.Fatalf("EM of %d bytes", len(em))
	}
	if !emsaPSSVerify(mHash[:], append([]byte{0}, em...), 2048) {
		t.Error("valid encoding refused")
	}
	if emsaPSSVerify(mHash[:], append([]byte{1}, em...), 2048) {
		t.Error("nonzero extra byte accepted")
	}
	if emsaPSSVerify(mHash[:], em[1:], 2048) {
		t.Error("short EM accepted")
	}
	if !emsaPSSVerify(mHash[:], em, 2048) {
		t.Error("EM of exactly emLen bytes refused")
	}
}

// TestVerifyMatchesStdlib flips every bit of valid signatures and compares
// Verify with crypto/rsa.VerifyPSS.
func TestVerifyMatchesStdlib(t *testing.T) {
	sk, k := testKey(t)
	pk := k.Public()
	for i := range 3 {
		msg := make([]byte, 98)
		rand.Read(msg)
		h := sha512.Sum384(msg)
		sig, err := rsa.SignPSS(rand.Reader, sk, crypto.SHA384, h[:], stdPSSOptions)
		if err != nil {
			t.Fatal(err)
		}
		if err := pk.Verify(msg, sig); err != nil {
			t.Fatalf("crypto/rsa signature %d refused: %v", i, err)
		}
		if i > 0 {
			continue
		}
		for bit := range 8 * len(sig) {
			bad := bytes.Clone(sig)
			bad[bit/8] ^= 1 << (bit % 8)
			if ours, std := pk.Verify(msg, bad) == nil, stdVerify(pk.RSA(), msg, bad); ours || std {
				t.Fatalf("bit %d flipped: Verify %v, crypto/rsa %v", bit, ours, std)
			}
		}
	}
}
