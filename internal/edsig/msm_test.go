package edsig

import (
	"encoding/hex"
	"math/big"
	"math/rand/v2"
	"sync"
	"testing"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

func toExt(p *edwards25519.Point) extPoint {
	x, y, z, t := p.ExtendedCoordinates()
	return extPoint{*x, *y, *z, *t}
}

func fromExt(t testing.TB, e *extPoint) *edwards25519.Point {
	t.Helper()
	p, err := new(edwards25519.Point).SetExtendedCoordinates(&e.X, &e.Y, &e.Z, &e.T)
	if err != nil {
		t.Fatalf("point not on the curve: %v", err)
	}
	return p
}

func randScalar128(rng *rand.Rand) scalar128 {
	switch rng.IntN(8) {
	case 0:
		return scalar128{^uint64(0), ^uint64(0)}
	case 1:
		return scalar128{rng.Uint64(), 0}
	case 2:
		return scalar128{0, 1 << 63}
	case 3:
		return scalar128{1, 0}
	}
	return scalar128{rng.Uint64(), rng.Uint64()}
}

func (z *scalar128) big() *big.Int {
	v := new(big.Int).SetUint64(z[1])
	v.Lsh(v, 64)
	return v.Or(v, new(big.Int).SetUint64(z[0]))
}

func (z *scalar128) scalar(t testing.TB) *edwards25519.Scalar {
	var b [32]byte
	zb := z.big().FillBytes(make([]byte, 16))
	for i := range 16 {
		b[i] = zb[15-i]
	}
	s, err := edwards25519.NewScalar().SetCanonicalBytes(b[:])
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// randPoint returns a random point, with a small-order component in about
// half the cases.
func randPoint(t testing.TB, rng *rand.Rand) *edwards25519.Point {
	var b [64]byte
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	s, _ := edwards25519.NewScalar().SetUniformBytes(b[:])
	p := new(edwards25519.Point).ScalarBaseMult(s)
	if rng.IntN(2) == 0 {
		p.Add(p, torsion(t, rng.IntN(8)))
	}
	return p
}

// torsionPoints holds i·T for i = 0…8, where T, encoded as below, has
// order 8.
var torsionPoints = sync.OnceValue(func() (out [9]*edwards25519.Point) {
	g, _ := hex.DecodeString("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")
	p, err := new(edwards25519.Point).SetBytes(g)
	if err != nil {
		panic(err)
	}
	out[0] = edwards25519.NewIdentityPoint()
	for i := 1; i < len(out); i++ {
		out[i] = new(edwards25519.Point).Add(out[i-1], p)
	}
	return out
})

// torsion returns the i-th of the eight points of order dividing 8, for
// 0 ≤ i ≤ 8 (the ninth is the identity again).
func torsion(t testing.TB, i int) *edwards25519.Point {
	return new(edwards25519.Point).Set(torsionPoints()[i])
}

func TestTorsionGenerator(t *testing.T) {
	p := torsion(t, 1)
	if p.Equal(edwards25519.NewIdentityPoint()) == 1 {
		t.Fatal("generator is the identity")
	}
	q := torsion(t, 4)
	if q.Equal(edwards25519.NewIdentityPoint()) == 1 {
		t.Fatal("generator has order below 8")
	}
	if torsion(t, 8).Equal(edwards25519.NewIdentityPoint()) != 1 {
		t.Fatal("generator does not have order 8")
	}
}

func TestNAF(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		z := randScalar128(rng)
		for w := uint(2); w <= 8; w++ {
			var naf [nafLen]int8
			nafVarTime(&naf, &z, w)
			sum := new(big.Int)
			last := -int(w)
			for i := nafLen - 1; i >= 0; i-- {
				sum.Lsh(sum, 1)
				d := int(naf[i])
				if d == 0 {
					continue
				}
				if d%2 == 0 || d <= -(1<<(w-1)) || d >= 1<<(w-1) {
					t.Fatalf("w=%d: digit %d at %d out of range", w, d, i)
				}
				if last >= 0 && last-i < int(w) {
					t.Fatalf("w=%d: digits at %d and %d too close", w, i, last)
				}
				last = i
				sum.Add(sum, big.NewInt(int64(d)))
			}
			if sum.Cmp(z.big()) != 0 {
				t.Fatalf("w=%d: NAF of %x sums to %x", w, z.big(), sum)
			}
		}
	}
}

func TestSignedDigits(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		z := randScalar128(rng)
		for c := uint(2); c <= 16; c++ {
			nw := pippengerWindows(c)
			top := 128 - c*(nw-1)
			sum := new(big.Int)
			for j := int(nw) - 1; j >= 0; j-- {
				d := z.signedDigit(uint(j), c, nw)
				if j == int(nw)-1 {
					if d < 0 || d > 1<<top {
						t.Fatalf("c=%d: top digit %d out of range", c, d)
					}
				} else if d < -(1<<(c-1)) || d > 1<<(c-1) {
					t.Fatalf("c=%d: digit %d out of range", c, d)
				}
				sum.Lsh(sum, c)
				sum.Add(sum, big.NewInt(int64(d)))
			}
			if sum.Cmp(z.big()) != 0 {
				t.Fatalf("c=%d: digits of %x sum to %x", c, z.big(), sum)
			}
		}
	}
}

