package edsig

import (
	"filippo.io/edwards25519/field"
)

// This file implements the group arithmetic of edwards25519,
// -x² + y² = 1 + d·x²·y², over the field package of filippo.io/edwards25519.
// It follows the extended coordinates of Hisil, Wong, Carter and Dawson,
// "Twisted Edwards Curves Revisited" (https://eprint.iacr.org/2008/522),
// section 3.1 (addition with a = -1, "k = 2d") and section 3.3 (doubling).
// All functions here are variable-time only where their names say so; the
// formulas themselves have no branches.

// extPoint is a point in extended coordinates (X:Y:Z:T), with x = X/Z,
// y = Y/Z and x·y = T/Z.
type extPoint struct {
	X, Y, Z, T field.Element
}

// projPoint is a point in projective coordinates (X:Y:Z), with x = X/Z and
// y = Y/Z. Doubling needs no T.
type projPoint struct {
	X, Y, Z field.Element
}

// completedPoint is the output of an addition or a doubling before the final
// multiplications: x = X/Z and y = Y/T.
type completedPoint struct {
	X, Y, Z, T field.Element
}

// cachedPoint holds (Y+X, Y−X, 2Z, 2d·T) of an extended point, the operand
// form of a general addition.
type cachedPoint struct {
	YplusX, YminusX, Z2, T2d field.Element
}

// affinePoint holds (y+x, y−x, 2d·x·y) of a point with Z = 1, the operand
// form of a mixed addition, which saves one multiplication.
type affinePoint struct {
	YplusX, YminusX, T2d field.Element
}

var (
	feZero field.Element
	feOne  = new(field.Element).One()
	// curveD is d = −121665/121666.
	curveD = func() *field.Element {
		num := feFromUint64(121665)
		den := feFromUint64(121666)
		num.Negate(num)
		return num.Multiply(num, den.Invert(den))
	}()
	// curveD2 is 2·d.
	curveD2 = new(field.Element).Add(curveD, curveD)
	// curveDInv is 1/d.
	curveDInv = new(field.Element).Invert(curveD)
	// sqrtM1 is √−1 = 2^((p−1)/4) = (2^((p−5)/8))²·2.
	sqrtM1 = func() *field.Element {
		two := feFromUint64(2)
		r := new(field.Element).Pow22523(two)
		r.Square(r)
		return r.Multiply(r, two)
	}()
)

// feFromUint64 returns the field element x.
func feFromUint64(x uint64) *field.Element {
	var b [32]byte
	for i := range 8 {
		b[i] = byte(x >> (8 * i))
	}
	v, err := new(field.Element).SetBytes(b[:])
	if err != nil {
		panic("edsig: internal error: " + err.Error())
	}
	return v
}

// setIdentity sets p to the neutral element (0:1:1:0).
func (p *extPoint) setIdentity() *extPoint {
	p.X.Zero()
	p.Y.One()
	p.Z.One()
	p.T.Zero()
	return p
}

// setIdentity sets p to the neutral element (0:1:1).
func (p *projPoint) setIdentity() *projPoint {
	p.X.Zero()
	p.Y.One()
	p.Z.One()
	return p
}

// fromCompleted sets p = c. Four multiplications.
func (p *extPoint) fromCompleted(c *completedPoint) *extPoint {
	p.X.Multiply(&c.X, &c.T)
	p.Y.Multiply(&c.Y, &c.Z)
	p.Z.Multiply(&c.Z, &c.T)
	p.T.Multiply(&c.X, &c.Y)
	return p
}

// fromAffine sets p = a, as (2x : 2y : 2 : 2xy). One multiplication.
func (p *extPoint) fromAffine(a *affinePoint) *extPoint {
	p.X.Subtract(&a.YplusX, &a.YminusX)
	p.Y.Add(&a.YplusX, &a.YminusX)
	p.Z.Add(feOne, feOne)
	p.T.Multiply(&a.T2d, curveDInv)
	return p
}

