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
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// fe is one field element per lane, one limb per register.
type fe [5]reg.VecVirtual

// consts holds the broadcast constants of the reduction.
type consts struct {
	mask, nineteen reg.VecVirtual
}

func loadConsts() consts {
	c := consts{mask: ZMM(), nineteen: ZMM()}
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

func newColumns() *columns {
	var cols columns
	for c := range 9 {
		cols.z[c] = ZMM()
		VPXORQ(cols.z[c], cols.z[c], cols.z[c])
		cols.y[c+1] = ZMM()
		VPXORQ(cols.y[c+1], cols.y[c+1], cols.y[c+1])
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
	cols := newColumns()
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

func main() {
	ConstraintExpr("amd64,!purego")

	TEXT("fe8Mul", NOSPLIT, "func(out, a, b *[40]uint64)")
	Pragma("noescape")
	Doc("fe8Mul sets out = a·b in each of the eight lanes. It needs AVX-512F,",
		"AVX-512DQ and AVX-512 IFMA.")
	{
		k := loadConsts()
		a := load(Mem{Base: Load(Param("a"), GP64())})
		bp := Mem{Base: Load(Param("b"), GP64())}
		cols := newColumns()
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

	Generate()
}
