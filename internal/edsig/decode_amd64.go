//go:build amd64 && !purego

package edsig

import (
	"filippo.io/edwards25519/field"
	"golang.org/x/sys/cpu"
)

//go:generate sh -c "cd _asm && go run . -out ../fe8_amd64.s -stubs ../fe8_amd64.go -pkg edsig"

// useFE8 is set if the processor has the vector instructions of
// fe8_amd64.s. Tests clear it to compare the vector path with the scalar
// one; the purego build tag leaves the vector path out.
var useFE8 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512IFMA

// decodeNegManyVarTime sets out[i] to −R for the point R encoded by
// enc[i], for every i, and appends base+i to dropped for each enc[i] that
// is not a canonical point encoding. Points share vector exponentiations
// where the processor allows it: sixteen or eight at a time in AVX-512
// IFMA lanes (fe8), else eight or four in AVX2 lanes (fe4).
func decodeNegManyVarTime(out []affinePoint, enc [][32]byte, base int, dropped []int32) []int32 {
	// group is the number of lanes of the vector path taken; a step
	// decodes one group, or two in one pass where that many are left.
	group := 0
	switch {
	case useFE8:
		group = 8
	case useFE4:
		group = 4
	}
	i := 0
	var ok [16]bool
	for group > 0 && len(enc)-i >= group {
		n := group
		if len(enc)-i >= 2*group {
			n = 2 * group
		}
		if group == 8 {
			decodeNegVecVarTime(out[i:i+n], enc[i:i+n], ok[:n])
		} else {
			decodeNeg4VecVarTime(out[i:i+n], enc[i:i+n], ok[:n])
		}
		for j := range n {
			if !ok[j] {
				dropped = append(dropped, int32(base+i+j))
			}
		}
		i += n
	}
	return decodeNegPairsVarTime(out[i:], enc[i:], base+i, dropped)
}

// decodeNegVecVarTime is decodeNegVarTime on 8 or 16 encodings, all in
// the lanes of one or two fe8s but for the comparisons and the choice of
// the root, which take canonical limbs lane by lane. It follows decoder:
// u = y² − 1, v = d·y² + 1, r = u·v³·(u·v⁷)^((p−5)/8), and then −R =
// (y − x, y + x, −2d·x·y) for the root x whose parity is the sign bit.
func decodeNegVecVarTime(out []affinePoint, enc [][32]byte, ok []bool) {
	n := len(enc)
	g := n / 8
	var y, u, v, uv3, t, w [2]fe8
	for j := range n {
		// An encoding whose y is not canonical keeps y = 0 in its lane,
		// and is rejected below.
		ok[j] = isCanonicalY(&enc[j])
		if ok[j] {
			y[j/8].setLaneY(j%8, &enc[j])
		} else {
			y[j/8].setLaneLimbs(j%8, &[5]uint64{})
		}
	}
	for k := range g {
		sq8(&w[k], &y[k], 1)          // y²
		sub8(&u[k], &w[k], one8)      // u = y² − 1
		mul8(&v[k], &w[k], d8)        // d·y²
		add8(&v[k], &v[k], one8)      // v = d·y² + 1
		sq8(&w[k], &v[k], 1)          // v²
		mul8(&uv3[k], &w[k], &v[k])   // v³
		mul8(&uv3[k], &uv3[k], &u[k]) // u·v³
		sq8(&w[k], &w[k], 1)          // v⁴
		mul8(&t[k], &uv3[k], &w[k])   // u·v⁷
	}
	if g == 2 {
		pow22523x16(&t[0], &t[1])
	} else {
		pow22523x8(&t[0])
	}
	var x, xi [2]fe8
	for k := range g {
		mul8(&x[k], &uv3[k], &t[k])  // r
		sq8(&w[k], &x[k], 1)         // r²
		mul8(&w[k], &w[k], &v[k])    // v·r²
		mul8(&xi[k], &x[k], sqrtM18) // r·√−1
	}
	for j := range n {
		k, l := j/8, j%8
		if !ok[j] {
			x[k].setLaneLimbs(l, &[5]uint64{})
			continue
		}
		check, ul := w[k].canonicalLane(l), u[k].canonicalLane(l)
		var root [5]uint64
		switch {
		case check == ul:
			root = x[k].canonicalLane(l)
		case check == negLimbs(ul):
			root = xi[k].canonicalLane(l)
		default:
			ok[j] = false // u/v is not a square
			x[k].setLaneLimbs(l, &[5]uint64{})
			continue
		}
		sign := uint64(enc[j][31] >> 7)
		if sign == 1 && root == [5]uint64{} {
			ok[j] = false // x = 0 has no negative
			continue
		}
		if root[0]&1 != sign {
			root = negLimbs(root)
		}
		x[k].setLaneLimbs(l, &root)
	}
	// −R = (y − x, y + x, −2d·x·y), the negation of (y + x, y − x, 2d·x·y).
	var ypx, ymx, t2d [2]fe8
	for k := range g {
		sub8(&ypx[k], &y[k], &x[k])
		add8(&ymx[k], &y[k], &x[k])
		mul8(&t2d[k], &x[k], &y[k])
		mul8(&t2d[k], &t2d[k], negD28)
	}
	for j := range n {
		if ok[j] {
			k, l := j/8, j%8
			ypx[k].lane(&out[j].YplusX, l)
			ymx[k].lane(&out[j].YminusX, l)
			t2d[k].lane(&out[j].T2d, l)
		}
	}
}