// fromCompleted sets p = c, dropping T. Three multiplications.
func (p *projPoint) fromCompleted(c *completedPoint) *projPoint {
	p.X.Multiply(&c.X, &c.T)
	p.Y.Multiply(&c.Y, &c.Z)
	p.Z.Multiply(&c.Z, &c.T)
	return p
}

// fromExt sets p = e.
func (p *projPoint) fromExt(e *extPoint) *projPoint {
	p.X.Set(&e.X)
	p.Y.Set(&e.Y)
	p.Z.Set(&e.Z)
	return p
}

// fromExt sets c to the cached form of e. One multiplication.
func (c *cachedPoint) fromExt(e *extPoint) *cachedPoint {
	c.YplusX.Add(&e.Y, &e.X)
	c.YminusX.Subtract(&e.Y, &e.X)
	c.Z2.Add(&e.Z, &e.Z)
	c.T2d.Multiply(&e.T, curveD2)
	return c
}

// double sets c = 2·p. Four squarings.
func (c *completedPoint) double(p *projPoint) *completedPoint {
	var xx, yy, zz2, s field.Element
	xx.Square(&p.X)
	yy.Square(&p.Y)
	zz2.Square(&p.Z)
	zz2.Add(&zz2, &zz2)
	s.Add(&p.X, &p.Y)
	s.Square(&s)

	c.Y.Add(&yy, &xx)
	c.Z.Subtract(&yy, &xx)
	c.X.Subtract(&s, &c.Y)
	c.T.Subtract(&zz2, &c.Z)
	return c
}

// addCached sets c = p + q. Four multiplications.
func (c *completedPoint) addCached(p *extPoint, q *cachedPoint) *completedPoint {
	var a, b, t, zz, pp, mm field.Element
	a.Add(&p.Y, &p.X)
	b.Subtract(&p.Y, &p.X)
	pp.Multiply(&a, &q.YplusX)
	mm.Multiply(&b, &q.YminusX)
	t.Multiply(&p.T, &q.T2d)
	zz.Multiply(&p.Z, &q.Z2)

	c.X.Subtract(&pp, &mm)
	c.Y.Add(&pp, &mm)
	c.Z.Add(&zz, &t)
	c.T.Subtract(&zz, &t)
	return c
}

// subCached sets c = p − q. Four multiplications.
func (c *completedPoint) subCached(p *extPoint, q *cachedPoint) *completedPoint {
	var a, b, t, zz, pp, mm field.Element
	a.Add(&p.Y, &p.X)
	b.Subtract(&p.Y, &p.X)
	pp.Multiply(&a, &q.YminusX)
	mm.Multiply(&b, &q.YplusX)
	t.Multiply(&p.T, &q.T2d)
	zz.Multiply(&p.Z, &q.Z2)

	c.X.Subtract(&pp, &mm)
	c.Y.Add(&pp, &mm)
	c.Z.Subtract(&zz, &t)
	c.T.Add(&zz, &t)
	return c
}

// addAffine sets c = p + q. Three multiplications.
func (c *completedPoint) addAffine(p *extPoint, q *affinePoint) *completedPoint {
	var a, b, t, z2, pp, mm field.Element
	a.Add(&p.Y, &p.X)
	b.Subtract(&p.Y, &p.X)
	pp.Multiply(&a, &q.YplusX)
	mm.Multiply(&b, &q.YminusX)
	t.Multiply(&p.T, &q.T2d)
	z2.Add(&p.Z, &p.Z)

	c.X.Subtract(&pp, &mm)
	c.Y.Add(&pp, &mm)
	c.Z.Add(&z2, &t)
	c.T.Subtract(&z2, &t)
	return c
}

