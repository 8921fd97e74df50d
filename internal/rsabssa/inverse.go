package rsabssa

import "math/bits"

// This file holds a variable-time modular inverse on little-endian word
// slices, for the one inversion of a holder's Blind. It runs in time that
// depends on its input, so it must only see values that are public or, as
// in Blind, uniformly random and independent of every secret: Blind inverts
// w = m × r × u for a fresh random unit u, never r itself (see blind).
//
// bigmod's own InverseVarTime is a binary extended GCD that works one bit at
// a time over the full width, which makes it more than ten times slower than
// this on 2048-bit moduli; math/big's ModInverse allocates some twenty times
// per call. This is Lehmer's algorithm in the form of Knuth, TAOCP vol. 2,
// section 4.5.2, Algorithm L, with the cofactors of the extended algorithm,
// working in scratch space on the stack.

const (
	wordBits = bits.UintSize

	// leadBits is the size of the leading-bit approximations that Lehmer's
	// algorithm runs Euclid's algorithm on in single precision. Two bits of
	// headroom keep every sum and cofactor of the simulation below 2^W.
	leadBits = wordBits - 2

	// maxCoef bounds the cofactors of one simulated run, so that they are
	// single words for the multi-word updates.
	maxCoef = 1<<leadBits - 1

	// invStackWords is the scratch space that inverseVarTime keeps on the
	// stack: nine numbers of up to 65 words, enough for 4096-bit moduli on
	// 64-bit platforms and 2048-bit ones on 32-bit platforms.
	invStackWords = 9 * 66
)

// inverseVarTime sets dst to a⁻¹ mod n and reports whether a is invertible
// modulo n. a, n and dst have the same number of words, with a < n and n
// odd and above one. When it returns false, dst is unspecified.
//
// It runs the extended Euclidean algorithm on (n, a), keeping for each
// remainder x only the magnitude of its cofactor t (t × a ≡ ±x mod n): the
// signs of consecutive cofactors alternate, so one flag tells them apart and
// every cofactor update is an addition.
func inverseVarTime(dst, a, n []uint) bool {
	size := len(n) + 1 // one word of headroom for the products
	var stack [invStackWords]uint
	var work []uint
	if 9*size <= len(stack) {
		work = stack[:9*size]
	} else {
		work = make([]uint, 9*size)
	}
	next := func() []uint {
		w := work[:size:size]
		work = work[size:]
		return w
	}
	u, v, tu, tv := next(), next(), next(), next()
	nu, nv, ntu, ntv, tmp := next(), next(), next(), next(), next()

	// Start from the remainders n and a, with cofactors 0 and 1. uNeg is the
	// sign of u's cofactor (that of v's is the opposite); the cofactor of n
	// is zero, so its sign is a convention that makes a's positive.
	copy(u, n)
	copy(v, a)
	tv[0] = 1
	uNeg := true

	for !wordsIsZero(v) {
		uLen := wordsBitLen(u)
		if uLen <= wordBits {
			// Both remainders fit in one word: finish in single precision.
			// The cofactors of this last run are at most u, so one word.
			x, y := u[0], v[0]
			ca, cb, cc, cd := uint(1), uint(0), uint(0), uint(1)
			steps := 0
			for y != 0 {
				q := x / y
				x, y = y, x-q*y
				ca, cb, cc, cd = cc, cd, ca+q*cc, cb+q*cd
				steps++
			}
			clear(u)
			u[0] = x
			wordsMul(ntu, tu, ca)
			if wordsAddMul(ntu, tv, cb) != 0 {
				return false
			}
			tu, ntu = ntu, tu
			if steps%2 == 1 {
				uNeg = !uNeg
			}
			break
		}

		shift := uint(uLen - leadBits)
		a, b, c, d, steps := lehmerSimulate(wordsRsh(u, shift), wordsRsh(v, shift))
		if steps == 0 {
			// The leading bits do not settle even the next quotient (it is
			// too large, or too close to an integer): do that one step in
			// full precision.
			euclidStep(u, v, tu, tv, tmp)
			u, v = v, u
			tu, tv = tv, tu
			uNeg = !uNeg
			continue
		}

		// Apply the simulated steps to the full remainders. After an even
		// number of steps u' = a·u − b·v and v' = d·v − c·u; after an odd
		// number, the signs are the other way around. The cofactors of
		// consecutive remainders have opposite signs, so theirs add up.
		//
		// Only the words in use are processed: the new remainders are below
		// u, so they fit in its words; the cofactors grow, by at most one
		// word, and stay below n. tv ≥ tu, so tv's words cover both.
		rw := wordsLen(u)
		tw := min(wordsLen(tv)+1, size)
		var bad uint
		if steps%2 == 0 {
			bad = wordsMulSub(nu[:rw], u, a, v, b)
			bad |= wordsMulSub(nv[:rw], v, d, u, c)
		} else {
			bad = wordsMulSub(nu[:rw], v, b, u, a)
			bad |= wordsMulSub(nv[:rw], u, c, v, d)
			uNeg = !uNeg
		}
		bad |= wordsMulAdd(ntu[:tw], tu, a, tv, b)
		bad |= wordsMulAdd(ntv[:tw], tu, c, tv, d)
		if bad != 0 {
			// Knuth's test makes every simulated quotient exact, so the
			// remainders stay non-negative and the cofactors below n; this
			// is not reachable.
			return false
		}
		// Clear what the buffers held above the words just written.
		clear(nu[rw:])
		clear(nv[rw:])
		clear(ntu[tw:])
		clear(ntv[tw:])
		u, nu = nu, u
		v, nv = nv, v
		tu, ntu = ntu, tu
		tv, ntv = ntv, tv
	}

	// u is now gcd(a, n), and ±tu × a ≡ u (mod n).
	if !wordsIsOne(u) || wordsIsZero(tu) || tu[len(n)] != 0 || wordsCmp(tu[:len(n)], n) >= 0 {
		return false
	}
	if uNeg {
		// The inverse is −tu mod n = n − tu.
		copy(tmp, n)
		tmp[len(n)] = 0
		wordsSub(tmp, tu)
		copy(dst, tmp[:len(n)])
	} else {
		copy(dst, tu[:len(n)])
	}
	return true
}

