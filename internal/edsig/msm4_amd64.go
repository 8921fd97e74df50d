//go:build amd64 && !purego

package edsig

import "filippo.io/edwards25519/field"

// Pippenger's method with the AVX2 field arithmetic of fe4_amd64.s, as
// msm_amd64.go does it with AVX-512 IFMA: the four lanes hold four
// windows, each point is added in one step to its bucket in each of them,
// and the running sums run for four windows at once. AVX2 gathers the
// buckets' lanes but has no scatter, so the sums go back lane by lane.

// ext4 is four points in extended coordinates (X, Y, Z, T), one per lane,
// as four fe4s in a row.
type ext4 [160]uint64

// vec4Pippenger holds the reusable state of the AVX2 bucket method.
type vec4Pippenger struct {
	buckets []ext4
	pts     [][40]uint64 // (y+x, y−x, 2d·x·y, −2d·x·y) of each point, as limbs
	idx     [][4]int64   // per point and lane: word offset of the bucket
	neg     [][4]uint64  // per point and lane: all ones if the digit is negative
	run     ext4
	total   ext4
	scratch [600]uint64
}

// d2x4 is 2d in every lane.
var d2x4 = broadcast4(curveD2)

// setIdentity sets every lane of e to the neutral element (0:1:1:0).
func (e *ext4) setIdentity() {
	*e = ext4{}
	for j := range 4 {
		e[40+j] = 1 // Y
		e[80+j] = 1 // Z
	}
}

// add sets e = a + b in every lane.
func (e *ext4) add(a, b *ext4, scratch *[600]uint64) {
	fe4PointAdd((*[160]uint64)(e), (*[160]uint64)(a), (*[160]uint64)(b), (*[40]uint64)(d2x4), scratch)
}

// coord returns coordinate c of e: X, Y, Z, T for c = 0, 1, 2, 3.
func (e *ext4) coord(c int) *fe4 { return (*fe4)(e[40*c : 40*c+40]) }

// lane sets p to the point in lane j of e.
func (e *ext4) lane(p *extPoint, j int) {
	e.coord(0).lane(&p.X, j)
	e.coord(1).lane(&p.Y, j)
	e.coord(2).lane(&p.Z, j)
	e.coord(3).lane(&p.T, j)
}

// limbs255 sets l to the ten canonical 26- and 25-bit limbs of x.
func limbs255(l []uint64, x *field.Element) {
	var w [5]uint64
	limbs51(w[:], x)
	for m := range 5 {
		l[2*m] = w[m] & mask26
		l[2*m+1] = w[m] >> 26
	}
}

// setPoint4 sets l to the limbs of a and of −2d·x·y.
func setPoint4(l *[40]uint64, a *affinePoint) {
	limbs255(l[0:10], &a.YplusX)
	limbs255(l[10:20], &a.YminusX)
	limbs255(l[20:30], &a.T2d)
	var n field.Element
	limbs255(l[30:40], n.Negate(&a.T2d))
}

// vec4Window returns the window width of the AVX2 bucket method for n
// points, with the cost model of vecWindow for groups of four windows.
func vec4Window(n int) uint {
	best, bestCost := uint(4), -1
	for c := uint(4); c <= 12; c++ {
		w := pippengerWindows(c)
		groups := int(w+3) / 4
		topBits := 128 - c*(w-1)
		cost := groups * (10*n + 18*(1<<(c-1)))
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
// signed c-bit digits of z, as vecPippenger.setDigits does: window j goes
// to lane j mod 4 of group j/4; lanes past the last window get digit 0.
func (v *vec4Pippenger) setDigits(i, m int, z *scalar128, c, numWindows uint) {
	groups := (numWindows + 3) / 4
	for g := range groups {
		v.neg[int(g)*m+i] = [4]uint64{}
		for l := range 4 {
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
		k := int(j/4)*m + i
		l := j % 4
		if d < 0 {
			v.neg[k][l] = ^uint64(0)
			d = -d
		}
		v.idx[k][l] = int64(d*len(ext4{}) + int(l))
	}
}

// multVec4VarTime sets out = Σ zs[i]·pts[i] + Σ extra[i].z·extra[i].p
// with c-bit windows, 4 ≤ c ≤ 16, in AVX2 lanes. The caller checks
// useFE4.
func (w *pippenger) multVec4VarTime(out *extPoint, pts []affinePoint, zs []scalar128, extra []extraTerm, c uint) {
	if w.vec4 == nil {
		w.vec4 = new(vec4Pippenger)
	}
	v := w.vec4
	numWindows := pippengerWindows(c)
	topBits := 128 - c*(numWindows-1)
	m := len(pts) + len(extra)
	if m == 0 {
		out.setIdentity()
		return
	}
	groups := int(numWindows+3) / 4
	v.pts = grow(v.pts, m)
	v.idx = grow(v.idx, groups*m)
	v.neg = grow(v.neg, groups*m)
	for i := range pts {
		setPoint4(&v.pts[i], &pts[i])
	}
	for i := range extra {
		setPoint4(&v.pts[len(pts)+i], extra[i].p)
	}
	for i := range m {
		if i < len(zs) {
			v.setDigits(i, m, &zs[i], c, numWindows)
		} else {
			v.setDigits(i, m, &extra[i-len(zs)].z, c, numWindows)
		}
	}

	var sums [32]extPoint // one per window; c ≥ 4 gives at most 32
	for g := uint(0); g < numWindows; g += 4 {
		top := 1 << (c - 1)
		if g+4 >= numWindows {
			top = max(top, 1<<topBits)
		}
		if len(v.buckets) < top+1 {
			v.buckets = make([]ext4, top+1)
		}
		for d := range top + 1 {
			v.buckets[d].setIdentity()
		}
		k := int(g/4) * m
		fe4BucketAdd(&v.buckets[0][0], &v.idx[k], &v.neg[k], &v.pts[0], m, &v.scratch)

		// Σ d·bucket[d] = Σ_d Σ_{e≥d} bucket[e], by running sums.
		v.run.setIdentity()
		v.total.setIdentity()
		for d := top; d >= 1; d-- {
			v.run.add(&v.run, &v.buckets[d], &v.scratch)
			v.total.add(&v.total, &v.run, &v.scratch)
		}
		for l := range uint(4) {
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
