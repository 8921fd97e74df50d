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
// is not a canonical point encoding. Eight points at a time share one
// vector exponentiation where the processor allows it.
func decodeNegManyVarTime(out []affinePoint, enc [][32]byte, base int, dropped []int32) []int32 {
	i := 0
	if useFE8 {
		for ; i+8 <= len(enc); i += 8 {
			ok := decodeNeg8VarTime((*[8]affinePoint)(out[i:]), (*[8][32]byte)(enc[i:]))
			for j := range ok {
				if !ok[j] {
					dropped = append(dropped, int32(base+i+j))
				}
			}
		}
	}
	return decodeNegPairsVarTime(out[i:], enc[i:], base+i, dropped)
}

// decodeNeg8VarTime is decodeNegVarTime on eight encodings, whose
// exponentiations run in lock step in the eight lanes of an fe8.
func decodeNeg8VarTime(out *[8]affinePoint, enc *[8][32]byte) (ok [8]bool) {
	var d [8]decoder
	var t fe8
	var started [8]bool
	for j := range d {
		if started[j] = d[j].start(&enc[j]); started[j] {
			t.setLane(j, &d[j].t)
		}
	}
	pow22523x8(&t)
	for j := range d {
		if !started[j] {
			continue
		}
		var x field.Element
		t.lane(&d[j].t, j)
		if ok[j] = d[j].finish(&x, &enc[j]); ok[j] {
			out[j].setNeg(&x, &d[j].y)
		}
	}
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

func mul8(out, a, b *fe8)    { fe8Mul((*[40]uint64)(out), (*[40]uint64)(a), (*[40]uint64)(b)) }
func sq8(out, a *fe8, n int) { fe8SquareN((*[40]uint64)(out), (*[40]uint64)(a), n) }
