// Command _asm generates fe8_amd64.s, the AVX-512 IFMA field arithmetic
// of package edsig, with github.com/mmcloughlin/avo:
//
//	cd internal/edsig/_asm && go run . -out ../fe8_amd64.s -stubs ../fe8_amd64.go -pkg edsig
//
// It is its own module so that avo stays out of statustoken's
// requirements; package edsig runs it through go generate.
//
// # The representation
//
// An fe8 holds eight elements of GF(2²⁵⁵ − 19) side by side: limb k of
// lane j is word 8k + j, and the element of lane j is Σ limb_k·2^(51k).
// Each ZMM register thus holds one limb of all eight lanes.
//
// VPMADD52LUQ and VPMADD52HUQ multiply the low 52 bits of two words and
// add the low or the high 52 bits of the 104-bit product to a third. Every
// input limb must therefore be below 2⁵²; every output limb is below
// 2⁵¹ + 2¹⁵, so outputs are valid inputs.
//
// For limbs a_i, b_j < 2⁵², a_i·b_j = lo + hi·2⁵², and 2⁵² = 2·2⁵¹, so lo
// goes to column i+j and 2·hi to column i+j+1. Column c of the product is
// Z_c + 2·Y_c, where Z_c gathers the lo halves and Y_c the hi halves; each
// is a sum of at most five 52-bit halves, so a column is below 15·2⁵² <
// 2⁵⁶. Columns 5 to 9 fold into 0 to 4 with 2²⁵⁵ ≡ 19: r_c = col_c +
// 19·col_(c+5) < 20·2⁵⁶ < 2⁶¹. One carry step, in parallel on all limbs,
// leaves limb k as (r_k mod 2⁵¹) + ⌊r_(k−1) / 2⁵¹⌋ < 2⁵¹ + 2¹⁰, and limb 0
// as (r_0 mod 2⁵¹) + 19·⌊r_4 / 2⁵¹⌋ < 2⁵¹ + 2¹⁵.
package main

