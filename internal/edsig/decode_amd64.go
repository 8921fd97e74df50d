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
// is not a canonical point encoding. Sixteen or eight points at a time
// share vector exponentiations where the processor allows it.
func decodeNegManyVarTime(out []affinePoint, enc [][32]byte, base int, dropped []int32) []int32 {
	i := 0
	if useFE8 {
		var ok [16]bool
		for i < len(enc) && len(enc)-i >= 8 {
			n := 8
			if len(enc)-i >= 16 {
				n = 16
			}
			decodeNegVecVarTime(out[i:i+n], enc[i:i+n], ok[:n])
			for j := range n {
				if !ok[j] {
					dropped = append(dropped, int32(base+i+j))
				}
			}
			i += n
		}
	}
	return decodeNegPairsVarTime(out[i:], enc[i:], base+i, dropped)
}

// decodeNegVecVarTime is decodeNegVarTime on 8 or 16 encodings, whose
// exponentiations run in lock step in the lanes of one or two fe8s.
func decodeNegVecVarTime(out []affinePoint, enc [][32]byte, ok []bool) {
	var d [16]decoder
	var t [2]fe8
	var started [16]bool
	n := len(enc)
	for j := range n {
		if started[j] = d[j].start(&enc[j]); started[j] {
			t[j/8].setLane(j%8, &d[j].t)
		}
	}
	if n == 16 {
		pow22523x16(&t[0], &t[1])
	} else {
		pow22523x8(&t[0])
	}
	for j := range n {
		ok[j] = false
		if !started[j] {
			continue
		}
		var x field.Element
		t[j/8].lane(&d[j].t, j%8)
		if ok[j] = d[j].finish(&x, &enc[j]); ok[j] {
			out[j].setNeg(&x, &d[j].y)
		}
	}
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

func sq16(outA, outB, a, b *fe8, n int) {
	fe8SquareN2((*[40]uint64)(outA), (*[40]uint64)(outB), (*[40]uint64)(a), (*[40]uint64)(b), n)
}

func mul8(out, a, b *fe8)    { fe8Mul((*[40]uint64)(out), (*[40]uint64)(a), (*[40]uint64)(b)) }
func sq8(out, a *fe8, n int) { fe8SquareN((*[40]uint64)(out), (*[40]uint64)(a), n) }
