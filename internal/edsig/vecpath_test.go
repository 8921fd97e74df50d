package edsig

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"filippo.io/edwards25519"
)

// Differential tests of the vector field arithmetic: the batch must decide
// exactly as it does on the scalar path, and as Verify does, on every
// public vector and on random and hostile inputs. On a build or processor
// without the vector path both runs take the scalar one.

// setFE8 sets useFE8 to on, if the vector path is available, for the rest
// of the test.
func setFE8(t *testing.T, on bool) {
	saved := useFE8
	useFE8 = saved && on
	t.Cleanup(func() { useFE8 = saved })
}

// sameAffine reports whether a and b hold the same field elements.
func sameAffine(a, b *affinePoint) bool {
	return a.YplusX.Equal(&b.YplusX) == 1 && a.YminusX.Equal(&b.YminusX) == 1 && a.T2d.Equal(&b.T2d) == 1
}

// decideBoth verifies the entries with the vector path on and off, with the
// same weights, and fails the test unless the two batches decode the same
// points and reach the same results as Verify.
func decideBoth(t *testing.T, label string, pks []*PublicKey, msgs, sigs [][]byte, seed byte) {
	t.Helper()
	want := make([]bool, len(sigs))
	wantAll := true
	for i := range sigs {
		want[i] = pks[i] != nil && Verify(pks[i], msgs[i], sigs[i])
		wantAll = wantAll && want[i]
	}
	var batches [2]Batch
	for path, on := range []bool{true, false} {
		setFE8(t, on)
		b := &batches[path]
		for i := range sigs {
			b.Add(pks[i], msgs[i], sigs[i])
		}
		b.rand = rand.NewChaCha8([32]byte{seed})
		results := make([]bool, len(sigs))
		all, err := b.Verify(results)
		if err != nil {
			t.Fatalf("%s: Verify: %v", label, err)
		}
		if all != wantAll {
			t.Errorf("%s (vector path %v): Verify = %v, want %v", label, on, all, wantAll)
		}
		for i := range results {
			if results[i] != want[i] {
				t.Errorf("%s (vector path %v): entry %d: batch %v, single %v", label, on, i, results[i], want[i])
			}
		}
	}
	v, s := &batches[0], &batches[1]
	if len(v.negR) != len(s.negR) || fmt.Sprint(v.slot) != fmt.Sprint(s.slot) {
		t.Fatalf("%s: the vector path kept %d points, the scalar path %d", label, len(v.negR), len(s.negR))
	}
	for i := range v.negR {
		if !sameAffine(&v.negR[i], &s.negR[i]) {
			t.Fatalf("%s: point %d decoded differently on the two paths", label, i)
		}
	}
}

func TestVectorPathVectors(t *testing.T) {
	cases := loadVectors(t)
	var pks []*PublicKey
	var msgs, sigs [][]byte
	for _, c := range cases {
		pk, err := NewPublicKey(c.key)
		if err != nil {
			continue
		}
		pks, msgs, sigs = append(pks, pk), append(msgs, c.msg), append(sigs, c.sig)
	}
	rng := rand.New(rand.NewPCG(61, 62))
	for _, n := range []int{7, 8, 9, 16, 23, 64, 200} {
		for start := 0; start < len(sigs); start += n {
			end := min(start+n, len(sigs))
			decideBoth(t, fmt.Sprintf("vectors [%d, %d)", start, end), pks[start:end], msgs[start:end], sigs[start:end], byte(rng.Uint32()))
		}
	}
}

// TestVectorPathHostile mixes valid signatures with non-canonical R,
// small-order and mixed-order R, R that is not a point, every other
// corruption, and pairs of forgeries whose errors cancel when their
// weights are equal.
func TestVectorPathHostile(t *testing.T) {
	rng := rand.New(rand.NewPCG(63, 64))
	signers := []*signer{newSigner(t, rng, 0), newSigner(t, rng, 3)}
	p := new(edwards25519.Scalar)
	for _, n := range []int{8, 9, 16, 17, 40, 96, 130} {
		for trial := range 6 {
			var pks []*PublicKey
			var msgs, sigs [][]byte
			for len(sigs) < n {
				kind := rng.IntN(numCorruptions + 3)
				if kind == numCorruptions && len(sigs)+2 <= n {
					// Cancelling forgeries: s₁ + δ and s₂ − δ.
					s := signers[rng.IntN(len(signers))]
					e1 := makeEntry(t, rng, []*signer{s}, corruptNone)
					e2 := makeEntry(t, rng, []*signer{s}, corruptNone)
					var d [64]byte
					d[0] = byte(1 + rng.IntN(200))
					delta, _ := new(edwards25519.Scalar).SetUniformBytes(d[:])
					s1, _ := new(edwards25519.Scalar).SetCanonicalBytes(e1.sig[32:])
					s2, _ := new(edwards25519.Scalar).SetCanonicalBytes(e2.sig[32:])
					copy(e1.sig[32:], p.Add(s1, delta).Bytes())
					copy(e2.sig[32:], p.Subtract(s2, delta).Bytes())
					pks, msgs, sigs = append(pks, s.pk, s.pk), append(msgs, e1.msg, e2.msg), append(sigs, e1.sig, e2.sig)
					continue
				}
				e := makeEntry(t, rng, signers, kind%numCorruptions)
				if kind == numCorruptions+1 {
					// R with y ≥ p: 2²⁵⁵ − 19 + y for small y, either sign.
					e.sig[0] = byte(0xed + rng.IntN(0x13))
					for i := 1; i < 31; i++ {
						e.sig[i] = 0xff
					}
					e.sig[31] = 0x7f | byte(rng.IntN(2))<<7
				}
				pks, msgs, sigs = append(pks, e.s.pk), append(msgs, e.msg), append(sigs, e.sig)
			}
			decideBoth(t, fmt.Sprintf("n=%d trial %d", n, trial), pks, msgs, sigs, byte(trial))
		}
	}
}

// FuzzDecodeMany checks that the batch's decoder, on eight or more
// encodings at once, decodes exactly the points that the single decoder
// does, on the vector path and off it.
func FuzzDecodeMany(f *testing.F) {
	rng := rand.New(rand.NewPCG(65, 66))
	encs := decodeTestEncodings(f, rng)
	for i := 0; i+9 <= len(encs); i += 9 {
		var seed []byte
		for _, e := range encs[i : i+9] {
			seed = append(seed, e[:]...)
		}
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n := len(data) / 32
		if n > 64 {
			return
		}
		enc := make([][32]byte, n)
		for i := range enc {
			enc[i] = [32]byte(data[32*i:])
		}
		want := make([]affinePoint, n)
		var wantDropped []int32
		for i := range enc {
			if !decodeNegVarTime(&want[i], &enc[i]) {
				wantDropped = append(wantDropped, int32(i))
			}
		}
		for _, on := range []bool{true, false} {
			setFE8(t, on)
			got := make([]affinePoint, n)
			dropped := decodeNegManyVarTime(got, enc, 0, nil)
			if fmt.Sprint(dropped) != fmt.Sprint(wantDropped) {
				t.Fatalf("vector path %v: dropped %v, want %v", on, dropped, wantDropped)
			}
			for i := range enc {
				if !sameAffine(&got[i], &want[i]) && !isDropped(wantDropped, i) {
					t.Fatalf("vector path %v: %x decoded to a different point", on, enc[i])
				}
			}
		}
	})
}

func isDropped(dropped []int32, i int) bool {
	for _, d := range dropped {
		if int(d) == i {
			return true
		}
	}
	return false
}
