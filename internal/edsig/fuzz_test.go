package edsig

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"testing"
)

// FuzzBatchMatchesSingle checks that a batch holding an arbitrary entry,
// among valid signatures, gives that entry the result of Verify, on every
// available path (IFMA, AVX2, scalar), and never panics on any key,
// message or signature.
func FuzzBatchMatchesSingle(f *testing.F) {
	for _, c := range loadVectors(f) {
		f.Add(c.key, c.msg, c.sig)
	}
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	fixed, err := NewPublicKey(priv.Public().(ed25519.PublicKey))
	if err != nil {
		f.Fatal(err)
	}
	valid := make([][2][]byte, 7)
	for i := range valid {
		msg := fmt.Appendf(nil, "valid %d", i)
		valid[i] = [2][]byte{msg, ed25519.Sign(priv, msg)}
	}
	var b Batch

	f.Fuzz(func(t *testing.T, key, msg, sig []byte) {
		pk, err := NewPublicKey(key)
		if err == nil && string(pk.Bytes()) != string(key) {
			t.Fatalf("Bytes = %x, want %x", pk.Bytes(), key)
		}
		if err != nil {
			pk = nil
		}
		wantKey := pk != nil && Verify(pk, msg, sig)
		wantFixed := Verify(fixed, msg, sig)

		// On every path: the eight entries are decoded in vector lanes on
		// either vector path.
		for _, path := range vecPaths() {
			setPath(t, path)
			b.Reset()
			b.Add(fixed, valid[0][0], valid[0][1])
			b.Add(pk, msg, sig)
			for _, v := range valid[1:4] {
				b.Add(fixed, v[0], v[1])
			}
			b.Add(fixed, msg, sig)
			for _, v := range valid[4:] {
				b.Add(fixed, v[0], v[1])
			}
			results := make([]bool, b.Len())
			b.rand = rand.NewChaCha8([32]byte{byte(len(sig)), byte(len(msg))})
			all, err := b.Verify(results)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			for i, ok := range results {
				want := true
				switch i {
				case 1:
					want = wantKey
				case 5:
					want = wantFixed
				}
				if ok != want {
					t.Errorf("%s path: entry %d: batch %v, single %v", path.name, i, ok, want)
				}
			}
			if all != (wantKey && wantFixed) {
				t.Errorf("%s path: Verify = %v, want %v", path.name, all, wantKey && wantFixed)
			}
		}
		if enc := CheckSignatureEncoding(sig); enc != refSignatureEncoding(sig) {
			t.Errorf("CheckSignatureEncoding = %v, reference %v", enc, !enc)
		} else if !enc && (wantKey || wantFixed) {
			t.Errorf("signature verifies, but CheckSignatureEncoding refuses it")
		}
	})
}

// FuzzCheckSignatureEncoding checks CheckSignatureEncoding against
// refSignatureEncoding, and that Verify refuses whatever it refuses.
func FuzzCheckSignatureEncoding(f *testing.F) {
	for _, c := range loadVectors(f) {
		f.Add(c.sig)
	}
	f.Add([]byte(nil))
	edge := make([]byte, 64)
	copy(edge[32:], scalarL)
	f.Add(bytes.Clone(edge)) // s = L
	for i := range 32 {
		edge[i] = 0xff
	}
	edge[0], edge[31] = 0xed, 0x7f
	f.Add(bytes.Clone(edge)) // y = p, s = L
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	pk, err := NewPublicKey(priv.Public().(ed25519.PublicKey))
	if err != nil {
		f.Fatal(err)
	}
	msg := []byte("fuzz")
	f.Add(ed25519.Sign(priv, msg))

	f.Fuzz(func(t *testing.T, sig []byte) {
		got := CheckSignatureEncoding(sig)
		if ref := refSignatureEncoding(sig); got != ref {
			t.Fatalf("CheckSignatureEncoding(%x) = %v, reference %v", sig, got, ref)
		}
		if !got && Verify(pk, msg, sig) {
			t.Fatalf("Verify accepts %x, which CheckSignatureEncoding refuses", sig)
		}
	})
}
