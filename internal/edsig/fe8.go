package edsig

import (
	"encoding/binary"

	"filippo.io/edwards25519/field"
)

// fe8 holds eight elements of GF(2²⁵⁵ − 19), one per lane, for the vector
// field arithmetic of fe8_amd64.s: limb k of lane j is word 8k+j, and the
// element of lane j is Σ limb_k·2^(51k). Limbs are below 2⁵², which the
// vector multiplier requires, but need not be reduced further.
type fe8 [40]uint64

const mask51 = 1<<51 - 1

// setLane sets lane j of v to x.
func (v *fe8) setLane(j int, x *field.Element) {
	b := x.Bytes()
	w0 := binary.LittleEndian.Uint64(b[0:])
	w1 := binary.LittleEndian.Uint64(b[8:])
	w2 := binary.LittleEndian.Uint64(b[16:])
	w3 := binary.LittleEndian.Uint64(b[24:])
	v[j] = w0 & mask51
	v[8+j] = (w0>>51 | w1<<13) & mask51
	v[16+j] = (w1>>38 | w2<<26) & mask51
	v[24+j] = (w2>>25 | w3<<39) & mask51
	v[32+j] = w3 >> 12 & mask51
}

// lane sets x to the element in lane j of v.
func (v *fe8) lane(x *field.Element, j int) { setLimbs51(x, v.canonicalLane(j)) }

// setLimbs51 sets x to the element of the canonical radix-2⁵¹ limbs l.
func setLimbs51(x *field.Element, l [5]uint64) {
	var b [32]byte
	binary.LittleEndian.PutUint64(b[0:], l[0]|l[1]<<51)
	binary.LittleEndian.PutUint64(b[8:], l[1]>>13|l[2]<<38)
	binary.LittleEndian.PutUint64(b[16:], l[2]>>26|l[3]<<25)
	binary.LittleEndian.PutUint64(b[24:], l[3]>>39|l[4]<<12)
	if _, err := x.SetBytes(b[:]); err != nil {
		panic("edsig: internal error: " + err.Error())
	}
}

// setLaneY sets lane j of v to the y coordinate that b encodes, with the
// sign bit ignored; b's y must be below p.
func (v *fe8) setLaneY(j int, b *[32]byte) {
	w0 := binary.LittleEndian.Uint64(b[0:])
	w1 := binary.LittleEndian.Uint64(b[8:])
	w2 := binary.LittleEndian.Uint64(b[16:])
	w3 := binary.LittleEndian.Uint64(b[24:]) &^ (1 << 63)
	v[j] = w0 & mask51
	v[8+j] = (w0>>51 | w1<<13) & mask51
	v[16+j] = (w1>>38 | w2<<26) & mask51
	v[24+j] = (w2>>25 | w3<<39) & mask51
	v[32+j] = w3 >> 12
}

// canonicalLane returns the limbs of the element in lane j of v, reduced
// modulo p, each below 2⁵¹.
func (v *fe8) canonicalLane(j int) [5]uint64 {
	return canonical51([5]uint64{v[j], v[8+j], v[16+j], v[24+j], v[32+j]})
}

// canonical51 returns the limbs l, each below 2⁵², reduced modulo p, each
// below 2⁵¹.
func canonical51(l [5]uint64) [5]uint64 {
	// Two carry passes bring every limb below 2⁵¹, from limbs below 2⁵²:
	// after the first, only l[0] can exceed 2⁵¹, by at most 19·2; after
	// the second, a carry out of l[4] reaches l[0] only if l[1…4] were all
	// 2⁵¹ − 1, and then l[0] was below 2. The value is then below 2²⁵⁵.
	for range 2 {
		for k := range 4 {
			l[k+1] += l[k] >> 51
			l[k] &= mask51
		}
		l[0] += 19 * (l[4] >> 51)
		l[4] &= mask51
	}
	// q = 1 iff the value is p or more, that is iff value + 19 ≥ 2²⁵⁵.
	q := (l[0] + 19) >> 51
	for k := 1; k < 5; k++ {
		q = (l[k] + q) >> 51
	}
	l[0] += 19 * q
	for k := range 4 {
		l[k+1] += l[k] >> 51
		l[k] &= mask51
	}
	l[4] &= mask51 // drops 2²⁵⁵, leaving value − p when q = 1
	return l
}

// setLaneLimbs sets lane j of v to the limbs l.
func (v *fe8) setLaneLimbs(j int, l *[5]uint64) {
	for k := range 5 {
		v[8*k+j] = l[k]
	}
}

// negLimbs returns the limbs of p − l, for canonical l; 0 for l = 0.
func negLimbs(l [5]uint64) [5]uint64 {
	if l == [5]uint64{} {
		return l
	}
	// p = (2⁵¹ − 19, 2⁵¹ − 1, …), and l < p limb by limb from the top,
	// with borrows.
	var r [5]uint64
	var borrow uint64
	for k := range 5 {
		pk := uint64(mask51)
		if k == 0 {
			pk = mask51 - 18
		}
		d := pk - l[k] - borrow
		borrow = d >> 63
		r[k] = d & mask51
	}
	return r
}
