package edsig

import (
	"bytes"
	"crypto/ed25519"
	"errors"
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
