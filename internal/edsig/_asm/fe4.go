package main

// # The AVX2 representation
//
// An fe4 holds four elements of GF(2²⁵⁵ − 19) side by side, for
// processors with AVX2 but without AVX-512 IFMA: limb k of lane j is word
// 4k + j, k = 0 … 9, and the element of lane j is Σ limb_k·2^⌈25.5k⌉, so
// even limbs weigh 26 bits and odd ones 25. Each YMM register holds one
// limb of all four lanes.
//
// VPMULUDQ multiplies the low 32 bits of two words into 64. In a product,
// a_i·b_j lands in column i+j with the factor 2 when i and j are both odd
// (⌈25.5i⌉ + ⌈25.5j⌉ = ⌈25.5(i+j)⌉ + 1) and 19 when i+j ≥ 10 (2²⁵⁵ ≡
// 19); the factors go on b_j, whose multiples 2b_j, 19b_j and 38b_j are
// tabulated first. Every input limb must be at most 2²⁶ + 2¹⁵ (odd limbs
// 2²⁵ + 2¹⁵), so that 38b_j < 2³² and a column, ten products below 2⁵⁷·³,
// stays below 2⁶¹. One carry pass, two chains interleaved (limbs 0→1→…→5
// and 5→6→…→9→0, then 5→6 and 0→1 again), brings every limb back under
// those bounds, so outputs are valid inputs.

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// fe4r is one field element per lane, one limb per YMM register.
type fe4r [10]reg.VecVirtual

// Byte offsets, in a function's local frame, of the broadcast constants.
const (
	lMask26 = 32 * iota
	lMask25
	l19
	lOnes
	lZero
	l2P0    // 2²⁷ − 38, limb 0 of 2p
	l2P1    // 2²⁶ − 2, odd limbs of 2p
	l2P2    // 2²⁷ − 2, even limbs of 2p but 0
	lConsts // bytes
)

// fe4Frame is the local frame of an fe4 function: constants, then tables.
type fe4Frame struct {
	base Mem
}

func (f fe4Frame) c(off int) Mem { return f.base.Offset(off) }

// table returns limb j of table t (t = 0, 1, … in units of ten limbs),
// for tables of the frame, after the constants.
func (f fe4Frame) table(t, j int) Mem { return f.base.Offset(lConsts + 320*t + 32*j) }

// newFE4Frame allocates a frame with ntables tables and stores the
// constants.
func newFE4Frame(ntables int) fe4Frame {
	f := fe4Frame{base: AllocLocal(lConsts + 320*ntables)}
	for _, c := range []struct {
		off int
		v   uint64
	}{{lMask26, 1<<26 - 1}, {lMask25, 1<<25 - 1}, {l19, 19}, {lOnes, 1<<64 - 1}, {lZero, 0}, {l2P0, 1<<27 - 38}, {l2P1, 1<<26 - 2}, {l2P2, 1<<27 - 2}} {
		g := GP64()
		MOVQ(U64(c.v), g)
		x := XMM()
		MOVQ(g, x)
		y := YMM()
		VPBROADCASTQ(x, y)
		VMOVDQU(y, f.c(c.off))
	}
	return f
}

func fe4Load(m Mem) fe4r {
	var x fe4r
	for k := range x {
		x[k] = YMM()
		VMOVDQU(m.Offset(32*k), x[k])
	}
	return x
}

func fe4Store(m Mem, x fe4r) {
	for k := range x {
		VMOVDQU(x[k], m.Offset(32*k))
	}
}

