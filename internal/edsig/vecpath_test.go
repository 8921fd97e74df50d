package edsig

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"filippo.io/edwards25519"
)

// Differential tests of the vector field arithmetic: the batch must decide
// exactly as it does on the scalar path, and as Verify does, on every
// public vector and on random and hostile inputs, on each vector path
// that the processor and build have (AVX-512 IFMA, AVX2). On a build or
// processor without them only the scalar path runs.

// vecPath selects one way through the field arithmetic.
type vecPath struct {
	name     string
	fe8, fe4 bool // the useFE8 and useFE4 it sets, where available
}

var (
	pathIFMA   = vecPath{"ifma", true, false}
	pathAVX2   = vecPath{"avx2", false, true}
	pathScalar = vecPath{"scalar", false, false}
)

// haveFE8 and haveFE4 are the paths that the processor and build offer,
// whatever a test has selected since.
var haveFE8, haveFE4 = useFE8, useFE4

// vecPaths returns the paths available here, the scalar one last.
func vecPaths() []vecPath {
	var ps []vecPath
	if haveFE8 {
		ps = append(ps, pathIFMA)
	}
	if haveFE4 {
		ps = append(ps, pathAVX2)
	}
	return append(ps, pathScalar)
}

// setPath takes path p, where available, for the rest of the test or
// benchmark.
func setPath(tb testing.TB, p vecPath) {
	saved8, saved4 := useFE8, useFE4
	useFE8, useFE4 = haveFE8 && p.fe8, haveFE4 && p.fe4
	tb.Cleanup(func() { useFE8, useFE4 = saved8, saved4 })
}

// sameAffine reports whether a and b hold the same field elements.
func sameAffine(a, b *affinePoint) bool {
	return a.YplusX.Equal(&b.YplusX) == 1 && a.YminusX.Equal(&b.YminusX) == 1 && a.T2d.Equal(&b.T2d) == 1
}

// decideBoth verifies the entries on every available path, with the same
// weights, and fails the test unless the batches decode the same points
// as the scalar path and reach the same results as Verify.
func decideBoth(t *testing.T, label string, pks []*PublicKey, msgs, sigs [][]byte, seed byte) {
	t.Helper()
	want := make([]bool, len(sigs))
	wantAll := true
	for i := range sigs {
		want[i] = pks[i] != nil && Verify(pks[i], msgs[i], sigs[i])
		wantAll = wantAll && want[i]
	}
	paths := vecPaths()
	batches := make([]Batch, len(paths))
	for k, path := range paths {
		setPath(t, path)
		b := &batches[k]
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
			t.Errorf("%s (%s path): Verify = %v, want %v", label, path.name, all, wantAll)
		}
		for i := range results {
			if results[i] != want[i] {
				t.Errorf("%s (%s path): entry %d: batch %v, single %v", label, path.name, i, results[i], want[i])
			}
		}
	}
	s := &batches[len(paths)-1]
	for k, path := range paths[:len(paths)-1] {
		v := &batches[k]
		if len(v.negR) != len(s.negR) || fmt.Sprint(v.slot) != fmt.Sprint(s.slot) {
			t.Fatalf("%s: the %s path kept %d points, the scalar path %d", label, path.name, len(v.negR), len(s.negR))
		}
		for i := range v.negR {
			if !sameAffine(&v.negR[i], &s.negR[i]) {
				t.Fatalf("%s: point %d decoded differently on the %s and scalar paths", label, i, path.name)
			}
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
	for _, n := range []int{4, 5, 7, 8, 9, 12, 16, 23, 64, 200} {
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
	for _, n := range []int{4, 7, 8, 9, 12, 16, 17, 40, 96, 130} {
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

// FuzzDecodeMany checks that the batch's decoder, on four or more
// encodings at once, decodes exactly the points that the single decoder
// does, on every available path.
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
		for _, path := range vecPaths() {
			setPath(t, path)
			got := make([]affinePoint, n)
			dropped := decodeNegManyVarTime(got, enc, 0, nil)
			if fmt.Sprint(dropped) != fmt.Sprint(wantDropped) {
				t.Fatalf("%s path: dropped %v, want %v", path.name, dropped, wantDropped)
			}
			for i := range enc {
				if !sameAffine(&got[i], &want[i]) && !isDropped(wantDropped, i) {
					t.Fatalf("%s path: %x decoded to a different point", path.name, enc[i])
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