// subAffine sets c = p − q. Three multiplications.
func (c *completedPoint) subAffine(p *extPoint, q *affinePoint) *completedPoint {
	var a, b, t, z2, pp, mm field.Element
	a.Add(&p.Y, &p.X)
	b.Subtract(&p.Y, &p.X)
	pp.Multiply(&a, &q.YminusX)
	mm.Multiply(&b, &q.YplusX)
	t.Multiply(&p.T, &q.T2d)
	z2.Add(&p.Z, &p.Z)

	c.X.Subtract(&pp, &mm)
	c.Y.Add(&pp, &mm)
	c.Z.Subtract(&z2, &t)
	c.T.Add(&z2, &t)
	return c
}

// add sets p = a + b.
func (p *extPoint) add(a, b *extPoint) *extPoint {
	var q cachedPoint
	var c completedPoint
	q.fromExt(b)
	return p.fromCompleted(c.addCached(a, &q))
}

// sub sets p = a − b.
func (p *extPoint) sub(a, b *extPoint) *extPoint {
	var q cachedPoint
	var c completedPoint
	q.fromExt(b)
	return p.fromCompleted(c.subCached(a, &q))
}

// addAffine sets p = a + b.
func (p *extPoint) addAffine(a *extPoint, b *affinePoint) *extPoint {
	var c completedPoint
	return p.fromCompleted(c.addAffine(a, b))
}

// double sets p = 2·a.
func (p *extPoint) double(a *extPoint) *extPoint {
	var pp projPoint
	var c completedPoint
	pp.fromExt(a)
	return p.fromCompleted(c.double(&pp))
}

// doubleN sets p = 2ⁿ·a, for n ≥ 1.
func (p *extPoint) doubleN(a *extPoint, n int) *extPoint {
	var pp projPoint
	var c completedPoint
	pp.fromExt(a)
	for range n - 1 {
		pp.fromCompleted(c.double(&pp))
	}
	return p.fromCompleted(c.double(&pp))
}

// negate sets a = −a, for an affine point: (y+x, y−x, 2dxy) becomes
// (y−x, y+x, −2dxy).
func (a *affinePoint) negate() *affinePoint {
	a.YplusX, a.YminusX = a.YminusX, a.YplusX
	a.T2d.Negate(&a.T2d)
	return a
}

// isIdentity reports whether p is the neutral element, that is X = 0 and
// Y = Z. Variable-time in the result only.
func (p *extPoint) isIdentity() bool {
	return p.X.Equal(&feZero) == 1 && p.Y.Equal(&p.Z) == 1
}

// cofactorClears reports whether [8]p is the neutral element, which is the
// cofactored verification test. Variable-time in the result only.
func (p *extPoint) cofactorClears() bool {
	var q extPoint
	return q.doubleN(p, 3).isIdentity()
}

// normalizeAffine sets out[i] to the affine form of in[i] using one field
// inversion for all of them (Montgomery's simultaneous inversion). Every Z
// must be nonzero, which holds for every point of the curve in extended
// coordinates. scratch must be at least as long as in.
func normalizeAffine(out []affinePoint, in []extPoint, scratch []field.Element) {
	if len(in) == 0 {
		return
	}
	// scratch[i] = Z_0 · … · Z_i.
	scratch[0].Set(&in[0].Z)
	for i := 1; i < len(in); i++ {
		scratch[i].Multiply(&scratch[i-1], &in[i].Z)
	}
	var inv, zinv, x, y, t field.Element
	inv.Invert(&scratch[len(in)-1])
	for i := len(in) - 1; i >= 0; i-- {
		if i > 0 {
			zinv.Multiply(&inv, &scratch[i-1])
			inv.Multiply(&inv, &in[i].Z)
		} else {
			zinv.Set(&inv)
		}
		x.Multiply(&in[i].X, &zinv)
		y.Multiply(&in[i].Y, &zinv)
		t.Multiply(&x, &y)
		out[i].YplusX.Add(&y, &x)
		out[i].YminusX.Subtract(&y, &x)
		out[i].T2d.Multiply(&t, curveD2)
	}
}
