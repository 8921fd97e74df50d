//go:build amd64 && !purego

package edsig

import (
	"encoding/binary"

	"filippo.io/edwards25519/field"
)

// fe4 holds four elements of GF(2²⁵⁵ − 19), one per lane, for the AVX2
// field arithmetic of fe4_amd64.s: limb k of lane j is word 4k+j, k = 0 …
// 9, and the element of lane j is Σ limb_k·2^⌈25.5k⌉ (26-bit limbs at even
// k, 25-bit at odd k). Limbs are at most 2²⁶ + 2¹⁵, which the 32-bit
// vector multiplier requires, but need not be reduced further.
type fe4 [40]uint64

const (
	mask26 = 1<<26 - 1
	mask25 = 1<<25 - 1
)

// setLaneLimbs sets lane j of v to the element of the radix-2⁵¹ limbs l,
// each below 2⁵¹.
func (v *fe4) setLaneLimbs(j int, l *[5]uint64) {
	for m := range 5 {
		v[8*m+j] = l[m] & mask26
		v[8*m+4+j] = l[m] >> 26
	}
}

// setLane sets lane j of v to x.
func (v *fe4) setLane(j int, x *field.Element) {
	var l [5]uint64
	limbs51(l[:], x)
	v.setLaneLimbs(j, &l)
}

// setLaneY sets lane j of v to the y coordinate that b encodes, with the
// sign bit ignored; b's y must be below p.
func (v *fe4) setLaneY(j int, b *[32]byte) {
	w0 := binary.LittleEndian.Uint64(b[0:])
	w1 := binary.LittleEndian.Uint64(b[8:])
	w2 := binary.LittleEndian.Uint64(b[16:])
	w3 := binary.LittleEndian.Uint64(b[24:]) &^ (1 << 63)
	l := [5]uint64{
		w0 & mask51,
		(w0>>51 | w1<<13) & mask51,
		(w1>>38 | w2<<26) & mask51,
		(w2>>25 | w3<<39) & mask51,
		w3 >> 12,
	}
	v.setLaneLimbs(j, &l)
}

// limbs51 returns lane j of v in radix 2⁵¹: limbs 2m and 2m+1 make limb
// m, below 2²⁶ + 2¹⁵ + 2⁵¹ + 2⁴¹ < 2⁵².
func (v *fe4) limbs51(j int) [5]uint64 {
	var l [5]uint64
	for m := range 5 {
		l[m] = v[8*m+j] + v[8*m+4+j]<<26
	}
	return l
}

// canonicalLane returns the limbs of the element in lane j of v, reduced
// modulo p, each below 2⁵¹.
func (v *fe4) canonicalLane(j int) [5]uint64 { return canonical51(v.limbs51(j)) }

// lane sets x to the element in lane j of v.
func (v *fe4) lane(x *field.Element, j int) { setLimbs51(x, v.canonicalLane(j)) }