// fe4Carry carries r in place, limbs below 2⁶³ in, limbs within the input
// bounds out.
func fe4Carry(r fe4r, f fe4Frame) {
	for _, k := range []int{0, 5, 1, 6, 2, 7, 3, 8, 4, 9, 5, 0} {
		shift, mask := 26, f.c(lMask26)
		if k%2 == 1 {
			shift, mask = 25, f.c(lMask25)
		}
		t := YMM()
		VPSRLQ(U8(shift), r[k], t)
		VPAND(mask, r[k], r[k])
		if k < 9 {
			VPADDQ(t, r[k+1], r[k+1])
			continue
		}
		// r₀ += 19t, as t + 2t + 16t.
		VPADDQ(t, r[0], r[0])
		VPSLLQ(U8(1), t, t)
		VPADDQ(t, r[0], r[0])
		VPSLLQ(U8(3), t, t)
		VPADDQ(t, r[0], r[0])
	}
}

// Tables of a product's right operand b: b itself is read in place.
const (
	tB2  = iota // 2b_j, odd j
	tB19        // 19b_j
	tB38        // 38b_j, odd j
	numMulTables
)

// fe4MulMem sets out = a·b, all in memory; out may alias a or b. The
// tables of b are frame tables 0 to numMulTables − 1.
func fe4MulMem(out, a, b Mem, f fe4Frame) {
	fe4MulTables(b, f, 0)
	var r fe4r
	for k := range r {
		r[k] = YMM()
	}
	fe4MulInto(r, a, b, f, 0)
	fe4Store(out, r)
}

// fe4AddMem sets out = a + b, all in memory.
func fe4AddMem(out, a, b Mem, f fe4Frame) {
	r := fe4Load(a)
	for k := range r {
		VPADDQ(b.Offset(32*k), r[k], r[k])
	}
	fe4Carry(r, f)
	fe4Store(out, r)
}

// fe4SubMem sets out = a − b, as a + 2p − b, all in memory. Every limb of
// b is at most the matching limb of 2p, as every output here is.
func fe4SubMem(out, a, b Mem, f fe4Frame) {
	r := fe4Load(a)
	for k := range r {
		VPADDQ(f.c(twoPLimb(k)), r[k], r[k])
		VPSUBQ(b.Offset(32*k), r[k], r[k])
	}
	fe4Carry(r, f)
	fe4Store(out, r)
}

// twoPLimb returns the frame offset of limb k of 2p.
func twoPLimb(k int) int {
	switch {
	case k == 0:
		return l2P0
	case k%2 == 1:
		return l2P1
	}
	return l2P2
}

// fe4At returns the fe4 at byte offset off from base.
func fe4At(base reg.Register, off int) Mem { return Mem{Base: base, Disp: off} }

// fe4FinishAdd computes the sum of a point addition from A, B, C, D in
// scratch: E = B − A, H = B + A, G = D + C, F = D − C, and the extended
// result (E·F, G·H, F·G, E·H) into X, Y, Z, T of scratch. The slots are
// those of fe8_amd64.s, an fe4 being 320 bytes too.
func fe4FinishAdd(s reg.Register, f fe4Frame) {
	fe4SubMem(fe4At(s, sE), fe4At(s, sB), fe4At(s, sA), f)
	fe4AddMem(fe4At(s, sH), fe4At(s, sB), fe4At(s, sA), f)
	fe4AddMem(fe4At(s, sG), fe4At(s, sD), fe4At(s, sC), f)
	fe4SubMem(fe4At(s, sF), fe4At(s, sD), fe4At(s, sC), f)
	fe4MulMem(fe4At(s, sX), fe4At(s, sE), fe4At(s, sF), f)
	fe4MulMem(fe4At(s, sY), fe4At(s, sG), fe4At(s, sH), f)
	fe4MulMem(fe4At(s, sZ), fe4At(s, sF), fe4At(s, sG), f)
	fe4MulMem(fe4At(s, sT), fe4At(s, sE), fe4At(s, sH), f)
}

// fe4MulTables tabulates the multiples of the fe4 at b into frame tables
// from t0 on.
func fe4MulTables(b Mem, f fe4Frame, t0 int) {
	for j := range 10 {
		x, x19 := YMM(), YMM()
		VMOVDQU(b.Offset(32*j), x)
		VPMULUDQ(f.c(l19), x, x19)
		VMOVDQU(x19, f.table(t0+tB19, j))
		if j%2 == 1 {
			VPADDQ(x, x, x)
			VMOVDQU(x, f.table(t0+tB2, j))
			VPADDQ(x19, x19, x19)
			VMOVDQU(x19, f.table(t0+tB38, j))
		}
	}
}