// lehmerSimulate runs Euclid's algorithm on x ≥ y, the leading bits of two
// remainders u and v (x = ⌊u / 2^k⌋ and y = ⌊v / 2^k⌋ for some k), for as
// long as Knuth's test proves that each quotient is also that of the full
// remainders. It returns the magnitudes of the cofactor matrix of the steps
// taken, such that after them u' = ±(a·u − b·v) and v' = ±(d·v − c·u), the
// first sign being + after an even number of steps.
//
// The test: with Knuth's signed cofactors (A, B, C, D), the current full
// remainders are u' = A·u + B·v and v' = C·u + D·v, and the current leading
// parts x' and y' are the same combinations of x and y. Since u and v exceed
// 2^k·x and 2^k·y by less than 2^k, u'/v' lies between (x' + B)/(y' + D) and
// (x' + A)/(y' + C). If both bounds have the same integer part, so does
// u'/v', and the step is that of the full algorithm.
func lehmerSimulate(x, y uint) (a, b, c, d uint, steps int) {
	a, d = 1, 1
	for {
		// Knuth's A and D have the sign (−1)^steps, B and C the other.
		var num1, den1, num2, den2 uint
		if steps%2 == 0 {
			if y < c || x < b {
				return
			}
			num1, den1 = x+a, y-c // upper bound (x' + A)/(y' + C)
			num2, den2 = x-b, y+d // lower bound (x' + B)/(y' + D)
		} else {
			if x < a || y < d {
				return
			}
			num1, den1 = x+b, y-d // upper bound (x' + B)/(y' + D)
			num2, den2 = x-a, y+c // lower bound (x' + A)/(y' + C)
		}
		if den1 == 0 || den2 == 0 {
			return
		}
		// Most quotients are small; one is the most frequent.
		var q uint
		if num1-den1 < den1 {
			q = 1
		} else {
			q = num1 / den1
		}
		// The lower bound must have the same quotient q:
		// q·den2 ≤ num2 < (q+1)·den2.
		hi, lo := bits.Mul(q, den2)
		if q == 0 || hi != 0 || lo > num2 || num2-lo >= den2 {
			return
		}
		// The new cofactors must stay single words below maxCoef.
		hc, qc := bits.Mul(q, c)
		hd, qd := bits.Mul(q, d)
		if hc|hd != 0 || qc > maxCoef-a || qd > maxCoef-b {
			return
		}
		hy, qy := bits.Mul(q, y)
		if hy != 0 || qy > x {
			return // cannot happen once the lower bound holds
		}
		x, y = y, x-qy
		a, b, c, d = c, d, a+qc, b+qd
		steps++
	}
}

// euclidStep sets (u, v) to (u mod v, v) and tu to tu + ⌊u / v⌋·tv, by binary
// long division, for the rare quotients that lehmerSimulate cannot settle.
// v is not zero; tmp is scratch of the same size. The caller swaps u and v.
func euclidStep(u, v, tu, tv, tmp []uint) {
	vLen := wordsBitLen(v)
	for wordsCmp(u, v) >= 0 {
		// Subtract the largest v·2^s that fits in u, and add tv·2^s to the
		// cofactor. Each pass clears the top bit of the remaining quotient.
		s := wordsBitLen(u) - vLen
		wordsShl(tmp, v, uint(s))
		if wordsCmp(tmp, u) > 0 {
			s--
			wordsShl(tmp, v, uint(s))
		}
		wordsSub(u, tmp)
		// tu + ⌊u / v⌋·tv is the next cofactor, below n: no overflow.
		wordsShl(tmp, tv, uint(s))
		wordsAdd(tu, tmp)
	}
}

