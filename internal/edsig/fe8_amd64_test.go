//go:build amd64 && !purego

package edsig

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// fe8Inputs returns field elements that exercise the vector arithmetic:
// 0, 1, −1, p−2 and other edge values, and random ones.
func fe8Inputs(t testing.TB, rng *rand.Rand, n int) []field.Element {
	var zero, one, minusOne field.Element
	one.One()
	minusOne.Negate(&one)
	in := []field.Element{zero, one, minusOne, *sqrtM1, *curveD, *curveDInv}
	for _, h := range []string{
		"ebffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p − 2
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // 2²⁵⁵ − 1 ≡ 18
		"0000000000000800000000000000000000000000000000000000000000000000", // 2⁵¹
		"ffffffffffff07000000000000000000000000000000000000000000000000ff", // 2⁵¹ − 1 + high bits
	} {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		var x field.Element
		if _, err := x.SetBytes(b); err != nil {
			t.Fatal(err)
		}
		in = append(in, x)
	}
	for len(in) < n {
		var b [32]byte
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		var x field.Element
		if _, err := x.SetBytes(b[:]); err != nil {
			t.Fatal(err)
		}
		in = append(in, x)
	}
	return in
}

// setMaxLimbs sets every limb of v to the largest value that the vector
// arithmetic accepts and produces, 2⁵¹ + 2¹⁵ − 1 for limb 0 and 2⁵¹ + 2¹⁰
// − 1 for the others, and returns the element that each lane then holds.
func setMaxLimbs(v *fe8) *field.Element {
	for j := range 8 {
		v[j] = 1<<51 + 1<<15 - 1
		for k := 1; k < 5; k++ {
			v[8*k+j] = 1<<51 + 1<<10 - 1
		}
	}
	var x field.Element
	v.lane(&x, 0)
	return &x
}

func TestFE8LaneRoundTrip(t *testing.T) {
	if !useFE8 {
		t.Skip("no vector field arithmetic on this processor or build")
	}
	rng := rand.New(rand.NewPCG(51, 52))
	in := fe8Inputs(t, rng, 64)
	for i := 0; i+8 <= len(in); i += 8 {
		var v fe8
		for j := range 8 {
			v.setLane(j, &in[i+j])
		}
		for j := range 8 {
			var x field.Element
			v.lane(&x, j)
			if x.Equal(&in[i+j]) != 1 {
				t.Fatalf("lane %d: %x, want %x", j, x.Bytes(), in[i+j].Bytes())
			}
		}
	}
}

func TestFE8Arithmetic(t *testing.T) {
	if !useFE8 {
		t.Skip("no vector field arithmetic on this processor or build")
	}
	rng := rand.New(rand.NewPCG(53, 54))
	in := fe8Inputs(t, rng, 400)
	check := func(what string, v *fe8, want []field.Element) {
		t.Helper()
		for j := range 8 {
			if v[j] >= 1<<52 || v[8+j] >= 1<<52 || v[16+j] >= 1<<52 || v[24+j] >= 1<<52 || v[32+j] >= 1<<52 {
				t.Fatalf("%s: lane %d has a limb of 2⁵² or more", what, j)
			}
			var x field.Element
			v.lane(&x, j)
			if x.Equal(&want[j]) != 1 {
				t.Fatalf("%s: lane %d = %x, want %x", what, j, x.Bytes(), want[j].Bytes())
			}
		}
	}
	for i := 0; i+16 <= len(in); i += 8 {
		var a, b, out fe8
		wantMul := make([]field.Element, 8)
		wantSq := make([]field.Element, 8)
		wantSq5 := make([]field.Element, 8)
		wantPow := make([]field.Element, 8)
		for j := range 8 {
			a.setLane(j, &in[i+j])
			b.setLane(j, &in[i+8+j])
			wantMul[j].Multiply(&in[i+j], &in[i+8+j])
			wantSq[j].Square(&in[i+j])
			wantSq5[j].Set(&in[i+j])
			for range 5 {
				wantSq5[j].Square(&wantSq5[j])
			}
			wantPow[j].Pow22523(&in[i+j])
		}
		mul8(&out, &a, &b)
		check("mul", &out, wantMul)
		sq8(&out, &a, 1)
		check("square", &out, wantSq)
		sq8(&out, &a, 5)
		check("square⁵", &out, wantSq5)
		out = a
		pow22523x8(&out)
		check("pow22523", &out, wantPow)
		out, out2 := a, a
		pow22523x16(&out, &out2)
		check("pow22523x16, a", &out, wantPow)
		check("pow22523x16, b", &out2, wantPow)
		// Aliasing: out = a·out.
		out = b
		mul8(&out, &a, &out)
		check("mul, aliased", &out, wantMul)
	}
	// The largest limbs that the arithmetic produces are valid inputs.
	var a, out fe8
	x := setMaxLimbs(&a)
	want := make([]field.Element, 8)
	for j := range want {
		want[j].Multiply(x, x)
	}
	mul8(&out, &a, &a)
	check("mul of largest limbs", &out, want)
	sq8(&out, &a, 1)
	check("square of largest limbs", &out, want)
}

