package edsig

import (
	"sync"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

const (
	// baseWindow is the NAF width used with the basepoint tables, which are
	// computed once per process: 64 odd multiples each.
	baseWindow = 8
	// keyWindow is the NAF width used with a public key's tables, which
	// are computed once per key: 32 odd multiples each.
	keyWindow = 7
)

// oddMultiplesVarTime sets out[j] = (2j+1)·p in affine form, for every j.
func oddMultiplesVarTime(out []affinePoint, p *extPoint) {
	ext := make([]extPoint, len(out))
	scratch := make([]field.Element, len(out))
	var p2 extPoint
	var c cachedPoint
	var cp completedPoint
	p2.double(p)
	c.fromExt(&p2)
	ext[0] = *p
	for j := 1; j < len(out); j++ {
		ext[j].fromCompleted(cp.addCached(&ext[j-1], &c))
	}
	normalizeAffine(out, ext, scratch)
}

// baseTables holds the odd multiples of B and of [2¹²⁸]B, where B is the
// Ed25519 basepoint.
type baseTables struct {
	b, b128 [1 << (baseWindow - 2)]affinePoint
}

// getBaseTables returns the basepoint tables, computing them on first use.
var getBaseTables = sync.OnceValue(func() *baseTables {
	var b extPoint
	x, y, z, t := edwards25519.NewGeneratorPoint().ExtendedCoordinates()
	b.X, b.Y, b.Z, b.T = *x, *y, *z, *t
	var b128 extPoint
	b128.doubleN(&b, 128)
	tab := new(baseTables)
	oddMultiplesVarTime(tab.b[:], &b)
	oddMultiplesVarTime(tab.b128[:], &b128)
	return tab
})
