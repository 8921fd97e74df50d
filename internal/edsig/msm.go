package edsig

// This file implements the two multi-scalar multiplications used by
// verification, both over 128-bit scalars and both variable-time: they run
// on public data only (signatures, keys, and batch weights that are drawn
// fresh for each verification and never leave it).
//
// Straus (interleaved windowed NAF) shares 128 doublings among all points and
// is the faster method for a few dozen points. Pippenger's bucket method sorts
// points into buckets by their signed radix-2ᶜ digits, one window at a time,
// and costs about 128/c mixed additions per point plus 2ᶜ additions per
// window to sum the buckets, which wins for larger batches.

// fixedTerm is one term of a Straus multiplication whose point has a
// precomputed table of affine odd multiples (the basepoint and public keys).
type fixedTerm struct {
	table []affinePoint // table[j] = (2j+1)·P
	naf   [nafLen]int8
}

// rWindow is the NAF width used for the signature points R in Straus: their
// tables are built for each multiplication, so they are kept small.
const rWindow = 5

// rTable holds the odd multiples P, 3P, …, 15P of one point in cached form.
type rTable [1 << (rWindow - 2)]cachedPoint

// setVarTime sets t to the odd multiples of the affine point a.
func (t *rTable) setVarTime(a *affinePoint) {
	var p, p2, cur extPoint
	var c2 cachedPoint
	var cp completedPoint
	p.fromAffine(a)
	p2.double(&p)
	c2.fromExt(&p2)
	t[0].YplusX = a.YplusX
	t[0].YminusX = a.YminusX
	t[0].Z2.Add(feOne, feOne)
	t[0].T2d = a.T2d
	cur = p
	for j := 1; j < len(t); j++ {
		cur.fromCompleted(cp.addCached(&cur, &c2))
		t[j].fromExt(&cur)
	}
}

// strausVarTime sets out = Σ fixed[i] + Σ tables[i]·nafs[i], each term being
// its point multiplied by the scalar whose NAF is given.
func strausVarTime(out *extPoint, fixed []fixedTerm, tables []rTable, nafs [][nafLen]int8) {
	top := -1
	for i := range fixed {
		for j := nafLen - 1; j > top; j-- {
			if fixed[i].naf[j] != 0 {
				top = j
				break
			}
		}
	}
	for i := range nafs {
		for j := nafLen - 1; j > top; j-- {
			if nafs[i][j] != 0 {
				top = j
				break
			}
		}
	}
	if top < 0 {
		out.setIdentity()
		return
	}

	var acc projPoint
	var c completedPoint
	var e extPoint
	acc.setIdentity()
	for pos := top; pos >= 0; pos-- {
		c.double(&acc)
		for i := range fixed {
			d := fixed[i].naf[pos]
			switch {
			case d > 0:
				e.fromCompleted(&c)
				c.addAffine(&e, &fixed[i].table[d>>1])
			case d < 0:
				e.fromCompleted(&c)
				c.subAffine(&e, &fixed[i].table[(-d)>>1])
			}
		}
		for i := range nafs {
			d := nafs[i][pos]
			switch {
			case d > 0:
				e.fromCompleted(&c)
				c.addCached(&e, &tables[i][d>>1])
			case d < 0:
				e.fromCompleted(&c)
				c.subCached(&e, &tables[i][(-d)>>1])
			}
		}
		if pos > 0 {
			acc.fromCompleted(&c)
		}
	}
	out.fromCompleted(&c)
}

// extraTerm is a point outside the main slice of a Pippenger
// multiplication: the basepoint and key terms of a batch equation.
type extraTerm struct {
	p *affinePoint
	z scalar128
}

// pippenger holds the reusable buckets of the bucket method.
type pippenger struct {
	buckets []extPoint
	stamps  []uint32 // buckets[d] holds a point iff stamps[d] == stamp
	stamp   uint32
	vec     *vecPippenger  // state of multVecVarTime, made on first use
	vec4    *vec4Pippenger // state of multVec4VarTime, likewise
}

// nextStamp starts a new, empty set of buckets.
func (w *pippenger) nextStamp() uint32 {
	w.stamp++
	if w.stamp == 0 {
		clear(w.stamps)
		w.stamp = 1
	}
	return w.stamp
}

// addVarTime adds the signed digit d times p into the buckets.
func (w *pippenger) addVarTime(d int, p *affinePoint, stamp uint32) {
	var c completedPoint
	if d > 0 {
		b := &w.buckets[d]
		if w.stamps[d] != stamp {
			w.stamps[d] = stamp
			b.fromAffine(p)
			return
		}
		b.fromCompleted(c.addAffine(b, p))
		return
	}
	d = -d
	b := &w.buckets[d]
	if w.stamps[d] != stamp {
		w.stamps[d] = stamp
		b.fromAffine(p)
		b.X.Negate(&b.X)
		b.T.Negate(&b.T)
		return
	}
	b.fromCompleted(c.subAffine(b, p))
}

// sumVarTime sets out = Σ d·buckets[d] for d = 1…top, by running sums, and
// reports whether any bucket was occupied.
func (w *pippenger) sumVarTime(out *extPoint, top int, stamp uint32) bool {
	var running extPoint
	haveRunning, haveTotal := false, false
	for d := top; d >= 1; d-- {
		if w.stamps[d] == stamp {
			if haveRunning {
				running.add(&running, &w.buckets[d])
			} else {
				running = w.buckets[d]
				haveRunning = true
			}
		}
		if haveRunning {
			if haveTotal {
				out.add(out, &running)
			} else {
				*out = running
				haveTotal = true
			}
		}
	}
	return haveTotal
}

// pippengerWindows returns the number of c-bit windows of a 128-bit scalar.
func pippengerWindows(c uint) uint { return (128 + c - 1) / c }

// multVarTime sets out = Σ zs[i]·pts[i] + Σ extra[i].z·extra[i].p using
// windows of c bits, 2 ≤ c ≤ 16.
func (w *pippenger) multVarTime(out *extPoint, pts []affinePoint, zs []scalar128, extra []extraTerm, c uint) {
	numWindows := pippengerWindows(c)
	topBits := 128 - c*(numWindows-1)
	numBuckets := max(1<<(c-1), 1<<topBits)
	if len(w.buckets) < numBuckets+1 {
		w.buckets = make([]extPoint, numBuckets+1)
		w.stamps = make([]uint32, numBuckets+1)
		w.stamp = 0
	}

	var acc, sum extPoint
	haveAcc := false
	for j := int(numWindows) - 1; j >= 0; j-- {
		if haveAcc {
			acc.doubleN(&acc, int(c))
		}
		stamp := w.nextStamp()
		for i := range zs {
			if d := zs[i].signedDigit(uint(j), c, numWindows); d != 0 {
				w.addVarTime(d, &pts[i], stamp)
			}
		}
		for i := range extra {
			if d := extra[i].z.signedDigit(uint(j), c, numWindows); d != 0 {
				w.addVarTime(d, extra[i].p, stamp)
			}
		}
		top := 1 << (c - 1)
		if j == int(numWindows)-1 {
			top = 1 << topBits
		}
		if !w.sumVarTime(&sum, top, stamp) {
			continue
		}
		if haveAcc {
			acc.add(&acc, &sum)
		} else {
			acc = sum
			haveAcc = true
		}
	}
	if !haveAcc {
		acc.setIdentity()
	}
	*out = acc
}