// TestDecodeNeg8 checks the vector decoder against the single one on
// valid points, non-points, non-canonical y and the sign-bit edge cases,
// in every lane.
func TestDecodeNeg8(t *testing.T) {
	if !useFE8 {
		t.Skip("no vector field arithmetic on this processor or build")
	}
	rng := rand.New(rand.NewPCG(55, 56))
	encs := decodeTestEncodings(t, rng)
	want := make([]affinePoint, len(encs))
	wantOK := make([]bool, len(encs))
	for i := range encs {
		wantOK[i] = decodeNegVarTime(&want[i], &encs[i])
	}
	same := func(a, b *affinePoint) bool {
		return a.YplusX.Equal(&b.YplusX) == 1 && a.YminusX.Equal(&b.YminusX) == 1 && a.T2d.Equal(&b.T2d) == 1
	}
	for start := range len(encs) {
		var in [8][32]byte
		var idx [8]int
		for j := range 8 {
			idx[j] = (start + j*(start%7+1)) % len(encs)
			in[j] = encs[idx[j]]
		}
		var out [8]affinePoint
		ok := decodeNeg8VarTime(&out, &in)
		for j := range 8 {
			i := idx[j]
			if ok[j] != wantOK[i] {
				t.Fatalf("lane %d, %x: got %v, want %v", j, encs[i], ok[j], wantOK[i])
			}
			if ok[j] && !same(&out[j], &want[i]) {
				t.Fatalf("lane %d, %x: decoded to a different point", j, encs[i])
			}
		}
	}
}

// TestMultVec checks the vector bucket method against a reference sum at
// every window width it may choose, with part of the points as extras.
func TestMultVec(t *testing.T) {
	if !useFE8 {
		t.Skip("no vector field arithmetic on this processor or build")
	}
	rng := rand.New(rand.NewPCG(57, 58))
	var w pippenger
	for _, n := range []int{1, 2, 9, 40, 100} {
		ps := make([]*edwards25519.Point, n)
		zs := make([]scalar128, n)
		for i := range ps {
			ps[i] = randPoint(t, rng)
			if i%5 == 4 {
				ps[i].Add(ps[i], torsion(t, i%8)) // mixed order
			}
			zs[i] = randScalar128(rng)
		}
		want := msmReference(t, ps, zs)
		aff := affineOf(ps)
		for c := uint(4); c <= 12; c++ {
			split := n * 2 / 3
			extra := make([]extraTerm, 0, n-split)
			for i := split; i < n; i++ {
				extra = append(extra, extraTerm{&aff[i], zs[i]})
			}
			var got extPoint
			w.multVecVarTime(&got, aff[:split], zs[:split], extra, c)
			if fromExt(t, &got).Equal(want) != 1 {
				t.Errorf("n=%d c=%d: vector Pippenger differs", n, c)
			}
		}
	}
	for n := 1; n < 5000; n = n*3/2 + 1 {
		if c := vecWindow(n); c < 4 || c > 12 {
			t.Errorf("vecWindow(%d) = %d", n, c)
		}
	}
}

// BenchmarkStrausCrossover times batches of n signatures with Straus and
// with the vector bucket method, alternating within each iteration, to
// set vecStrausMax:
//
//	go test ./internal/edsig -run '^$' -bench StrausCrossover -cpu 1 -count 5
func BenchmarkStrausCrossover(b *testing.B) {
	if !useFE8 {
		b.Skip("no vector field arithmetic on this processor or build")
	}
	for _, n := range []int{4, 8, 16, 24, 32, 48, 64, 80} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			pk, _, sigs := benchWorkload(b, n)
			batch := NewBatch(n)
			results := make([]bool, n)
			saved := vecStrausMax
			defer func() { vecStrausMax = saved }()
			var times [2]time.Duration
			for b.Loop() {
				for k, lim := range []int{strausMax, 0} {
					vecStrausMax = lim
					start := time.Now()
					batch.Reset()
					for _, s := range sigs {
						batch.Add(pk, s.msg, s.sig)
					}
					if ok, err := batch.Verify(results); !ok || err != nil {
						b.Fatal("verification failed")
					}
					times[k] += time.Since(start)
				}
			}
			b.ReportMetric(float64(times[1])/float64(times[0]), "pippenger/straus")
		})
	}
}