// fe4MulInto sets out to the carried product of the fe4s at a and b, for
// tables of b from t0 on. Each limb of a is loaded once, and multiplies
// the right multiple of every limb of b into its column.
func fe4MulInto(out fe4r, a, b Mem, f fe4Frame, t0 int) {
	for i := range 10 {
		left := YMM()
		VMOVDQU(a.Offset(32*i), left)
		for j := range 10 {
			k := (i + j) % 10
			odd := i%2 == 1 && j%2 == 1
			wrap := i+j >= 10
			right := b.Offset(32 * j)
			switch {
			case odd && wrap:
				right = f.table(t0+tB38, j)
			case odd:
				right = f.table(t0+tB2, j)
			case wrap:
				right = f.table(t0+tB19, j)
			}
			fe4MulAdd(out[k], left, right, i == 0)
		}
	}
	fe4Carry(out, f)
}

// fe4MulAdd adds left·right into acc, or sets acc to it if first.
func fe4MulAdd(acc, left reg.VecVirtual, right Mem, first bool) {
	if first {
		VPMULUDQ(right, left, acc)
		return
	}
	t := YMM()
	VPMULUDQ(right, left, t)
	VPADDQ(t, acc, acc)
}

// Tables of a square's operand x.
const (
	tX1  = iota // x_j
	tX2         // 2x_j, odd j < 9
	tX19        // 19x_j, j ≥ 5
	tX38        // 38x_j, odd j ≥ 5
	numSqTables
)

// fe4SquareInPlace sets x = x², through frame tables from t0 on. With
// haveX1, table tX1 already holds x.
func fe4SquareInPlace(x fe4r, f fe4Frame, t0 int, haveX1 bool) {
	// Only the multiples that the columns read: 2x_j for odd j < 9, 19x_j
	// for j ≥ 5, 38x_j for odd j ≥ 5 (i ≤ j, and i + j ≥ 10 needs j ≥ 5).
	for j := range 10 {
		if !haveX1 {
			VMOVDQU(x[j], f.table(t0+tX1, j))
		}
		if j >= 5 {
			t := YMM()
			VPMULUDQ(f.c(l19), x[j], t)
			VMOVDQU(t, f.table(t0+tX19, j))
			if j%2 == 1 {
				VPADDQ(t, t, t)
				VMOVDQU(t, f.table(t0+tX38, j))
			}
		}
		if j%2 == 1 && j < 9 {
			t := YMM()
			VPADDQ(x[j], x[j], t)
			VMOVDQU(t, f.table(t0+tX2, j))
		}
	}
	// Column k gathers x_i·x_j for i ≤ j and i + j ≡ k (mod 10): doubled
	// for i < j (by 2x_i on the left), doubled again for i, j both odd
	// and multiplied by 19 for i + j ≥ 10 (on the right). Each left
	// operand is loaded once; x's registers hold the columns.
	var first [10]bool
	for k := range first {
		first[k] = true
	}
	for i := range 10 {
		diag, twice := YMM(), YMM()
		VMOVDQU(f.table(t0+tX1, i), diag)
		if i < 9 {
			VPADDQ(diag, diag, twice)
		}
		for j := i; j < 10; j++ {
			k := (i + j) % 10
			left := twice
			if i == j {
				left = diag
			}
			odd := i%2 == 1 && j%2 == 1
			wrap := i+j >= 10
			var right Mem
			switch {
			case odd && wrap:
				right = f.table(t0+tX38, j)
			case odd:
				right = f.table(t0+tX2, j)
			case wrap:
				right = f.table(t0+tX19, j)
			default:
				right = f.table(t0+tX1, j)
			}
			fe4MulAdd(x[k], left, right, first[k])
			first[k] = false
		}
	}
	fe4Carry(x, f)
}

