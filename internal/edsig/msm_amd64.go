//go:build amd64 && !purego

package edsig

import (
	"encoding/binary"

	"filippo.io/edwards25519/field"
)

// Pippenger's method with the vector field arithmetic of fe8_amd64.s.
//
// The eight lanes hold eight windows, not eight points: each point is
// added, in one step, to its bucket in each of eight windows, so that the
// lanes never contend for a bucket. The running sums that weigh each
// bucket by its digit then also run for eight windows at once, and only
// the window sums leave the lanes. Points and buckets stay in extended
// coordinates, where the addition formulas are complete on edwards25519,
// so that no lane needs a special case: a zero digit adds its point to
// bucket 0, which is never read.

// vecStrausMax replaces strausMax, the largest multiplication done with
// Straus rather than Pippenger, on the vector path. The vector bucket
// method took 0.95 to 0.98 times Straus's time for a whole batch of 8, and
// 1.10 to 1.21 times for 4 (BenchmarkStrausCrossover).
var vecStrausMax = 6

// ext8 is eight points in extended coordinates (X, Y, Z, T), one per lane,
// as four fe8s in a row.
type ext8 [160]uint64

// vecPippenger holds the reusable state of the vector bucket method.
type vecPippenger struct {
	buckets []ext8
	pts     [][20]uint64 // (y+x, y−x, 2d·x·y, −2d·x·y) of each point, as limbs
	idx     [][8]int64   // per point and lane: word offset of the bucket
	neg     []uint8      // per point: lanes whose digit is negative
	run     ext8
	total   ext8
	scratch [600]uint64
}

// d2x8 is 2d in every lane.
var d2x8 = func() *fe8 {
	v := new(fe8)
	for j := range 8 {
		v.setLane(j, curveD2)
	}
	return v
}()

// setIdentity sets every lane of e to the neutral element (0:1:1:0).
func (e *ext8) setIdentity() {
	*e = ext8{}
	for j := range 8 {
		e[40+j] = 1 // Y
		e[80+j] = 1 // Z
	}
}

// add sets e = a + b in every lane.
func (e *ext8) add(a, b *ext8, scratch *[600]uint64) {
	fe8PointAdd((*[160]uint64)(e), (*[160]uint64)(a), (*[160]uint64)(b), (*[40]uint64)(d2x8), scratch)
}

// coord returns coordinate c of e: X, Y, Z, T for c = 0, 1, 2, 3.
func (e *ext8) coord(c int) *fe8 { return (*fe8)(e[40*c : 40*c+40]) }

// lane sets p to the point in lane j of e.
func (e *ext8) lane(p *extPoint, j int) {
	e.coord(0).lane(&p.X, j)
	e.coord(1).lane(&p.Y, j)
	e.coord(2).lane(&p.Z, j)
	e.coord(3).lane(&p.T, j)
}

// limbs51 returns the radix-2⁵¹ limbs of x, reduced.
func limbs51(l []uint64, x *field.Element) {
	b := x.Bytes()
	w0 := binary.LittleEndian.Uint64(b[0:])
	w1 := binary.LittleEndian.Uint64(b[8:])
	w2 := binary.LittleEndian.Uint64(b[16:])
	w3 := binary.LittleEndian.Uint64(b[24:])
	l[0] = w0 & mask51
	l[1] = (w0>>51 | w1<<13) & mask51
	l[2] = (w1>>38 | w2<<26) & mask51
	l[3] = (w2>>25 | w3<<39) & mask51
	l[4] = w3 >> 12 & mask51
}

// setPoint sets l to the limbs of a and of −2d·x·y, computed as 2p minus
// the limbs of 2d·x·y, which keeps every limb below 2⁵².
func setPoint(l *[20]uint64, a *affinePoint) {
	limbs51(l[0:5], &a.YplusX)
	limbs51(l[5:10], &a.YminusX)
	limbs51(l[10:15], &a.T2d)
	l[15] = 1<<52 - 38 - l[10]
	for k := 16; k < 20; k++ {
		l[k] = 1<<52 - 2 - l[k-5]
	}
}