// BenchmarkFE8 times the vector field operations, each on eight lanes,
// beside field.Element's squaring of one element:
//
//	go test ./internal/edsig -run '^$' -bench FE8 -cpu 1 -count 5
func BenchmarkFE8(b *testing.B) {
	var v fe8
	x := setMaxLimbs(&v)
	b.Run("square-1000", func(b *testing.B) {
		for b.Loop() {
			sq8(&v, &v, 1000)
		}
	})
	b.Run("square-pair-1000", func(b *testing.B) {
		w := v
		for b.Loop() {
			fe8SquareN2((*[40]uint64)(&v), (*[40]uint64)(&w), (*[40]uint64)(&v), (*[40]uint64)(&w), 1000)
		}
	})
	b.Run("mul", func(b *testing.B) {
		for b.Loop() {
			mul8(&v, &v, &v)
		}
	})
	b.Run("field-square-1000", func(b *testing.B) {
		for b.Loop() {
			for range 1000 {
				x.Square(x)
			}
		}
	})
}

// TestCanonicalLane checks canonicalLane and negLimbs against
// field.Element's encoding, on edge values and on the largest limbs.
func TestCanonicalLane(t *testing.T) {
	rng := rand.New(rand.NewPCG(59, 60))
	in := fe8Inputs(t, rng, 64)
	toElement := func(l [5]uint64) *field.Element {
		var v fe8
		v.setLaneLimbs(0, &l)
		var x field.Element
		v.lane(&x, 0)
		return &x
	}
	check := func(v *fe8, j int, want *field.Element) {
		t.Helper()
		l := v.canonicalLane(j)
		for k := range l {
			if l[k] >= 1<<51 {
				t.Fatalf("limb %d of %x is %d", k, want.Bytes(), l[k])
			}
		}
		if toElement(l).Equal(want) != 1 {
			t.Fatalf("canonicalLane of %x differs", want.Bytes())
		}
		// Canonical: below p, so the encoding round-trips.
		var enc [32]byte
		copy(enc[:], want.Bytes())
		var y fe8
		y.setLaneY(0, &enc)
		if y.canonicalLane(0) != l {
			t.Fatalf("%x: canonicalLane is not the canonical form", enc)
		}
		var neg field.Element
		neg.Negate(want)
		if toElement(negLimbs(l)).Equal(&neg) != 1 {
			t.Fatalf("negLimbs of %x differs", want.Bytes())
		}
	}
	for i := 0; i+8 <= len(in); i += 8 {
		var v fe8
		for j := range 8 {
			v.setLane(j, &in[i+j])
		}
		for j := range 8 {
			check(&v, j, &in[i+j])
		}
	}
	var v fe8
	x := setMaxLimbs(&v)
	check(&v, 3, x)
	// p and p + 1 as unreduced limbs.
	p := [5]uint64{1<<51 - 19, 1<<51 - 1, 1<<51 - 1, 1<<51 - 1, 1<<51 - 1}
	v.setLaneLimbs(0, &p)
	if v.canonicalLane(0) != [5]uint64{} {
		t.Fatal("p does not reduce to 0")
	}
	p[0]++
	v.setLaneLimbs(0, &p)
	if v.canonicalLane(0) != [5]uint64{1} {
		t.Fatal("p + 1 does not reduce to 1")
	}
}

// TestSetDigits checks the one-pass digits of the vector bucket method
// against scalar128.signedDigit at every window width it may use.
func TestSetDigits(t *testing.T) {
	rng := rand.New(rand.NewPCG(67, 68))
	var v vecPippenger
	for c := uint(4); c <= 16; c++ {
		numWindows := pippengerWindows(c)
		groups := int(numWindows+7) / 8
		const m = 3
		v.idx = make([][8]int64, groups*m)
		v.neg = make([]uint8, groups*m)
		for range 200 {
			z := randScalar128(rng)
			v.setDigits(1, m, &z, c, numWindows)
			for j := range uint(groups * 8) {
				want := 0
				if j < numWindows {
					want = z.signedDigit(j, c, numWindows)
				}
				k, l := int(j/8)*m+1, j%8
				got := int(v.idx[k][l]-int64(l)) / len(ext8{})
				if v.neg[k]>>l&1 == 1 {
					got = -got
				}
				if got != want {
					t.Fatalf("c=%d z=%x window %d: digit %d, want %d", c, z, j, got, want)
				}
			}
		}
	}
}