// fe4Funcs emits the AVX2 functions.
func fe4Funcs() {
	TEXT("fe4Mul", 0, "func(out, a, b *[40]uint64)")
	Pragma("noescape")
	Doc("fe4Mul sets out = a·b in each of the four lanes. It needs AVX2.")
	{
		f := newFE4Frame(numMulTables)
		a := Mem{Base: Load(Param("a"), GP64())}
		b := Mem{Base: Load(Param("b"), GP64())}
		fe4MulTables(b, f, 0)
		var out fe4r
		for k := range out {
			out[k] = YMM()
		}
		fe4MulInto(out, a, b, f, 0)
		fe4Store(Mem{Base: Load(Param("out"), GP64())}, out)
		VZEROUPPER()
		RET()
	}

	TEXT("fe4SquareN", 0, "func(out, a *[40]uint64, n int)")
	Pragma("noescape")
	Doc("fe4SquareN sets out = a^(2ⁿ) in each of the four lanes, for n ≥ 1.",
		"It needs AVX2.")
	{
		f := newFE4Frame(numSqTables)
		x := fe4Load(Mem{Base: Load(Param("a"), GP64())})
		n := Load(Param("n"), GP64())
		Label("loop4")
		fe4SquareInPlace(x, f, 0, false)
		DECQ(n)
		JNZ(LabelRef("loop4"))
		fe4Store(Mem{Base: Load(Param("out"), GP64())}, x)
		VZEROUPPER()
		RET()
	}

	TEXT("fe4SquareN2", 0, "func(outA, outB, a, b *[40]uint64, n int)")
	Pragma("noescape")
	Doc("fe4SquareN2 sets outA = a^(2ⁿ) and outB = b^(2ⁿ) in each of the four",
		"lanes, for n ≥ 1, the two chains of squarings in one loop. It needs",
		"AVX2.")
	{
		f := newFE4Frame(2 * numSqTables)
		// Each chain waits in its first table while the other is squared.
		fe4Store(f.table(tX1, 0), fe4Load(Mem{Base: Load(Param("a"), GP64())}))
		fe4Store(f.table(numSqTables+tX1, 0), fe4Load(Mem{Base: Load(Param("b"), GP64())}))
		n := Load(Param("n"), GP64())
		Label("loop4x2")
		for _, t0 := range []int{0, numSqTables} {
			x := fe4Load(f.table(t0+tX1, 0))
			fe4SquareInPlace(x, f, t0, true)
			fe4Store(f.table(t0+tX1, 0), x)
		}
		DECQ(n)
		JNZ(LabelRef("loop4x2"))
		fe4Store(Mem{Base: Load(Param("outA"), GP64())}, fe4Load(f.table(tX1, 0)))
		fe4Store(Mem{Base: Load(Param("outB"), GP64())}, fe4Load(f.table(numSqTables+tX1, 0)))
		VZEROUPPER()
		RET()
	}

	TEXT("fe4Add", 0, "func(out, a, b *[40]uint64)")
	Pragma("noescape")
	Doc("fe4Add sets out = a + b in each of the four lanes. It needs AVX2.")
	{
		f := newFE4Frame(0)
		a := fe4Load(Mem{Base: Load(Param("a"), GP64())})
		b := Mem{Base: Load(Param("b"), GP64())}
		for k := range a {
			VPADDQ(b.Offset(32*k), a[k], a[k])
		}
		fe4Carry(a, f)
		fe4Store(Mem{Base: Load(Param("out"), GP64())}, a)
		VZEROUPPER()
		RET()
	}

	TEXT("fe4Sub", 0, "func(out, a, b *[40]uint64)")
	Pragma("noescape")
	Doc("fe4Sub sets out = a − b in each of the four lanes, as a + 2p − b. It",
		"needs AVX2.")
	{
		f := newFE4Frame(0)
		a := fe4Load(Mem{Base: Load(Param("a"), GP64())})
		b := Mem{Base: Load(Param("b"), GP64())}
		// The limbs of 2p: 2²⁷ − 38, then 2²⁶ − 2 and 2²⁷ − 2 in turn.
		twoP := [3]uint64{1<<27 - 38, 1<<26 - 2, 1<<27 - 2}
		var tp [3]reg.VecVirtual
		for i, v := range twoP {
			g := GP64()
			MOVQ(U64(v), g)
			x := XMM()
			MOVQ(g, x)
			tp[i] = YMM()
			VPBROADCASTQ(x, tp[i])
		}
		for k := range a {
			switch {
			case k == 0:
				VPADDQ(tp[0], a[k], a[k])
			case k%2 == 1:
				VPADDQ(tp[1], a[k], a[k])
			default:
				VPADDQ(tp[2], a[k], a[k])
			}
			VPSUBQ(b.Offset(32*k), a[k], a[k])
		}
		fe4Carry(a, f)
		fe4Store(Mem{Base: Load(Param("out"), GP64())}, a)
		VZEROUPPER()
		RET()
	}

	TEXT("fe4BucketAdd", 0, fmt.Sprintf("func(buckets *uint64, idx *[4]int64, neg *[4]uint64, pts *[40]uint64, n int, scratch *[%d]uint64)", scratchSize/8))
	Pragma("noescape")
	Doc("fe4BucketAdd adds, for each of the n points pts[i], ±pts[i] to one bucket",
		"in each of the four lanes: lane j of the bucket at word offset",
		"idx[i][j] − j of buckets, with the sign − where neg[i][j] is all ones",
		"(else 0). A point is (y+x, y−x, 2d·x·y, −2d·x·y) as canonical limbs, and",
		"a bucket (X, Y, Z, T) in extended coordinates, four fe4s in a row. It",
		"needs AVX2.")
	{
		f := newFE4Frame(numMulTables)
		bk := Load(Param("buckets"), GP64())
		idx := Load(Param("idx"), GP64())
		neg := Load(Param("neg"), GP64())
		pts := Load(Param("pts"), GP64())
		n := Load(Param("n"), GP64())
		s := Load(Param("scratch"), GP64())
		Label("point4")
		// Gather X, Y, Z, T.
		for c := range 4 {
			for l := range 10 {
				vidx, m, v := YMM(), YMM(), YMM()
				VMOVDQU(Mem{Base: idx}, vidx)
				VMOVDQU(f.c(lOnes), m)
				VMOVDQU(f.c(lZero), v)
				VPGATHERQQ(m, Mem{Base: bk, Index: vidx, Scale: 8, Disp: 320*c + 32*l}, v)
				VMOVDQU(v, fe4At(s, 320*c+32*l))
			}
		}
		// The point, or its negation where neg says.
		for l := range 10 {
			sign := YMM()
			VMOVDQU(Mem{Base: neg}, sign)
			ypx, ymx, t2d, nt2d := YMM(), YMM(), YMM(), YMM()
			VPBROADCASTQ(Mem{Base: pts, Disp: 8 * l}, ypx)
			VPBROADCASTQ(Mem{Base: pts, Disp: 80 + 8*l}, ymx)
			VPBROADCASTQ(Mem{Base: pts, Disp: 160 + 8*l}, t2d)
			VPBROADCASTQ(Mem{Base: pts, Disp: 240 + 8*l}, nt2d)
			p1, p2, p3 := YMM(), YMM(), YMM()
			// P1 = y−x, P2 = y+x, P3 = 2d·x·y, swapped and negated for −P.
			VPBLENDVB(sign, ypx, ymx, p1)
			VPBLENDVB(sign, ymx, ypx, p2)
			VPBLENDVB(sign, nt2d, t2d, p3)
			VMOVDQU(p1, fe4At(s, sP1+32*l))
			VMOVDQU(p2, fe4At(s, sP2+32*l))
			VMOVDQU(p3, fe4At(s, sP3+32*l))
		}
		// A = (Y−X)·P1, B = (Y+X)·P2, C = T·P3, D = 2Z.
		fe4SubMem(fe4At(s, sA), fe4At(s, sY), fe4At(s, sX), f)
		fe4AddMem(fe4At(s, sB), fe4At(s, sY), fe4At(s, sX), f)
		fe4MulMem(fe4At(s, sA), fe4At(s, sA), fe4At(s, sP1), f)
		fe4MulMem(fe4At(s, sB), fe4At(s, sB), fe4At(s, sP2), f)
		fe4MulMem(fe4At(s, sC), fe4At(s, sT), fe4At(s, sP3), f)
		fe4AddMem(fe4At(s, sD), fe4At(s, sZ), fe4At(s, sZ), f)
		fe4FinishAdd(s, f)
		// Scatter X, Y, Z, T back, lane by lane: AVX2 has no scatter.
		for j := range 4 {
			r := GP64()
			MOVQ(Mem{Base: idx, Disp: 8 * j}, r)
			for c := range 4 {
				for l := range 10 {
					w := GP64()
					MOVQ(fe4At(s, 320*c+32*l+8*j), w)
					MOVQ(w, Mem{Base: bk, Index: r, Scale: 8, Disp: 320*c + 32*l})
				}
			}
		}
		ADDQ(U8(32), idx)
		ADDQ(U8(32), neg)
		ADDQ(U32(320), pts)
		DECQ(n)
		JNZ(LabelRef("point4"))
		VZEROUPPER()
		RET()
	}

	TEXT("fe4PointAdd", 0, fmt.Sprintf("func(out, a, b *[160]uint64, d2 *[40]uint64, scratch *[%d]uint64)", scratchSize/8))
	Pragma("noescape")
	Doc("fe4PointAdd sets out = a + b in each of the four lanes, for points in",
		"extended coordinates (X, Y, Z, T), four fe4s in a row; d2 holds 2d in",
		"every lane. out may alias a or b. It needs AVX2.")
	{
		f := newFE4Frame(numMulTables)
		a := Load(Param("a"), GP64())
		b := Load(Param("b"), GP64())
		d2 := Load(Param("d2"), GP64())
		s := Load(Param("scratch"), GP64())
		// A = (Y₁−X₁)(Y₂−X₂), B = (Y₁+X₁)(Y₂+X₂), C = T₁·2d·T₂, D = 2·Z₁·Z₂.
		fe4SubMem(fe4At(s, sA), fe4At(a, 320), fe4At(a, 0), f)
		fe4SubMem(fe4At(s, sE), fe4At(b, 320), fe4At(b, 0), f)
		fe4MulMem(fe4At(s, sA), fe4At(s, sA), fe4At(s, sE), f)
		fe4AddMem(fe4At(s, sB), fe4At(a, 320), fe4At(a, 0), f)
		fe4AddMem(fe4At(s, sE), fe4At(b, 320), fe4At(b, 0), f)
		fe4MulMem(fe4At(s, sB), fe4At(s, sB), fe4At(s, sE), f)
		fe4MulMem(fe4At(s, sC), fe4At(a, 960), fe4At(d2, 0), f)
		fe4MulMem(fe4At(s, sC), fe4At(s, sC), fe4At(b, 960), f)
		fe4MulMem(fe4At(s, sD), fe4At(a, 640), fe4At(b, 640), f)
		fe4AddMem(fe4At(s, sD), fe4At(s, sD), fe4At(s, sD), f)
		fe4FinishAdd(s, f)
		out := Load(Param("out"), GP64())
		for c := range 4 {
			for l := range 10 {
				v := YMM()
				VMOVDQU(fe4At(s, 320*c+32*l), v)
				VMOVDQU(v, fe4At(out, 320*c+32*l))
			}
		}
		VZEROUPPER()
		RET()
	}
}
