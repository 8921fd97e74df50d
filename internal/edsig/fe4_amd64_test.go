//go:build amd64 && !purego

package edsig

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// setMaxLimbs4 sets every limb of v to the largest value that the AVX2
// arithmetic accepts, 2²⁶ + 2¹⁵ for even limbs and 2²⁵ + 2¹⁵ for odd
// ones, and returns the element that each lane then holds.
func setMaxLimbs4(v *fe4) *field.Element {
	for j := range 4 {
		for k := range 10 {
			v[4*k+j] = 1<<26 + 1<<15
			if k%2 == 1 {
				v[4*k+j] = 1<<25 + 1<<15
			}
		}
	}
	var x field.Element
	v.lane(&x, 0)
	return &x
}

func TestFE4LaneRoundTrip(t *testing.T) {
	if !useFE4 {
		t.Skip("no AVX2 field arithmetic on this processor or build")
	}
	rng := rand.New(rand.NewPCG(71, 72))
	in := fe8Inputs(t, rng, 64)
	for i := 0; i+4 <= len(in); i += 4 {
		var v fe4
		for j := range 4 {
			v.setLane(j, &in[i+j])
		}
		for j := range 4 {
			var x field.Element
			v.lane(&x, j)
			if x.Equal(&in[i+j]) != 1 {
				t.Fatalf("lane %d: %x, want %x", j, x.Bytes(), in[i+j].Bytes())
			}
		}
	}
}

// checkFE4 fails the test unless every limb of v is within the bounds of
// the AVX2 arithmetic and lane j holds want[j].
func checkFE4(t *testing.T, what string, v *fe4, want []field.Element) {
	t.Helper()
	for j := range 4 {
		for k := range 10 {
			limit := uint64(1<<26 + 1<<15)
			if k%2 == 1 {
				limit = 1<<25 + 1<<15
			}
			if v[4*k+j] > limit {
				t.Fatalf("%s: lane %d limb %d = %#x, above %#x", what, j, k, v[4*k+j], limit)
			}
		}
		var x field.Element
		v.lane(&x, j)
		if x.Equal(&want[j]) != 1 {
			t.Fatalf("%s: lane %d = %x, want %x", what, j, x.Bytes(), want[j].Bytes())
		}
	}
}

func TestFE4Arithmetic(t *testing.T) {
	if !useFE4 {
		t.Skip("no AVX2 field arithmetic on this processor or build")
	}
	rng := rand.New(rand.NewPCG(73, 74))
	in := fe8Inputs(t, rng, 400)
	for i := 0; i+8 <= len(in); i += 4 {
		var a, b, out, out2 fe4
		want := make(map[string][]field.Element)
		for _, k := range []string{"mul", "add", "sub", "square", "square⁵", "pow", "pow b"} {
			want[k] = make([]field.Element, 4)
		}
		for j := range 4 {
			x, y := &in[i+j], &in[i+4+j]
			a.setLane(j, x)
			b.setLane(j, y)
			want["mul"][j].Multiply(x, y)
			want["add"][j].Add(x, y)
			want["sub"][j].Subtract(x, y)
			want["square"][j].Square(x)
			want["square⁵"][j].Set(x)
			for range 5 {
				want["square⁵"][j].Square(&want["square⁵"][j])
			}
			want["pow"][j].Pow22523(x)
			want["pow b"][j].Pow22523(y)
		}
		mul4(&out, &a, &b)
		checkFE4(t, "mul", &out, want["mul"])
		add4(&out, &a, &b)
		checkFE4(t, "add", &out, want["add"])
		sub4(&out, &a, &b)
		checkFE4(t, "sub", &out, want["sub"])
		sq4(&out, &a, 1)
		checkFE4(t, "square", &out, want["square"])
		sq4(&out, &a, 5)
		checkFE4(t, "square⁵", &out, want["square⁵"])
		sq4x2(&out, &out2, &a, &b, 1)
		checkFE4(t, "sq4x2, a", &out, want["square"])
		out, out2 = a, a
		sq4x2(&out, &out2, &out, &out2, 5)
		checkFE4(t, "sq4x2⁵, a", &out, want["square⁵"])
		checkFE4(t, "sq4x2⁵, b", &out2, want["square⁵"])
		out = a
		pow22523fe4(&out)
		checkFE4(t, "pow22523", &out, want["pow"])
		out, out2 = a, b
		pow22523fe4x2(&out, &out2)
		checkFE4(t, "pow22523fe4x2, a", &out, want["pow"])
		checkFE4(t, "pow22523fe4x2, b", &out2, want["pow b"])
		// Aliasing: out = a·out.
		out = b
		mul4(&out, &a, &out)
		checkFE4(t, "mul, aliased", &out, want["mul"])
	}
	// The largest limbs that the arithmetic accepts, in every operation
	// and as either operand of a subtraction's result.
	var a, out fe4
	x := setMaxLimbs4(&a)
	want := make([]field.Element, 4)
	for j := range want {
		want[j].Multiply(x, x)
	}
	mul4(&out, &a, &a)
	checkFE4(t, "mul of largest limbs", &out, want)
	sq4(&out, &a, 1)
	checkFE4(t, "square of largest limbs", &out, want)
	for j := range want {
		want[j].Add(x, x)
	}
	add4(&out, &a, &a)
	checkFE4(t, "add of largest limbs", &out, want)
	var zero fe4
	for j := range want {
		want[j].Negate(x)
	}
	sub4(&out, &zero, &a)
	checkFE4(t, "0 − largest limbs", &out, want)
}

