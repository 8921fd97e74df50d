package edsig

import (
	"encoding/binary"
	"math/bits"

	"filippo.io/edwards25519"
)

// A 128-bit scalar is stored as two little-endian 64-bit words. The batch
// weights z_i are 128-bit, and every 253-bit scalar s of an equation is
// split as s = lo + 2¹²⁸·hi and applied to P and to the precomputed
// [2¹²⁸]P, so that every multi-scalar multiplication here runs over 128-bit
// scalars only: half the doublings of a full-width one.
type scalar128 [2]uint64

// split128 splits the 32-byte little-endian scalar b into its low and high
// 128-bit halves.
func split128(b *[32]byte) (lo, hi scalar128) {
	lo[0] = binary.LittleEndian.Uint64(b[0:8])
	lo[1] = binary.LittleEndian.Uint64(b[8:16])
	hi[0] = binary.LittleEndian.Uint64(b[16:24])
	hi[1] = binary.LittleEndian.Uint64(b[24:32])
	return lo, hi
}

// isZero reports whether z is zero.
func (z *scalar128) isZero() bool { return z[0]|z[1] == 0 }

// bitsAt returns the n ≤ 32 bits of z starting at bit p; bits at and above
// position 128 read as zero.
func (z *scalar128) bitsAt(p, n uint) uint64 {
	var v uint64
	switch {
	case p < 64:
		// A shift by 64 or more gives zero, so p = 0 needs no special case.
		v = z[0]>>p | z[1]<<(64-p)
	case p < 128:
		v = z[1] >> (p - 64)
	}
	return v & (1<<n - 1)
}

// bit returns bit p of z, zero at and above position 128.
func (z *scalar128) bit(p uint) uint64 {
	if p >= 128 {
		return 0
	}
	return z[p>>6] >> (p & 63) & 1
}

// nafLen is the number of digit positions of the width-w NAF of a 128-bit
// scalar: a final carry can reach position 128.
const nafLen = 129

// nafVarTime sets naf to the width-w non-adjacent form of z, for 2 ≤ w ≤ 8:
// z = Σ naf[i]·2ⁱ, every nonzero digit is odd and lies in (−2ʷ⁻¹, 2ʷ⁻¹), and
// any w consecutive digits hold at most one nonzero digit. Variable-time.
func nafVarTime(naf *[nafLen]int8, z *scalar128, w uint) {
	*naf = [nafLen]int8{}
	width := uint64(1) << w
	half := width >> 1
	mask := width - 1
	var carry uint64
	for pos := uint(0); pos < nafLen; {
		// Skip zero bits quickly while there is no pending carry.
		if carry == 0 {
			if pos < 128 {
				rest := z.bitsAt(pos, 32)
				if rest == 0 {
					pos += 32
					continue
				}
				if tz := uint(bits.TrailingZeros64(rest)); tz > 0 {
					pos += tz
					continue
				}
			} else {
				break
			}
		}
		window := carry + z.bitsAt(pos, w)&mask
		if window&1 == 0 {
			// A carry into a set bit leaves this position zero and
			// carries on.
			pos++
			continue
		}
		if window < half {
			carry = 0
			naf[pos] = int8(window)
		} else {
			carry = 1
			naf[pos] = int8(int64(window) - int64(width))
		}
		pos += w
	}
}

// signedDigit returns digit j of the radix-2ᶜ signed recoding of z with
// numWindows digits. Digits below the top one lie in [−2ᶜ⁻¹, 2ᶜ⁻¹], and
// z = Σ d_j·2ᶜʲ. The top digit is not recoded and lies in [0, 2ᵇ] where b is
// the number of bits of z left for it.
//
// The carry into digit j is bit cj−1 of z: the digits below j sum to a value
// in [−2ᶜʲ⁻¹, 2ᶜʲ⁻¹), which is z mod 2ᶜʲ minus 2ᶜʲ exactly when that bit is
// set. So each digit is computed from z alone, with no carry chain.
func (z *scalar128) signedDigit(j, c, numWindows uint) int {
	p := j * c
	v := int(z.bitsAt(p, c))
	if p > 0 {
		v += int(z.bit(p - 1))
	}
	if j+1 < numWindows {
		v -= int(z.bit(p+c-1)) << c
	}
	return v
}

// orderL is the group order L = 2²⁵² + 27742317777372353535851937790883648493
// as little-endian 64-bit words.
var orderL = [4]uint64{0x5812631a5cf5d3ed, 0x14def9dea2f79cd6, 0, 0x1000000000000000}

// isCanonicalScalar reports whether the 32-byte little-endian b is below L.
func isCanonicalScalar(b *[32]byte) bool {
	for i := 3; i >= 0; i-- {
		w := binary.LittleEndian.Uint64(b[8*i:])
		if w != orderL[i] {
			return w < orderL[i]
		}
	}
	return false
}

// wideAcc accumulates sums of products z·s of a 128-bit z and a 256-bit s
// exactly, without reduction: each product is below 2³⁸⁴, so 448 bits hold
// the sum of 2⁶⁴ of them.
type wideAcc [7]uint64

// mulAdd sets a += z·s, for s a 32-byte little-endian integer.
func (a *wideAcc) mulAdd(z *scalar128, s *[32]byte) {
	var sw [4]uint64
	for j := range sw {
		sw[j] = binary.LittleEndian.Uint64(s[8*j:])
	}
	for i := range 2 {
		var carry uint64
		for j := range 4 {
			hi, lo := bits.Mul64(z[i], sw[j])
			var c uint64
			lo, c = bits.Add64(lo, a[i+j], 0)
			hi += c
			lo, c = bits.Add64(lo, carry, 0)
			hi += c
			a[i+j] = lo
			carry = hi
		}
		for k := i + 4; carry != 0 && k < len(a); k++ {
			a[k], carry = bits.Add64(a[k], carry, 0)
		}
	}
}

// reduce returns a mod L as 32 little-endian bytes.
func (a *wideAcc) reduce() [32]byte {
	var wide [64]byte
	for i, w := range a {
		binary.LittleEndian.PutUint64(wide[8*i:], w)
	}
	var s edwards25519.Scalar
	if _, err := s.SetUniformBytes(wide[:]); err != nil {
		panic("edsig: internal error: " + err.Error())
	}
	return [32]byte(s.Bytes())
}