// msmReference computes Σ zs[i]·ps[i] with edwards25519.
func msmReference(t testing.TB, ps []*edwards25519.Point, zs []scalar128) *edwards25519.Point {
	scalars := make([]*edwards25519.Scalar, len(zs))
	for i := range zs {
		scalars[i] = zs[i].scalar(t)
	}
	return new(edwards25519.Point).VarTimeMultiScalarMult(scalars, ps)
}

func affineOf(ps []*edwards25519.Point) []affinePoint {
	ext := make([]extPoint, len(ps))
	for i, p := range ps {
		ext[i] = toExt(p)
	}
	out := make([]affinePoint, len(ps))
	normalizeAffine(out, ext, make([]field.Element, len(ps)))
	return out
}

func TestMultiScalarMult(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{0, 1, 2, 3, 10, 40, 100} {
		ps := make([]*edwards25519.Point, n)
		zs := make([]scalar128, n)
		for i := range ps {
			ps[i] = randPoint(t, rng)
			zs[i] = randScalar128(rng)
		}
		want := msmReference(t, ps, zs)
		aff := affineOf(ps)

		// Straus with the points as R terms.
		tables := make([]rTable, n)
		nafs := make([][nafLen]int8, n)
		for i := range aff {
			tables[i].setVarTime(&aff[i])
			nafVarTime(&nafs[i], &zs[i], rWindow)
		}
		var got extPoint
		strausVarTime(&got, nil, tables, nafs)
		if fromExt(t, &got).Equal(want) != 1 {
			t.Errorf("n=%d: Straus over R terms differs", n)
		}

		// Straus with the points as fixed terms.
		fixed := make([]fixedTerm, n)
		for i := range ps {
			fixed[i].table = make([]affinePoint, 1<<(keyWindow-2))
			e := toExt(ps[i])
			oddMultiplesVarTime(fixed[i].table, &e)
			nafVarTime(&fixed[i].naf, &zs[i], keyWindow)
		}
		strausVarTime(&got, fixed, nil, nil)
		if fromExt(t, &got).Equal(want) != 1 {
			t.Errorf("n=%d: Straus over fixed terms differs", n)
		}

		// Pippenger at every window width, with the last points as extras.
		var w pippenger
		for c := uint(2); c <= 16; c++ {
			split := n * 2 / 3
			extra := make([]extraTerm, 0, n-split)
			for i := split; i < n; i++ {
				extra = append(extra, extraTerm{&aff[i], zs[i]})
			}
			w.multVarTime(&got, aff[:split], zs[:split], extra, c)
			if fromExt(t, &got).Equal(want) != 1 {
				t.Errorf("n=%d c=%d: Pippenger differs", n, c)
			}
		}
	}
}

func TestPointArithmetic(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for range 50 {
		p, q := randPoint(t, rng), randPoint(t, rng)
		pe, qe := toExt(p), toExt(q)
		aff := affineOf([]*edwards25519.Point{q})[0]
		var r extPoint
		if fromExt(t, r.add(&pe, &qe)).Equal(new(edwards25519.Point).Add(p, q)) != 1 {
			t.Fatal("add")
		}
		if fromExt(t, r.sub(&pe, &qe)).Equal(new(edwards25519.Point).Subtract(p, q)) != 1 {
			t.Fatal("sub")
		}
		if fromExt(t, r.addAffine(&pe, &aff)).Equal(new(edwards25519.Point).Add(p, q)) != 1 {
			t.Fatal("addAffine")
		}
		var c completedPoint
		if fromExt(t, r.fromCompleted(c.subAffine(&pe, &aff))).Equal(new(edwards25519.Point).Subtract(p, q)) != 1 {
			t.Fatal("subAffine")
		}
		if fromExt(t, r.fromAffine(&aff)).Equal(q) != 1 {
			t.Fatal("fromAffine")
		}
		if fromExt(t, r.double(&pe)).Equal(new(edwards25519.Point).Add(p, p)) != 1 {
			t.Fatal("double")
		}
		if fromExt(t, r.doubleN(&pe, 3)).Equal(new(edwards25519.Point).MultByCofactor(p)) != 1 {
			t.Fatal("doubleN")
		}
		neg := aff
		neg.negate()
		if fromExt(t, r.fromAffine(&neg)).Equal(new(edwards25519.Point).Negate(q)) != 1 {
			t.Fatal("negate")
		}
		if pe.cofactorClears() != (new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1) {
			t.Fatal("cofactorClears")
		}
	}
	for i := range 8 {
		e := toExt(torsion(t, i))
		if !e.cofactorClears() {
			t.Fatalf("torsion point %d: cofactor does not clear it", i)
		}
	}
}