// The helpers below work on little-endian word slices of equal length and
// run in variable time.

func wordsIsZero(x []uint) bool {
	for _, w := range x {
		if w != 0 {
			return false
		}
	}
	return true
}

func wordsIsOne(x []uint) bool {
	return len(x) > 0 && x[0] == 1 && wordsIsZero(x[1:])
}

// wordsLen returns the number of words of x up to its top non-zero one.
func wordsLen(x []uint) int {
	for i := len(x) - 1; i >= 0; i-- {
		if x[i] != 0 {
			return i + 1
		}
	}
	return 0
}

func wordsBitLen(x []uint) int {
	for i := len(x) - 1; i >= 0; i-- {
		if x[i] != 0 {
			return i*wordBits + bits.Len(x[i])
		}
	}
	return 0
}

// wordsCmp returns -1, 0 or +1 as x is below, equal to or above y.
func wordsCmp(x, y []uint) int {
	for i := len(x) - 1; i >= 0; i-- {
		switch {
		case x[i] < y[i]:
			return -1
		case x[i] > y[i]:
			return 1
		}
	}
	return 0
}

// wordsRsh returns the word of x that starts at bit s: ⌊x / 2^s⌋ mod 2^W.
func wordsRsh(x []uint, s uint) uint {
	i, off := s/wordBits, s%wordBits
	w := x[i] >> off
	if off != 0 && int(i)+1 < len(x) {
		w |= x[i+1] << (wordBits - off)
	}
	return w
}

// wordsShl sets z = x·2^s; the bits shifted past the end of z are dropped.
func wordsShl(z, x []uint, s uint) {
	ws, bs := int(s/wordBits), s%wordBits
	for i := len(z) - 1; i >= 0; i-- {
		j := i - ws
		var w uint
		if j >= 0 {
			w = x[j] << bs
			if bs != 0 && j > 0 {
				w |= x[j-1] >> (wordBits - bs)
			}
		}
		z[i] = w
	}
}

// wordsAdd sets z += x and returns the carry.
func wordsAdd(z, x []uint) uint {
	var c uint
	for i := range z {
		z[i], c = bits.Add(z[i], x[i], c)
	}
	return c
}

// wordsSub sets z −= x and returns the borrow.
func wordsSub(z, x []uint) uint {
	var b uint
	for i := range z {
		z[i], b = bits.Sub(z[i], x[i], b)
	}
	return b
}

// wordsMul sets z = x·y and returns the carry out of the last word.
func wordsMul(z, x []uint, y uint) uint {
	var c uint
	for i := range z {
		hi, lo := bits.Mul(x[i], y)
		var cc uint
		z[i], cc = bits.Add(lo, c, 0)
		c = hi + cc
	}
	return c
}

// wordsAddMul sets z += x·y and returns the carry out of the last word.
func wordsAddMul(z, x []uint, y uint) uint {
	var c uint
	for i := range z {
		hi, lo := bits.Mul(x[i], y)
		var c1, c2 uint
		lo, c1 = bits.Add(lo, c, 0)
		z[i], c2 = bits.Add(z[i], lo, 0)
		c = hi + c1 + c2
	}
	return c
}

// wordsMulSub sets z = a·x − b·y over the len(z) low words of x and y, in
// one pass, for a and b below 2^(W−1). It returns zero if and only if the
// result is non-negative and fits in z.
func wordsMulSub(z, x []uint, a uint, y []uint, b uint) uint {
	x, y = x[:len(z)], y[:len(z)]
	var cx, cy uint // carries of the a·x and b·y chains (the borrow joins cy)
	for i := range z {
		hx, lx := bits.Mul(x[i], a)
		hy, ly := bits.Mul(y[i], b)
		var k, br uint
		lx, k = bits.Add(lx, cx, 0)
		cx = hx + k
		ly, k = bits.Add(ly, cy, 0)
		z[i], br = bits.Sub(lx, ly, 0)
		cy = hy + k + br
	}
	return cx ^ cy
}

// wordsMulAdd sets z = a·x + b·y over the len(z) low words of x and y, in
// one pass, for a and b below 2^(W−1). It returns zero if and only if the
// result fits in z.
func wordsMulAdd(z, x []uint, a uint, y []uint, b uint) uint {
	x, y = x[:len(z)], y[:len(z)]
	var cx, cy uint // carries of the a·x and b·y chains (the sum's joins cy)
	for i := range z {
		hx, lx := bits.Mul(x[i], a)
		hy, ly := bits.Mul(y[i], b)
		var k, c uint
		lx, k = bits.Add(lx, cx, 0)
		cx = hx + k
		ly, k = bits.Add(ly, cy, 0)
		z[i], c = bits.Add(lx, ly, 0)
		cy = hy + k + c
	}
	return cx | cy
}
