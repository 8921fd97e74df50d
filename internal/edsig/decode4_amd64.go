//go:build amd64 && !purego

package edsig

import (
	"filippo.io/edwards25519/field"
	"golang.org/x/sys/cpu"
)

//go:generate sh -c "cd _asm && go run . -avx2 -out ../fe4_amd64.s -stubs ../fe4_amd64.go -pkg edsig"

// useFE4 is set if the processor has AVX2, for the four-lane field
// arithmetic of fe4_amd64.s, and the eight-lane path of fe8_amd64.s is not
// taken: useFE8 wins where both are set. Tests clear useFE8 to force this
// path, and both to compare it with the scalar one.
var useFE4 = cpu.X86.HasAVX2

// decodeNeg4VecVarTime is decodeNegVecVarTime on 4 or 8 encodings, in the
// lanes of one or two fe4s.
func decodeNeg4VecVarTime(out []affinePoint, enc [][32]byte, ok []bool) {
	n := len(enc)
	g := n / 4
	var y, u, v, uv3, t, w [2]fe4
	for j := range n {
		// An encoding whose y is not canonical keeps y = 0 in its lane,
		// and is rejected below.
		ok[j] = isCanonicalY(&enc[j])
		if ok[j] {
			y[j/4].setLaneY(j%4, &enc[j])
		} else {
			y[j/4].setLaneLimbs(j%4, &[5]uint64{})
		}
	}
	for k := range g {
		sq4(&w[k], &y[k], 1)          // y²
		sub4(&u[k], &w[k], one4)      // u = y² − 1
		mul4(&v[k], &w[k], d4)        // d·y²
		add4(&v[k], &v[k], one4)      // v = d·y² + 1
		sq4(&w[k], &v[k], 1)          // v²
		mul4(&uv3[k], &w[k], &v[k])   // v³
		mul4(&uv3[k], &uv3[k], &u[k]) // u·v³
		sq4(&w[k], &w[k], 1)          // v⁴
		mul4(&t[k], &uv3[k], &w[k])   // u·v⁷
	}
	if g == 2 {
		pow22523fe4x2(&t[0], &t[1])
	} else {
		pow22523fe4(&t[0])
	}
	var x, xi [2]fe4
	for k := range g {
		mul4(&x[k], &uv3[k], &t[k])  // r
		sq4(&w[k], &x[k], 1)         // r²
		mul4(&w[k], &w[k], &v[k])    // v·r²
		mul4(&xi[k], &x[k], sqrtM14) // r·√−1
	}
	for j := range n {
		k, l := j/4, j%4
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
	var ypx, ymx, t2d [2]fe4
	for k := range g {
		sub4(&ypx[k], &y[k], &x[k])
		add4(&ymx[k], &y[k], &x[k])
		mul4(&t2d[k], &x[k], &y[k])
		mul4(&t2d[k], &t2d[k], negD24)
	}
	for j := range n {
		if ok[j] {
			k, l := j/4, j%4
			ypx[k].lane(&out[j].YplusX, l)
			ymx[k].lane(&out[j].YminusX, l)
			t2d[k].lane(&out[j].T2d, l)
		}
	}
}

// Constants in every lane of an fe4.
var (
	one4    = broadcast4(feOne)
	d4      = broadcast4(curveD)
	sqrtM14 = broadcast4(sqrtM1)
	negD24  = broadcast4(new(field.Element).Negate(curveD2))
)

func broadcast4(x *field.Element) *fe4 {
	v := new(fe4)
	for j := range 4 {
		v.setLane(j, x)
	}
	return v
}

// pow22523fe4 sets each lane of v to its (p−5)/8-th power, with the
// addition chain of field.Element.Pow22523.
func pow22523fe4(v *fe4) {
	var t0, t1, t2 fe4
	sq4(&t0, v, 1)      // x²
	sq4(&t1, &t0, 2)    // x⁸
	mul4(&t1, v, &t1)   // x⁹
	mul4(&t0, &t0, &t1) // x¹¹
	sq4(&t0, &t0, 1)    // x²²
	mul4(&t0, &t1, &t0) // x^(2⁵−1)
	sq4(&t1, &t0, 5)
	mul4(&t0, &t1, &t0) // x^(2¹⁰−1)
	sq4(&t1, &t0, 10)
	mul4(&t1, &t1, &t0) // x^(2²⁰−1)
	sq4(&t2, &t1, 20)
	mul4(&t1, &t2, &t1) // x^(2⁴⁰−1)
	sq4(&t1, &t1, 10)
	mul4(&t0, &t1, &t0) // x^(2⁵⁰−1)
	sq4(&t1, &t0, 50)
	mul4(&t1, &t1, &t0) // x^(2¹⁰⁰−1)
	sq4(&t2, &t1, 100)
	mul4(&t1, &t2, &t1) // x^(2²⁰⁰−1)
	sq4(&t1, &t1, 50)
	mul4(&t0, &t1, &t0) // x^(2²⁵⁰−1)
	sq4(&t0, &t0, 2)    // x^(2²⁵²−4)
	mul4(v, &t0, v)     // x^(2²⁵²−3)
}

// pow22523fe4x2 is pow22523fe4 on a and b, whose chains of squarings run
// in one loop (fe4SquareN2).
func pow22523fe4x2(a, b *fe4) {
	var a0, a1, a2, b0, b1, b2 fe4
	sq4x2(&a0, &b0, a, b, 1)     // x²
	sq4x2(&a1, &b1, &a0, &b0, 2) // x⁸
	mul4(&a1, a, &a1)            // x⁹
	mul4(&b1, b, &b1)
	mul4(&a0, &a0, &a1) // x¹¹
	mul4(&b0, &b0, &b1)
	sq4x2(&a0, &b0, &a0, &b0, 1) // x²²
	mul4(&a0, &a1, &a0)          // x^(2⁵−1)
	mul4(&b0, &b1, &b0)
	sq4x2(&a1, &b1, &a0, &b0, 5)
	mul4(&a0, &a1, &a0) // x^(2¹⁰−1)
	mul4(&b0, &b1, &b0)
	sq4x2(&a1, &b1, &a0, &b0, 10)
	mul4(&a1, &a1, &a0) // x^(2²⁰−1)
	mul4(&b1, &b1, &b0)
	sq4x2(&a2, &b2, &a1, &b1, 20)
	mul4(&a1, &a2, &a1) // x^(2⁴⁰−1)
	mul4(&b1, &b2, &b1)
	sq4x2(&a1, &b1, &a1, &b1, 10)
	mul4(&a0, &a1, &a0) // x^(2⁵⁰−1)
	mul4(&b0, &b1, &b0)
	sq4x2(&a1, &b1, &a0, &b0, 50)
	mul4(&a1, &a1, &a0) // x^(2¹⁰⁰−1)
	mul4(&b1, &b1, &b0)
	sq4x2(&a2, &b2, &a1, &b1, 100)
	mul4(&a1, &a2, &a1) // x^(2²⁰⁰−1)
	mul4(&b1, &b2, &b1)
	sq4x2(&a1, &b1, &a1, &b1, 50)
	mul4(&a0, &a1, &a0) // x^(2²⁵⁰−1)
	mul4(&b0, &b1, &b0)
	sq4x2(&a0, &b0, &a0, &b0, 2) // x^(2²⁵²−4)
	mul4(a, &a0, a)              // x^(2²⁵²−3)
	mul4(b, &b0, b)
}

func add4(out, a, b *fe4)    { fe4Add((*[40]uint64)(out), (*[40]uint64)(a), (*[40]uint64)(b)) }
func sub4(out, a, b *fe4)    { fe4Sub((*[40]uint64)(out), (*[40]uint64)(a), (*[40]uint64)(b)) }
func mul4(out, a, b *fe4)    { fe4Mul((*[40]uint64)(out), (*[40]uint64)(a), (*[40]uint64)(b)) }
func sq4(out, a *fe4, n int) { fe4SquareN((*[40]uint64)(out), (*[40]uint64)(a), n) }

func sq4x2(outA, outB, a, b *fe4, n int) {
	fe4SquareN2((*[40]uint64)(outA), (*[40]uint64)(outB), (*[40]uint64)(a), (*[40]uint64)(b), n)
}