// vecWindow returns the window width of the vector bucket method for n
// points. A group of eight windows costs one bucket addition per point
// and two point additions per bucket; this picks the width with the
// least total, counting a bucket addition, with its gathers, as about
// 10 field multiplications and a point addition as 9.
func vecWindow(n int) uint {
	best, bestCost := uint(4), -1
	for c := uint(4); c <= 12; c++ {
		w := pippengerWindows(c)
		groups := int(w+7) / 8
		topBits := 128 - c*(w-1)
		cost := groups * (10*n + 18*(1<<(c-1)))
		// The group with the top window may need more buckets.
		if extra := 1<<topBits - 1<<(c-1); extra > 0 {
			cost += 18 * extra
		}
		if bestCost < 0 || cost < bestCost {
			best, bestCost = c, cost
		}
	}
	return best
}

// setDigits sets the bucket offsets and signs of point i, of m, for the
// signed c-bit digits of z: the digits of scalar128.signedDigit, from one
// pass over the scalar. Window j goes to lane j mod 8 of group j/8;
// lanes past the last window get digit 0.
func (v *vecPippenger) setDigits(i, m int, z *scalar128, c, numWindows uint) {
	groups := (numWindows + 7) / 8
	for g := range groups {
		v.neg[int(g)*m+i] = 0
		for l := range 8 {
			v.idx[int(g)*m+i][l] = int64(l)
		}
	}
	lo, hi := z[0], z[1]
	var carry uint64
	for j := range numWindows {
		raw := lo & (1<<c - 1)
		lo = lo>>c | hi<<(64-c)
		hi >>= c
		d := int(raw + carry)
		if j+1 < numWindows {
			top := raw >> (c - 1)
			d -= int(top << c)
			carry = top
		}
		k := int(j/8)*m + i
		l := j % 8
		if d < 0 {
			v.neg[k] |= 1 << l
			d = -d
		}
		v.idx[k][l] = int64(d*len(ext8{}) + int(l))
	}
}

// multVecVarTime sets out = Σ zs[i]·pts[i] + Σ extra[i].z·extra[i].p with
// c-bit windows, 4 ≤ c ≤ 16, in the vector lanes. The caller checks
// useFE8.
func (w *pippenger) multVecVarTime(out *extPoint, pts []affinePoint, zs []scalar128, extra []extraTerm, c uint) {
	if w.vec == nil {
		w.vec = new(vecPippenger)
	}
	v := w.vec
	numWindows := pippengerWindows(c)
	topBits := 128 - c*(numWindows-1)
	m := len(pts) + len(extra)
	if m == 0 {
		out.setIdentity()
		return
	}
	groups := int(numWindows+7) / 8
	v.pts = grow(v.pts, m)
	v.idx = grow(v.idx, groups*m)
	v.neg = grow(v.neg, groups*m)
	for i := range pts {
		setPoint(&v.pts[i], &pts[i])
	}
	for i := range extra {
		setPoint(&v.pts[len(pts)+i], extra[i].p)
	}
	for i := range m {
		if i < len(zs) {
			v.setDigits(i, m, &zs[i], c, numWindows)
		} else {
			v.setDigits(i, m, &extra[i-len(zs)].z, c, numWindows)
		}
	}

	var sums [32]extPoint // one per window; c ≥ 4 gives at most 32
	for g := uint(0); g < numWindows; g += 8 {
		top := 1 << (c - 1)
		if g+8 >= numWindows {
			top = max(top, 1<<topBits)
		}
		if len(v.buckets) < top+1 {
			v.buckets = make([]ext8, top+1)
		}
		for d := range top + 1 {
			v.buckets[d].setIdentity()
		}
		k := int(g/8) * m
		fe8BucketAdd(&v.buckets[0][0], &v.idx[k], &v.neg[k], &v.pts[0], m, &v.scratch)

		// Σ d·bucket[d] = Σ_d Σ_{e≥d} bucket[e], by running sums.
		v.run.setIdentity()
		v.total.setIdentity()
		for d := top; d >= 1; d-- {
			v.run.add(&v.run, &v.buckets[d], &v.scratch)
			v.total.add(&v.total, &v.run, &v.scratch)
		}
		for l := range uint(8) {
			if g+l < numWindows {
				v.total.lane(&sums[g+l], int(l))
			}
		}
	}

	acc := sums[numWindows-1]
	for j := int(numWindows) - 2; j >= 0; j-- {
		acc.doubleN(&acc, int(c))
		acc.add(&acc, &sums[j])
	}
	*out = acc
}