// TestDecodeNeg4 checks the AVX2 decoder against the single one on valid
// points, non-points, non-canonical y and the sign-bit edge cases, in
// every lane, four and eight at a time.
func TestDecodeNeg4(t *testing.T) {
	if !useFE4 {
		t.Skip("no AVX2 field arithmetic on this processor or build")
	}
	rng := rand.New(rand.NewPCG(75, 76))
	encs := decodeTestEncodings(t, rng)
	want := make([]affinePoint, len(encs))
	wantOK := make([]bool, len(encs))
	for i := range encs {
		wantOK[i] = decodeNegVarTime(&want[i], &encs[i])
	}
	for _, n := range []int{4, 8} {
		for start := range len(encs) {
			in := make([][32]byte, n)
			idx := make([]int, n)
			for j := range n {
				idx[j] = (start + j*(start%7+1)) % len(encs)
				in[j] = encs[idx[j]]
			}
			out := make([]affinePoint, n)
			ok := make([]bool, n)
			decodeNeg4VecVarTime(out, in, ok)
			for j := range n {
				i := idx[j]
				if ok[j] != wantOK[i] {
					t.Fatalf("n=%d lane %d, %x: got %v, want %v", n, j, encs[i], ok[j], wantOK[i])
				}
				if ok[j] && !sameAffine(&out[j], &want[i]) {
					t.Fatalf("n=%d lane %d, %x: decoded to a different point", n, j, encs[i])
				}
			}
		}
	}
}

// BenchmarkFE4 times the AVX2 kernels, per call of four lanes:
//
//	go test ./internal/edsig -run '^$' -bench FE4 -cpu 1 -count 5
func BenchmarkFE4(b *testing.B) {
	if !useFE4 {
		b.Skip("no AVX2 field arithmetic on this processor or build")
	}
	rng := rand.New(rand.NewPCG(77, 78))
	in := fe8Inputs(b, rng, 8)
	var x, y fe4
	for j := range 4 {
		x.setLane(j, &in[j])
		y.setLane(j, &in[4+j])
	}
	b.Run("mul", func(b *testing.B) {
		for b.Loop() {
			mul4(&x, &x, &y)
		}
	})
	b.Run("square", func(b *testing.B) {
		for b.Loop() {
			sq4(&x, &x, 1)
		}
	})
	for _, n := range []int{100} {
		b.Run(fmt.Sprintf("square^%d", n), func(b *testing.B) {
			for b.Loop() {
				sq4(&x, &x, n)
			}
		})
		b.Run(fmt.Sprintf("square^%d-x2", n), func(b *testing.B) {
			for b.Loop() {
				sq4x2(&x, &y, &x, &y, n)
			}
		})
	}
}

// TestMultVec4 checks the AVX2 bucket method against a reference sum at
// every window width it may choose, with part of the points as extras.
func TestMultVec4(t *testing.T) {
	if !useFE4 {
		t.Skip("no AVX2 field arithmetic on this processor or build")
	}
	rng := rand.New(rand.NewPCG(79, 80))
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
			w.multVec4VarTime(&got, aff[:split], zs[:split], extra, c)
			if fromExt(t, &got).Equal(want) != 1 {
				t.Errorf("n=%d c=%d: AVX2 Pippenger differs", n, c)
			}
		}
	}
	for n := 1; n < 5000; n = n*3/2 + 1 {
		if c := vec4Window(n); c < 4 || c > 12 {
			t.Errorf("vec4Window(%d) = %d", n, c)
		}
	}
}