func TestConstants(t *testing.T) {
	var m1 field.Element
	m1.Negate(feOne)
	if new(field.Element).Square(sqrtM1).Equal(&m1) != 1 {
		t.Error("sqrtM1² ≠ −1")
	}
	d := new(field.Element).Multiply(curveD, feFromUint64(121666))
	if d.Add(d, feFromUint64(121665)).Equal(&feZero) != 1 {
		t.Error("d·121666 + 121665 ≠ 0")
	}
	if new(field.Element).Multiply(curveD, curveDInv).Equal(feOne) != 1 {
		t.Error("d·(1/d) ≠ 1")
	}
}

// TestDecodeMatchesEdwards25519 compares decoding with edwards25519's
// lenient SetBytes on random and structured encodings: they must agree
// wherever the encoding is canonical.
func TestDecodeMatchesEdwards25519(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for i := range 20000 {
		var b [32]byte
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		switch i % 4 {
		case 1: // small y, either sign
			clear(b[1:31])
			b[31] &= 0x80
		case 2: // y near p
			for j := 1; j < 31; j++ {
				b[j] = 0xff
			}
			b[31] |= 0x7f
		}
		var x, y field.Element
		got := decodeVarTime(&x, &y, &b)
		p, err := new(edwards25519.Point).SetBytes(b[:])
		want := err == nil && [32]byte(p.Bytes()) == b
		if got != want {
			t.Fatalf("%x: decode %v, edwards25519 canonical %v", b, got, want)
		}
		if got {
			e := extPoint{X: x, Y: y}
			e.Z.One()
			e.T.Multiply(&x, &y)
			if fromExt(t, &e).Equal(p) != 1 {
				t.Fatalf("%x: decoded to a different point", b)
			}
		}
	}
}

func TestDecode(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for range 200 {
		p := randPoint(t, rng)
		enc := (*[32]byte)(p.Bytes())
		var x, y field.Element
		if !decodeVarTime(&x, &y, enc) {
			t.Fatalf("canonical encoding %x rejected", enc)
		}
		var e extPoint
		e.X, e.Y = x, y
		e.Z.One()
		e.T.Multiply(&x, &y)
		if fromExt(t, &e).Equal(p) != 1 {
			t.Fatal("decoded point differs")
		}
	}
	// Every y ≥ p, with both signs, is rejected.
	for v := 0; v < 19; v++ {
		for _, sign := range []byte{0, 0x80} {
			var b [32]byte
			b[0] = byte(0xed + v)
			for i := 1; i < 31; i++ {
				b[i] = 0xff
			}
			b[31] = 0x7f | sign
			if isCanonicalY(&b) {
				t.Errorf("y = p+%d accepted as canonical", v)
			}
			var x, y field.Element
			if decodeVarTime(&x, &y, &b) {
				t.Errorf("non-canonical %x decoded", b)
			}
		}
	}
	// p − 1 is canonical (the point (0, −1)), but not with the sign bit.
	pm1 := mustHex(t, "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
	var x, y field.Element
	if !decodeVarTime(&x, &y, (*[32]byte)(pm1)) {
		t.Error("(0, -1) rejected")
	}
	pm1[31] |= 0x80
	if decodeVarTime(&x, &y, (*[32]byte)(pm1)) {
		t.Error("(0, -1) with the sign bit accepted")
	}
	one := mustHex(t, "0100000000000000000000000000000000000000000000000000000000000080")
	if decodeVarTime(&x, &y, (*[32]byte)(one)) {
		t.Error("identity with the sign bit accepted")
	}
}

func TestScalarHelpers(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	lMinus1 := [32]byte(scalarL)
	lMinus1[0]--
	edge := [][32]byte{{}, [32]byte(scalarL), lMinus1, {0xff, 0xff}}
	full := [32]byte{}
	for i := range full {
		full[i] = 0xff
	}
	edge = append(edge, full)
	for i := range 5000 {
		var b [32]byte
		if i < len(edge) {
			b = edge[i]
		} else {
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
			if i%2 == 0 {
				b[31] &= 0x1f // mostly below L
			}
		}
		_, err := edwards25519.NewScalar().SetCanonicalBytes(b[:])
		if got := isCanonicalScalar(&b); got != (err == nil) {
			t.Fatalf("isCanonicalScalar(%x) = %v", b, got)
		}
	}

	// wideAcc against edwards25519 scalar arithmetic, with the largest
	// operands the accumulator can meet.
	for range 200 {
		var acc wideAcc
		want := edwards25519.NewScalar()
		for range 1 + rng.IntN(300) {
			z := randScalar128(rng)
			var s [32]byte
			for j := range s {
				s[j] = byte(rng.Uint32())
			}
			if rng.IntN(3) == 0 {
				s = full
			}
			acc.mulAdd(&z, &s)
			var wide [64]byte
			copy(wide[:], s[:])
			sv, _ := edwards25519.NewScalar().SetUniformBytes(wide[:])
			want.MultiplyAdd(z.scalar(t), sv, want)
		}
		if got := acc.reduce(); got != [32]byte(want.Bytes()) {
			t.Fatalf("wideAcc: %x, want %x", got, want.Bytes())
		}
	}
}