import (
	"flag"
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// fe is one field element per lane, one limb per register.
type fe [5]reg.VecVirtual

// consts holds the broadcast constants of the reduction.
type consts struct {
	mask, nineteen reg.VecVirtual
	zero           reg.VecVirtual
}

func loadConsts() consts {
	c := consts{mask: ZMM(), nineteen: ZMM(), zero: ZMM()}
	// A register zeroed once: avo takes VPXORQ x, x, x as a read of x.
	VPXORQ(c.zero, c.zero, c.zero)
	g := GP64()
	MOVQ(U64(1<<51-1), g)
	VPBROADCASTQ(g, c.mask)
	MOVQ(U64(19), g)
	VPBROADCASTQ(g, c.nineteen)
	return c
}

func load(m Mem) fe {
	var x fe
	for k := range x {
		x[k] = ZMM()
		VMOVDQU64(m.Offset(64*k), x[k])
	}
	return x
}

func store(m Mem, x fe) {
	for k := range x {
		VMOVDQU64(x[k], m.Offset(64*k))
	}
}

// columns holds the lo and hi accumulators of a product's ten columns.
type columns struct {
	z [10]reg.VecVirtual // z[c], c ≤ 8: lo halves of column c
	y [10]reg.VecVirtual // y[c], c ≥ 1: hi halves of column c
}

func newColumns(k consts) *columns {
	var cols columns
	for c := range 9 {
		cols.z[c] = ZMM()
		VMOVDQA64(k.zero, cols.z[c])
		cols.y[c+1] = ZMM()
		VMOVDQA64(k.zero, cols.y[c+1])
	}
	return &cols
}

// madd adds a·b into the columns of i+j.
func (cols *columns) madd(a, b Op, i, j int) {
	VPMADD52LUQ(b, a, cols.z[i+j])
	VPMADD52HUQ(b, a, cols.y[i+j+1])
}

// reduce folds and carries the columns into out.
func (cols *columns) reduce(out fe, k consts) {
	// col_c = z_c + 2·y_c, in z_c (z_9 is y_9 + y_9).
	cols.z[9] = cols.y[9]
	VPADDQ(cols.y[9], cols.y[9], cols.z[9])
	for c := 1; c <= 8; c++ {
		VPADDQ(cols.y[c], cols.z[c], cols.z[c])
		VPADDQ(cols.y[c], cols.z[c], cols.z[c])
	}
	// r_c = col_c + 19·col_(c+5).
	for c := range 5 {
		VPMULLQ(k.nineteen, cols.z[c+5], cols.z[c+5])
		VPADDQ(cols.z[c+5], cols.z[c], cols.z[c])
	}
	// One parallel carry step.
	var carry [5]reg.VecVirtual
	for c := range 5 {
		carry[c] = cols.y[c+1] // free since the combination above
		VPSRLQ(U8(51), cols.z[c], carry[c])
	}
	for c := range 5 {
		VPANDQ(k.mask, cols.z[c], out[c])
	}
	for c := range 4 {
		VPADDQ(carry[c], out[c+1], out[c+1])
	}
	VPMULLQ(k.nineteen, carry[4], carry[4])
	VPADDQ(carry[4], out[0], out[0])
}

// square sets out = x², with out and x possibly the same registers.
func square(out, x fe, k consts) {
	cols := newColumns(k)
	// Cross products, doubled, then the squares.
	for i := range 5 {
		for j := i + 1; j < 5; j++ {
			cols.madd(x[i], x[j], i, j)
		}
	}
	for c := 1; c <= 7; c++ {
		VPADDQ(cols.z[c], cols.z[c], cols.z[c])
		VPADDQ(cols.y[c+1], cols.y[c+1], cols.y[c+1])
	}
	for i := range 5 {
		cols.madd(x[i], x[i], i, i)
	}
	cols.reduce(out, k)
}

// memConsts adds to consts the limbs of 2p, for subtraction.
type memConsts struct {
	consts
	twoP0, twoP reg.VecVirtual // 2⁵² − 38 and 2⁵² − 2
}

func loadMemConsts() memConsts {
	k := memConsts{consts: loadConsts(), twoP0: ZMM(), twoP: ZMM()}
	g := GP64()
	MOVQ(U64(1<<52-38), g)
	VPBROADCASTQ(g, k.twoP0)
	MOVQ(U64(1<<52-2), g)
	VPBROADCASTQ(g, k.twoP)
	return k
}

// fe8At returns the fe8 at byte offset off from base.
func fe8At(base reg.Register, off int) Mem { return Mem{Base: base, Disp: off} }

// mulMem sets out = a·b, all in memory; out may alias a or b.
func mulMem(out, a, b Mem, k memConsts) {
	x := load(a)
	cols := newColumns(k.consts)
	for j := range 5 {
		for i := range 5 {
			cols.madd(x[i], b.Offset(64*j), i, j)
		}
	}
	var r fe
	for c := range r {
		r[c] = ZMM()
	}
	cols.reduce(r, k.consts)
	store(out, r)
}

// carry brings limbs below 2⁵⁴ below 2⁵², as one parallel carry step:
// limb k becomes (r_k mod 2⁵¹) + ⌊r_(k−1) / 2⁵¹⌋ < 2⁵¹ + 2³, and limb 0
// gets 19·⌊r_4 / 2⁵¹⌋ < 19·2³.
func carry(r fe, k consts) {
	var c [5]reg.VecVirtual
	for i := range 5 {
		c[i] = ZMM()
		VPSRLQ(U8(51), r[i], c[i])
		VPANDQ(k.mask, r[i], r[i])
	}
	for i := range 4 {
		VPADDQ(c[i], r[i+1], r[i+1])
	}
	VPMULLQ(k.nineteen, c[4], c[4])
	VPADDQ(c[4], r[0], r[0])
}

// addMem sets out = a + b, all in memory.
func addMem(out, a, b Mem, k memConsts) {
	r := load(a)
	for i := range 5 {
		VPADDQ(b.Offset(64*i), r[i], r[i])
	}
	carry(r, k.consts)
	store(out, r)
}

// subMem sets out = a − b, as a + 2p − b, all in memory. Every limb of b
// is below the matching limb of 2p, as every output here is.
func subMem(out, a, b Mem, k memConsts) {
	r := load(a)
	for i := range 5 {
		if i == 0 {
			VPADDQ(k.twoP0, r[i], r[i])
		} else {
			VPADDQ(k.twoP, r[i], r[i])
		}
		VPSUBQ(b.Offset(64*i), r[i], r[i])
	}
	carry(r, k.consts)
	store(out, r)
}

// Scratch slots of the point additions, as byte offsets of fe8s.
const (
	sX = 320 * iota
	sY
	sZ
	sT
	sP1
	sP2
	sP3
	sA
	sB
	sC
	sD
	sE
	sF
	sG
	sH
	scratchSize // bytes
)

// finishAdd computes the sum of a point addition from A, B, C, D in
// scratch: E = B − A, H = B + A, G = D + C, F = D − C, and the extended
// result (E·F, G·H, F·G, E·H) into X, Y, Z, T of scratch.
func finishAdd(s reg.Register, k memConsts) {
	subMem(fe8At(s, sE), fe8At(s, sB), fe8At(s, sA), k)
	addMem(fe8At(s, sH), fe8At(s, sB), fe8At(s, sA), k)
	addMem(fe8At(s, sG), fe8At(s, sD), fe8At(s, sC), k)
	subMem(fe8At(s, sF), fe8At(s, sD), fe8At(s, sC), k)
	mulMem(fe8At(s, sX), fe8At(s, sE), fe8At(s, sF), k)
	mulMem(fe8At(s, sY), fe8At(s, sG), fe8At(s, sH), k)
	mulMem(fe8At(s, sZ), fe8At(s, sF), fe8At(s, sG), k)
	mulMem(fe8At(s, sT), fe8At(s, sE), fe8At(s, sH), k)
}

var avx2 = flag.Bool("avx2", false, "generate the AVX2 functions (fe4_amd64.s) instead of the AVX-512 IFMA ones")

func main() {
	flag.Parse()
	ConstraintExpr("amd64,!purego")
	if *avx2 {
		fe4Funcs()
		Generate()
		return
	}

	TEXT("fe8Mul", NOSPLIT, "func(out, a, b *[40]uint64)")
	Pragma("noescape")
	Doc("fe8Mul sets out = a·b in each of the eight lanes. It needs AVX-512F,",
		"AVX-512DQ and AVX-512 IFMA.")
	{
		k := loadConsts()
		a := load(Mem{Base: Load(Param("a"), GP64())})
		bp := Mem{Base: Load(Param("b"), GP64())}
		cols := newColumns(k)
		for j := range 5 {
			for i := range 5 {
				cols.madd(a[i], bp.Offset(64*j), i, j)
			}
		}
		var out fe
		for c := range out {
			out[c] = ZMM()
		}
		cols.reduce(out, k)
		store(Mem{Base: Load(Param("out"), GP64())}, out)
		VZEROUPPER()
		RET()
	}

	TEXT("fe8SquareN", NOSPLIT, "func(out, a *[40]uint64, n int)")
	Pragma("noescape")
	Doc("fe8SquareN sets out = a^(2ⁿ) in each of the eight lanes, for n ≥ 1.",
		"It needs AVX-512F, AVX-512DQ and AVX-512 IFMA.")
	{
		k := loadConsts()
		x := load(Mem{Base: Load(Param("a"), GP64())})
		n := Load(Param("n"), GP64())
		Label("loop")
		square(x, x, k)
		DECQ(n)
		JNZ(LabelRef("loop"))
		store(Mem{Base: Load(Param("out"), GP64())}, x)
		VZEROUPPER()
		RET()
	}

	TEXT("fe8SquareN2", NOSPLIT, "func(outA, outB, a, b *[40]uint64, n int)")
	Pragma("noescape")
	Doc("fe8SquareN2 sets outA = a^(2ⁿ) and outB = b^(2ⁿ) in each of the eight",
		"lanes, for n ≥ 1. The two chains of squarings are independent, so the",
		"processor overlaps them. It needs AVX-512F, AVX-512DQ and AVX-512 IFMA.")
	{
		k := loadConsts()
		xa := load(Mem{Base: Load(Param("a"), GP64())})
		xb := load(Mem{Base: Load(Param("b"), GP64())})
		n := Load(Param("n"), GP64())
		Label("loop2")
		square(xa, xa, k)
		square(xb, xb, k)
		DECQ(n)
		JNZ(LabelRef("loop2"))
		store(Mem{Base: Load(Param("outA"), GP64())}, xa)
		store(Mem{Base: Load(Param("outB"), GP64())}, xb)
		VZEROUPPER()
		RET()
	}

	TEXT("fe8Add", NOSPLIT, "func(out, a, b *[40]uint64)")
	Pragma("noescape")
	Doc("fe8Add sets out = a + b in each of the eight lanes. It needs AVX-512F,",
		"AVX-512DQ and AVX-512 IFMA.")
	{
		k := loadMemConsts()
		a := Load(Param("a"), GP64())
		b := Load(Param("b"), GP64())
		out := Load(Param("out"), GP64())
		addMem(fe8At(out, 0), fe8At(a, 0), fe8At(b, 0), k)
		VZEROUPPER()
		RET()
	}

	TEXT("fe8Sub", NOSPLIT, "func(out, a, b *[40]uint64)")
	Pragma("noescape")
	Doc("fe8Sub sets out = a − b in each of the eight lanes. It needs AVX-512F,",
		"AVX-512DQ and AVX-512 IFMA.")
	{
		k := loadMemConsts()
		a := Load(Param("a"), GP64())
		b := Load(Param("b"), GP64())
		out := Load(Param("out"), GP64())
		subMem(fe8At(out, 0), fe8At(a, 0), fe8At(b, 0), k)
		VZEROUPPER()
		RET()
	}

	TEXT("fe8BucketAdd", NOSPLIT, fmt.Sprintf("func(buckets *uint64, idx *[8]int64, neg *uint8, pts *[20]uint64, n int, scratch *[%d]uint64)", scratchSize/8))
	Pragma("noescape")
	Doc("fe8BucketAdd adds, for each of the n points pts[i], ±pts[i] to one bucket",
		"in each of the eight lanes: lane j of the bucket at word offset",
		"idx[i][j] − j of buckets, with the sign − where bit j of neg[i] is set.",
		"A point is (y+x, y−x, 2d·x·y, −2d·x·y) and a bucket (X, Y, Z, T) in",
		"extended coordinates, four fe8s in a row. It needs AVX-512F, AVX-512DQ",
		"and AVX-512 IFMA.")
	{
		k := loadMemConsts()
		bk := Load(Param("buckets"), GP64())
		idx := Load(Param("idx"), GP64())
		neg := Load(Param("neg"), GP64())
		pts := Load(Param("pts"), GP64())
		n := Load(Param("n"), GP64())
		s := Load(Param("scratch"), GP64())
		ones := GP32()
		MOVL(U32(0xff), ones)
		Label("point")
		vidx := ZMM()
		VMOVDQU64(Mem{Base: idx}, vidx)
		// Gather X, Y, Z, T.
		for c := range 4 {
			for l := range 5 {
				m := K()
				KMOVB(ones, m)
				v := ZMM()
				VMOVDQA64(k.zero, v) // the gather merges into v
				VPGATHERQQ(Mem{Base: bk, Index: vidx, Scale: 8, Disp: 320*c + 64*l}, m, v)
				VMOVDQU64(v, fe8At(s, 320*c).Offset(64*l))
			}
		}
		// The point, or its negation where neg says.
		sign := K()
		KMOVB(Mem{Base: neg}, sign)
		for l := range 5 {
			ypx, ymx, t2d, nt2d := ZMM(), ZMM(), ZMM(), ZMM()
			VPBROADCASTQ(Mem{Base: pts, Disp: 8 * l}, ypx)
			VPBROADCASTQ(Mem{Base: pts, Disp: 40 + 8*l}, ymx)
			VPBROADCASTQ(Mem{Base: pts, Disp: 80 + 8*l}, t2d)
			VPBROADCASTQ(Mem{Base: pts, Disp: 120 + 8*l}, nt2d)
			p1, p2, p3 := ZMM(), ZMM(), ZMM()
			// VPBLENDMQ counts as a read of its destination for avo.
			VMOVDQA64(k.zero, p1)
			VMOVDQA64(k.zero, p2)
			VMOVDQA64(k.zero, p3)
			VPBLENDMQ(ypx, ymx, sign, p1)
			VPBLENDMQ(ymx, ypx, sign, p2)
			VPBLENDMQ(nt2d, t2d, sign, p3)
			VMOVDQU64(p1, fe8At(s, sP1).Offset(64*l))
			VMOVDQU64(p2, fe8At(s, sP2).Offset(64*l))
			VMOVDQU64(p3, fe8At(s, sP3).Offset(64*l))
		}
		// A = (Y−X)·P1, B = (Y+X)·P2, C = T·P3, D = 2Z.
		subMem(fe8At(s, sA), fe8At(s, sY), fe8At(s, sX), k)
		addMem(fe8At(s, sB), fe8At(s, sY), fe8At(s, sX), k)
		mulMem(fe8At(s, sA), fe8At(s, sA), fe8At(s, sP1), k)
		mulMem(fe8At(s, sB), fe8At(s, sB), fe8At(s, sP2), k)
		mulMem(fe8At(s, sC), fe8At(s, sT), fe8At(s, sP3), k)
		addMem(fe8At(s, sD), fe8At(s, sZ), fe8At(s, sZ), k)
		finishAdd(s, k)
		// Scatter X, Y, Z, T back.
		VMOVDQU64(Mem{Base: idx}, vidx)
		for c := range 4 {
			for l := range 5 {
				m := K()
				KMOVB(ones, m)
				v := ZMM()
				VMOVDQU64(fe8At(s, 320*c).Offset(64*l), v)
				VPSCATTERQQ(v, m, Mem{Base: bk, Index: vidx, Scale: 8, Disp: 320*c + 64*l})
			}
		}
		ADDQ(U8(64), idx)
		INCQ(neg)
		ADDQ(U8(160), pts)
		DECQ(n)
		JNZ(LabelRef("point"))
		VZEROUPPER()
		RET()
	}

	TEXT("fe8PointAdd", NOSPLIT, fmt.Sprintf("func(out, a, b *[160]uint64, d2 *[40]uint64, scratch *[%d]uint64)", scratchSize/8))
	Pragma("noescape")
	Doc("fe8PointAdd sets out = a + b in each of the eight lanes, for points in",
		"extended coordinates (X, Y, Z, T), four fe8s in a row; d2 holds 2d in",
		"every lane. out may alias a or b. It needs AVX-512F, AVX-512DQ and",
		"AVX-512 IFMA.")
	{
		k := loadMemConsts()
		a := Load(Param("a"), GP64())
		b := Load(Param("b"), GP64())
		d2 := Load(Param("d2"), GP64())
		s := Load(Param("scratch"), GP64())
		// A = (Y₁−X₁)(Y₂−X₂), B = (Y₁+X₁)(Y₂+X₂), C = T₁·2d·T₂, D = 2·Z₁·Z₂.
		subMem(fe8At(s, sA), fe8At(a, 320), fe8At(a, 0), k)
		subMem(fe8At(s, sE), fe8At(b, 320), fe8At(b, 0), k)
		mulMem(fe8At(s, sA), fe8At(s, sA), fe8At(s, sE), k)
		addMem(fe8At(s, sB), fe8At(a, 320), fe8At(a, 0), k)
		addMem(fe8At(s, sE), fe8At(b, 320), fe8At(b, 0), k)
		mulMem(fe8At(s, sB), fe8At(s, sB), fe8At(s, sE), k)
		mulMem(fe8At(s, sC), fe8At(a, 960), fe8At(d2, 0), k)
		mulMem(fe8At(s, sC), fe8At(s, sC), fe8At(b, 960), k)
		mulMem(fe8At(s, sD), fe8At(a, 640), fe8At(b, 640), k)
		addMem(fe8At(s, sD), fe8At(s, sD), fe8At(s, sD), k)
		finishAdd(s, k)
		out := Load(Param("out"), GP64())
		for c := range 4 {
			for l := range 5 {
				v := ZMM()
				VMOVDQU64(fe8At(s, 320*c).Offset(64*l), v)
				VMOVDQU64(v, fe8At(out, 320*c).Offset(64*l))
			}
		}
		VZEROUPPER()
		RET()
	}

	Generate()
}