// BenchmarkMultVec4 times the multi-scalar multiplication of n points by
// 128-bit scalars with the scalar bucket method and with the AVX2 one,
// alternating within each iteration, and reports their ratio:
//
//	go test ./internal/edsig -run '^$' -bench MultVec4 -cpu 1 -count 5
func BenchmarkMultVec4(b *testing.B) {
	if !useFE4 {
		b.Skip("no AVX2 field arithmetic on this processor or build")
	}
	for _, n := range []int{64, 1024, 4096} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(81, uint64(n)))
			ps := make([]*edwards25519.Point, n)
			zs := make([]scalar128, n)
			for i := range ps {
				ps[i] = randPoint(b, rng)
				zs[i] = scalar128{rng.Uint64(), rng.Uint64()}
			}
			aff := affineOf(ps)
			var w pippenger
			var out extPoint
			var tScalar, tVec time.Duration
			for b.Loop() {
				t0 := time.Now()
				w.multVarTime(&out, aff, zs, nil, pippengerWindow(n))
				t1 := time.Now()
				w.multVec4VarTime(&out, aff, zs, nil, vec4Window(n))
				tScalar += t1.Sub(t0)
				tVec += time.Since(t1)
			}
			b.ReportMetric(float64(tVec)/float64(tScalar), "avx2/scalar")
		})
	}
}

// FuzzMultVec checks the bucket methods of the three paths against a
// reference sum, on points of any order (a multiple of B plus a torsion
// point, or a torsion point alone, or the identity) with arbitrary
// 128-bit scalars, the same point repeated and opposite points included,
// at every window width.
func FuzzMultVec(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21}, uint8(4))
	f.Add(make([]byte, 200), uint8(7))
	seed := make([]byte, 0, 24*40)
	for i := range 40 {
		seed = append(seed, byte(i%16), byte(i), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, byte(i*7), byte(i*13), 0, 0, 0, 1)
	}
	f.Add(seed, uint8(9))
	f.Fuzz(func(t *testing.T, data []byte, c uint8) {
		const chunk = 24
		n := len(data) / chunk
		if n == 0 || n > 64 {
			return
		}
		c = 4 + c%9 // 4 … 12
		ps := make([]*edwards25519.Point, n)
		zs := make([]scalar128, n)
		for i := range ps {
			d := data[chunk*i : chunk*(i+1)]
			// d[0]: bits 0–2 the torsion component, bit 3 no multiple of
			// B, bit 4 the previous point again, bit 5 its negation.
			var k [32]byte
			copy(k[:], d[18:24])
			s, err := edwards25519.NewScalar().SetCanonicalBytes(k[:])
			if err != nil {
				t.Fatal(err)
			}
			p := new(edwards25519.Point).ScalarBaseMult(s)
			if d[0]&8 != 0 {
				p.Set(edwards25519.NewIdentityPoint())
			}
			p.Add(p, torsion(t, int(d[0]&7)))
			if i > 0 && d[0]&16 != 0 {
				p.Set(ps[i-1])
			}
			if i > 0 && d[0]&32 != 0 {
				p.Negate(ps[i-1])
			}
			ps[i] = p
			zs[i] = scalar128{binary.LittleEndian.Uint64(d[2:]), binary.LittleEndian.Uint64(d[10:])}
		}
		want := msmReference(t, ps, zs)
		aff := affineOf(ps)
		var w pippenger
		var got extPoint
		w.multVarTime(&got, aff, zs, nil, uint(c))
		if fromExt(t, &got).Equal(want) != 1 {
			t.Fatalf("scalar bucket method differs, c=%d", c)
		}
		if haveFE4 {
			w.multVec4VarTime(&got, aff, zs, nil, uint(c))
			if fromExt(t, &got).Equal(want) != 1 {
				t.Fatalf("AVX2 bucket method differs, c=%d", c)
			}
		}
		if haveFE8 {
			w.multVecVarTime(&got, aff, zs, nil, uint(c))
			if fromExt(t, &got).Equal(want) != 1 {
				t.Fatalf("IFMA bucket method differs, c=%d", c)
			}
		}
	})
}
