package edsig

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"testing"
)

// TestCheckPublicKey checks that CheckPublicKey accepts exactly what
// NewPublicKey accepts.
func TestCheckPublicKey(t *testing.T) {
	valid := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	identity := make([]byte, 32)
	identity[0] = 1
	nonCanonical := bytes.Repeat([]byte{0xff}, 32)
	nonCanonical[0], nonCanonical[31] = 0xee, 0x7f
	order2 := bytes.Repeat([]byte{0xff}, 32)
	order2[0], order2[31] = 0xec, 0x7f
	keys := [][]byte{valid, identity, nonCanonical, order2, valid[:31], nil, append(bytes.Clone(valid), 0)}
	for i := range 256 {
		k := bytes.Clone(valid)
		k[i/8] ^= 1 << (i % 8)
		keys = append(keys, k)
	}
	accepted := 0
	for i, k := range keys {
		_, errNew := NewPublicKey(k)
		errCheck := CheckPublicKey(k)
		if (errNew == nil) != (errCheck == nil) {
			t.Fatalf("key %d: NewPublicKey %v, CheckPublicKey %v", i, errNew, errCheck)
		}
		if errCheck != nil && !errors.Is(errCheck, ErrInvalidKey) {
			t.Fatalf("key %d: %v does not wrap ErrInvalidKey", i, errCheck)
		}
		if errCheck == nil {
			accepted++
		}
	}
	if err := CheckPublicKey(valid); err != nil {
		t.Fatal(err)
	}
	if accepted < 2 || accepted == len(keys) {
		t.Fatalf("%d of %d keys accepted", accepted, len(keys))
	}
}

// refSignatureEncoding is CheckSignatureEncoding computed with math/big:
// 64 bytes, s < L, and R's y, with the sign bit cleared, below p.
func refSignatureEncoding(sig []byte) bool {
	if len(sig) != SignatureSize {
		return false
	}
	le := func(b []byte) *big.Int {
		r := bytes.Clone(b)
		slices.Reverse(r)
		return new(big.Int).SetBytes(r)
	}
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	y := le(sig[:32])
	y.SetBit(y, 255, 0)
	return y.Cmp(p) < 0 && le(sig[32:]).Cmp(le(scalarL)) < 0
}

// leMinus returns the 32-byte little-endian b − d, for b ≥ d.
func leMinus(b []byte, d byte) []byte {
	out := bytes.Clone(b)
	borrow := int(d)
	for i := range out {
		v := int(out[i]) - borrow
		borrow = 0
		if v < 0 {
			v += 256
			borrow = 1
		}
		out[i] = byte(v)
	}
	return out
}

// TestCheckSignatureEncoding checks CheckSignatureEncoding on the vectors,
// on every length, and at the bounds of s and of R's y, against
// refSignatureEncoding, Verify and Batch.Add.
func TestCheckSignatureEncoding(t *testing.T) {
	accepted, refused := 0, 0
	for _, c := range loadVectors(t) {
		got := CheckSignatureEncoding(c.sig)
		if c.want && !got {
			t.Errorf("%s (id %d): valid signature %x refused", c.name(), c.id, c.sig)
		}
		if ref := refSignatureEncoding(c.sig); got != ref {
			t.Errorf("%s (id %d): CheckSignatureEncoding(%x) = %v, reference %v", c.name(), c.id, c.sig, got, ref)
		}
		if got {
			accepted++
		} else {
			refused++
		}
	}
	if accepted == 0 || refused == 0 {
		t.Errorf("vectors: %d encodings accepted, %d refused; the test needs both", accepted, refused)
	}

	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	pk, err := NewPublicKey(priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("message")
	sig := ed25519.Sign(priv, msg)
	if !Verify(pk, msg, sig) || !CheckSignatureEncoding(sig) {
		t.Fatal("valid signature refused")
	}

	type encCase struct {
		name string
		sig  []byte
		want bool
	}
	var cases []encCase
	cases = append(cases, encCase{"nil", nil, false})
	for n := 0; n <= 2*SignatureSize+2; n++ {
		s := make([]byte, n)
		copy(s, sig)
		cases = append(cases, encCase{fmt.Sprintf("length %d", n), s, n == SignatureSize})
	}
	withS := func(s []byte) []byte { return append(bytes.Clone(sig[:32]), s...) }
	withR := func(r []byte) []byte { return append(bytes.Clone(r), sig[32:]...) }
	hexR := func(h string) []byte {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != 32 {
			t.Fatalf("bad R %q", h)
		}
		return b
	}
	var pow252, one [32]byte
	pow252[31] = 0x10
	one[0] = 1
	cases = append(cases,
		encCase{"s = L", withS(scalarL), false},
		encCase{"s = L-1", withS(leMinus(scalarL, 1)), true},
		encCase{"s = L+1", withS(addL(one[:])), false},
		encCase{"s = 0", withS(make([]byte, 32)), true},
		encCase{"s = 2^252", withS(pow252[:]), true},
		encCase{"s + L", withS(addL(sig[32:])), false},
		encCase{"s = 2^256-1", withS(bytes.Repeat([]byte{0xff}, 32)), false},
		encCase{"y = p", withR(hexR("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")), false},
		encCase{"y = p, sign bit set", withR(hexR("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff")), false},
		encCase{"y = p+1", withR(hexR("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")), false},
		encCase{"y = 2^255-1", withR(hexR("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")), false},
		encCase{"y = p-1", withR(hexR("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")), true},
		// (0, −1) has no negative, so Verify refuses this R; its y is canonical.
		encCase{"y = p-1, sign bit set", withR(hexR("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff")), true},
		encCase{"y = 0", withR(make([]byte, 32)), true},
		encCase{"y = 2^254, sign bit set", withR(hexR("00000000000000000000000000000000000000000000000000000000000000c0")), true},
	)
	offR := offCurveR(t)
	cases = append(cases, encCase{"R not on the curve", withR(offR[:]), true})

	var b Batch
	for _, c := range cases {
		before := bytes.Clone(c.sig)
		got := CheckSignatureEncoding(c.sig)
		if got != c.want {
			t.Errorf("%s: CheckSignatureEncoding = %v, want %v", c.name, got, c.want)
		}
		if !bytes.Equal(before, c.sig) {
			t.Errorf("%s: CheckSignatureEncoding changed its input", c.name)
		}
		if ref := refSignatureEncoding(c.sig); got != ref {
			t.Errorf("%s: CheckSignatureEncoding = %v, reference %v", c.name, got, ref)
		}
		if !got && Verify(pk, msg, c.sig) {
			t.Errorf("%s: refused encoding verifies", c.name)
		}
		b.Add(pk, msg, c.sig)
		if rejected := b.slot[len(b.slot)-1] < 0; rejected == got {
			t.Errorf("%s: CheckSignatureEncoding = %v, but Add rejected it: %v", c.name, got, rejected)
		}
	}
	results := make([]bool, b.Len())
	if _, err := b.Verify(results); err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		if results[i] != Verify(pk, msg, c.sig) {
			t.Errorf("%s: batch %v, single %v", c.name, results[i], !results[i])
		}
	}
}