// Constants in every lane of an fe8.
var (
	one8    = broadcast8(feOne)
	d8      = broadcast8(curveD)
	sqrtM18 = broadcast8(sqrtM1)
	negD28  = broadcast8(new(field.Element).Negate(curveD2))
)

func broadcast8(x *field.Element) *fe8 {
	v := new(fe8)
	for j := range 8 {
		v.setLane(j, x)
	}
	return v
}

// decodeNeg8VarTime is decodeNegVarTime on eight encodings.
func decodeNeg8VarTime(out *[8]affinePoint, enc *[8][32]byte) (ok [8]bool) {
	decodeNegVecVarTime(out[:], enc[:], ok[:])
	return ok
}

// pow22523x8 sets each lane of v to its (p−5)/8-th power, with the
// addition chain of field.Element.Pow22523.
func pow22523x8(v *fe8) {
	var t0, t1, t2 fe8
	sq8(&t0, v, 1)      // x²
	sq8(&t1, &t0, 2)    // x⁸
	mul8(&t1, v, &t1)   // x⁹
	mul8(&t0, &t0, &t1) // x¹¹
	sq8(&t0, &t0, 1)    // x²²
	mul8(&t0, &t1, &t0) // x^(2⁵−1)
	sq8(&t1, &t0, 5)
	mul8(&t0, &t1, &t0) // x^(2¹⁰−1)
	sq8(&t1, &t0, 10)
	mul8(&t1, &t1, &t0) // x^(2²⁰−1)
	sq8(&t2, &t1, 20)
	mul8(&t1, &t2, &t1) // x^(2⁴⁰−1)
	sq8(&t1, &t1, 10)
	mul8(&t0, &t1, &t0) // x^(2⁵⁰−1)
	sq8(&t1, &t0, 50)
	mul8(&t1, &t1, &t0) // x^(2¹⁰⁰−1)
	sq8(&t2, &t1, 100)
	mul8(&t1, &t2, &t1) // x^(2²⁰⁰−1)
	sq8(&t1, &t1, 50)
	mul8(&t0, &t1, &t0) // x^(2²⁵⁰−1)
	sq8(&t0, &t0, 2)    // x^(2²⁵²−4)
	mul8(v, &t0, v)     // x^(2²⁵²−3)
}

// pow22523x16 is pow22523x8 on a and b, whose chains of squarings run
// interleaved (fe8SquareN2): about 20% less time than one after the other
// (BenchmarkFE8).
func pow22523x16(a, b *fe8) {
	var a0, a1, a2, b0, b1, b2 fe8
	sq16(&a0, &b0, a, b, 1)     // x²
	sq16(&a1, &b1, &a0, &b0, 2) // x⁸
	mul8(&a1, a, &a1)           // x⁹
	mul8(&b1, b, &b1)
	mul8(&a0, &a0, &a1) // x¹¹
	mul8(&b0, &b0, &b1)
	sq16(&a0, &b0, &a0, &b0, 1) // x²²
	mul8(&a0, &a1, &a0)         // x^(2⁵−1)
	mul8(&b0, &b1, &b0)
	sq16(&a1, &b1, &a0, &b0, 5)
	mul8(&a0, &a1, &a0) // x^(2¹⁰−1)
	mul8(&b0, &b1, &b0)
	sq16(&a1, &b1, &a0, &b0, 10)
	mul8(&a1, &a1, &a0) // x^(2²⁰−1)
	mul8(&b1, &b1, &b0)
	sq16(&a2, &b2, &a1, &b1, 20)
	mul8(&a1, &a2, &a1) // x^(2⁴⁰−1)
	mul8(&b1, &b2, &b1)
	sq16(&a1, &b1, &a1, &b1, 10)
	mul8(&a0, &a1, &a0) // x^(2⁵⁰−1)
	mul8(&b0, &b1, &b0)
	sq16(&a1, &b1, &a0, &b0, 50)
	mul8(&a1, &a1, &a0) // x^(2¹⁰⁰−1)
	mul8(&b1, &b1, &b0)
	sq16(&a2, &b2, &a1, &b1, 100)
	mul8(&a1, &a2, &a1) // x^(2²⁰⁰−1)
	mul8(&b1, &b2, &b1)
	sq16(&a1, &b1, &a1, &b1, 50)
	mul8(&a0, &a1, &a0) // x^(2²⁵⁰−1)
	mul8(&b0, &b1, &b0)
	sq16(&a0, &b0, &a0, &b0, 2) // x^(2²⁵²−4)
	mul8(a, &a0, a)             // x^(2²⁵²−3)
	mul8(b, &b0, b)
}

func add8(out, a, b *fe8) { fe8Add((*[40]uint64)(out), (*[40]uint64)(a), (*[40]uint64)(b)) }
func sub8(out, a, b *fe8) { fe8Sub((*[40]uint64)(out), (*[40]uint64)(a), (*[40]uint64)(b)) }

func sq16(outA, outB, a, b *fe8, n int) {
	fe8SquareN2((*[40]uint64)(outA), (*[40]uint64)(outB), (*[40]uint64)(a), (*[40]uint64)(b), n)
}

func mul8(out, a, b *fe8)    { fe8Mul((*[40]uint64)(out), (*[40]uint64)(a), (*[40]uint64)(b)) }
func sq8(out, a *fe8, n int) { fe8SquareN((*[40]uint64)(out), (*[40]uint64)(a), n) }
