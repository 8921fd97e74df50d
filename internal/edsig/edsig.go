// Package edsig verifies Ed25519 signatures, one at a time with [Verify] or
// many at once with [Batch], under one fixed set of rules that the two
// always agree on.
//
// A signature (R, s) on message M under the public key A is valid iff
//
//   - the key A is the canonical encoding of a curve point that is not of
//     small order (checked once, by [NewPublicKey]);
//   - R is the canonical encoding of a curve point (y < p, and not the
//     encoding with x = 0 and the sign bit set); R may be of small order;
//   - s is canonical, s < L;
//   - [8][s]B = [8]R + [8][k]A, with k = SHA-512(R || A || M) mod L computed
//     over the encodings of R and A exactly as given.
//
// These are the rules of RFC 8032, section 5.1.7, with the cofactored
// equation and canonical encodings, and they match curve25519-voi's
// VerifyOptionsDefault. They differ from crypto/ed25519, whose equation has
// no cofactor: under crypto/ed25519 a batch verifier can disagree with the
// single one on crafted signatures.
//
// Most users want a [Batch]: Add each signature, then Verify them all at
// once for a fraction of the cost of verifying each one.
//
// # Security considerations
//
// Batch verification draws random 128-bit weights for every call. A batch
// reports an invalid signature as valid only if a weight hits one bad value
// in one of the at most log₂(n)+1 checks that the signature takes part in:
// with probability below 2⁻¹²⁰. The weights must be unpredictable to whoever
// made the signatures, so they are derived by hashing a seed from
// crypto/rand together with every signature, key and message of the batch:
// even a predictable crypto/rand leaves them out of the signers' control.
// If crypto/rand fails, [Batch.Verify] returns an error and accepts nothing.
//
// All arithmetic here is variable-time. That is sound because verification
// handles public values only: keys, messages, signatures and the weights
// above, which are used once and never leave the call.
package edsig

import (
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"sync"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

const (
	// PublicKeySize is the size of an encoded public key.
	PublicKeySize = 32
	// SignatureSize is the size of an encoded signature, R || s.
	SignatureSize = 64
)

// ErrInvalidKey is returned by NewPublicKey for an encoding that is not
// an acceptable public key.
var ErrInvalidKey = errors.New("edsig: invalid public key")

// invalidKey is an error wrapping ErrInvalidKey whose text is the reason alone, for the
// public packages to put in their own words without cutting text apart.
type invalidKey string

func (e invalidKey) Error() string { return string(e) }
func (e invalidKey) Unwrap() error { return ErrInvalidKey }

// PublicKey is a validated Ed25519 public key with its precomputed tables.
// It is immutable and safe for concurrent use.
type PublicKey struct {
	valid bool // set by NewPublicKey; a zero PublicKey verifies nothing
	enc   [PublicKeySize]byte
	// negA and negA128 hold the odd multiples of −A and of −[2¹²⁸]A in
	// affine form; negA[0] is −A itself.
	negA, negA128 [1 << (keyWindow - 2)]affinePoint
}

// NewPublicKey decodes and validates an encoded Ed25519 public key. It
// accepts only the canonical encoding of a point that is not of small
// order, and does the per-key precomputation that verification relies on.
// The error wraps [ErrInvalidKey].
func NewPublicKey(b []byte) (*PublicKey, error) {
	var a extPoint
	if err := decodePublicKey(&a, b); err != nil {
		return nil, err
	}
	pk := new(PublicKey)
	copy(pk.enc[:], b)
	// Negate once here so that every equation adds the key terms.
	a.X.Negate(&a.X)
	a.T.Negate(&a.T)
	var a128 extPoint
	a128.doubleN(&a, 128)
	oddMultiplesVarTime(pk.negA[:], &a)
	oddMultiplesVarTime(pk.negA128[:], &a128)
	pk.valid = true
	return pk, nil
}

// CheckPublicKey applies NewPublicKey's rules to b without the per-key
// precomputation, for callers that only validate keys. The error wraps
// [ErrInvalidKey].
func CheckPublicKey(b []byte) error {
	var a extPoint
	return decodePublicKey(&a, b)
}

// decodePublicKey sets a to the point b encodes, if b is the canonical
// encoding of a point that is not of small order.
func decodePublicKey(a *extPoint, b []byte) error {
	if len(b) != PublicKeySize {
		return invalidKey(fmt.Sprintf("length %d, want %d", len(b), PublicKeySize))
	}
	enc := [PublicKeySize]byte(b)
	if !decodeVarTime(&a.X, &a.Y, &enc) {
		return invalidKey("not the canonical encoding of a curve point")
	}
	a.Z.One()
	a.T.Multiply(&a.X, &a.Y)
	if a.cofactorClears() {
		return invalidKey("point of small order")
	}
	return nil
}

// Bytes returns the 32-byte encoding of the key, as given to NewPublicKey.
func (pk *PublicKey) Bytes() []byte {
	b := pk.enc
	return b[:]
}

// isCanonicalY reports whether the y coordinate encoded in b, with the sign
// bit ignored, is below p = 2²⁵⁵ − 19.
func isCanonicalY(b *[32]byte) bool {
	if b[31]&0x7f != 0x7f {
		return true
	}
	for i := 30; i > 0; i-- {
		if b[i] != 0xff {
			return true
		}
	}
	return b[0] < 0xed
}

// decodeVarTime sets (x, y) to the point encoded by b, following RFC 8032,
// section 5.1.3, and reports whether b is the canonical encoding of a curve
// point: y < p, and the sign bit is clear when x = 0.
func decodeVarTime(x, y *field.Element, b *[32]byte) bool {
	var d decoder
	if !d.start(b) {
		return false
	}
	d.t.Pow22523(&d.t)
	if !d.finish(x, b) {
		return false
	}
	y.Set(&d.y)
	return true
}

// decoder holds one point decoding across its field exponentiation, so
// that two decodings can share the exponentiation's schedule.
//
// x² = u/v = (y² − 1) / (d·y² + 1). The candidate root is
// r = u·v³·(u·v⁷)^((p−5)/8); then v·r² is u, or −u and r·√−1 is a root,
// or neither and u/v is not a square.
type decoder struct {
	y, u, v, uv3 field.Element
	t            field.Element // u·v⁷, then (u·v⁷)^((p−5)/8)
}

// start sets y from b and t = u·v⁷, and reports whether y is canonical.
func (d *decoder) start(b *[32]byte) bool {
	if !isCanonicalY(b) {
		return false
	}
	if _, err := d.y.SetBytes(b[:]); err != nil {
		return false
	}
	var v2 field.Element
	d.t.Square(&d.y)
	d.u.Subtract(&d.t, feOne)
	d.v.Multiply(&d.t, curveD)
	d.v.Add(&d.v, feOne)
	v2.Square(&d.v)
	d.uv3.Multiply(&v2, &d.v)
	d.uv3.Multiply(&d.uv3, &d.u)
	d.t.Square(&v2)
	d.t.Multiply(&d.t, &d.uv3) // u·v⁷
	return true
}

// finish sets x to the root whose parity is b's sign bit, given
// t = (u·v⁷)^((p−5)/8), and reports whether there is one.
func (d *decoder) finish(x *field.Element, b *[32]byte) bool {
	var check, t field.Element
	x.Multiply(&d.uv3, &d.t)
	check.Multiply(&d.v, t.Square(x))
	cb := [32]byte(check.Bytes())
	if cb != [32]byte(d.u.Bytes()) {
		t.Negate(&d.u)
		if [32]byte(t.Bytes()) != cb {
			return false
		}
		x.Multiply(x, sqrtM1)
	}
	// Pick the root whose parity is the sign bit; x = 0 has no negative.
	xb := [32]byte(x.Bytes())
	sign := b[31] >> 7
	if sign == 1 && xb == [32]byte{} {
		return false
	}
	if xb[0]&1 != sign {
		x.Negate(x)
	}
	return true
}

// setNeg sets r to −(x, y) in affine form.
func (r *affinePoint) setNeg(x, y *field.Element) *affinePoint {
	var t field.Element
	// −R = (−x, y): y+(−x) = y−x, y−(−x) = y+x.
	r.YplusX.Subtract(y, x)
	r.YminusX.Add(y, x)
	t.Multiply(x, y)
	r.T2d.Multiply(&t, curveD2)
	r.T2d.Negate(&r.T2d)
	return r
}

// decodeNegVarTime sets r to −R, for the point R encoded by b, and reports
// whether b is a canonical point encoding.
func decodeNegVarTime(r *affinePoint, b *[32]byte) bool {
	var x, y field.Element
	if !decodeVarTime(&x, &y, b) {
		return false
	}
	r.setNeg(&x, &y)
	return true
}

// decodeNegPairVarTime is decodeNegVarTime on two encodings at once, with
// their exponentiations interleaved by pow22523Pair.
func decodeNegPairVarTime(r0, r1 *affinePoint, b0, b1 *[32]byte) (ok0, ok1 bool) {
	var d0, d1 decoder
	if !d0.start(b0) {
		return false, decodeNegVarTime(r1, b1)
	}
	if !d1.start(b1) {
		return decodeNegVarTime(r0, b0), false
	}
	pow22523Pair(&d0.t, &d1.t)
	var x field.Element
	if ok0 = d0.finish(&x, b0); ok0 {
		r0.setNeg(&x, &d0.y)
	}
	if ok1 = d1.finish(&x, b1); ok1 {
		r1.setNeg(&x, &d1.y)
	}
	return ok0, ok1
}

// decodeNegPairsVarTime sets out[i] to −R for the point R encoded by
// enc[i], two points at a time, and appends base+i to dropped for each
// enc[i] that is not a canonical point encoding.
func decodeNegPairsVarTime(out []affinePoint, enc [][32]byte, base int, dropped []int32) []int32 {
	i := 0
	for ; i+1 < len(enc); i += 2 {
		ok0, ok1 := decodeNegPairVarTime(&out[i], &out[i+1], &enc[i], &enc[i+1])
		if !ok0 {
			dropped = append(dropped, int32(base+i))
		}
		if !ok1 {
			dropped = append(dropped, int32(base+i+1))
		}
	}
	if i < len(enc) && !decodeNegVarTime(&out[i], &enc[i]) {
		dropped = append(dropped, int32(base+i))
	}
	return dropped
}

// parsed is what verification needs from one signature: −R, and s and k
// as 32-byte little-endian integers below L.
type parsed struct {
	negR affinePoint
	s, k [32]byte
}

// hasher computes challenges. Its digest buffer lives with it so that a
// Sum through the hash.Hash interface does not allocate.
type hasher struct {
	h      hash.Hash
	digest [sha512.Size]byte
}

func newHasher() *hasher { return &hasher{h: sha512.New()} }

// challenge sets k = SHA-512(R || A || msg) mod L, RFC 8032, section 5.1.7,
// step 2, over the encodings r and a as given.
func (h *hasher) challenge(k *[32]byte, r, a, msg []byte) {
	h.h.Reset()
	h.h.Write(r)
	h.h.Write(a)
	h.h.Write(msg)
	var ks edwards25519.Scalar
	if _, err := ks.SetUniformBytes(h.h.Sum(h.digest[:0])); err != nil {
		panic("edsig: internal error: " + err.Error())
	}
	*k = [32]byte(ks.Bytes())
}

// splitSignature returns the encodings of R and s in sig, and reports
// whether they pass the checks that need no decoding: sig is 64 bytes,
// s < L, and R's y is below p.
func splitSignature(sig []byte) (r, s [32]byte, ok bool) {
	if len(sig) != SignatureSize {
		return r, s, false
	}
	r, s = [32]byte(sig[:32]), [32]byte(sig[32:])
	return r, s, isCanonicalScalar(&s) && isCanonicalY(&r)
}

// CheckSignatureEncoding reports whether sig has the encoding of a
// signature under the rules in the package documentation, as far as they
// can be checked without decoding a point: 64 bytes, s < L, and R's y
// coordinate below p. Whether R is on the curve is left to verification.
func CheckSignatureEncoding(sig []byte) bool {
	_, _, ok := splitSignature(sig)
	return ok
}

// parseVarTime checks the encodings of sig, computes its challenge with h,
// and reports whether sig is well formed: 64 bytes, s < L, and R the
// canonical encoding of a curve point.
func (p *parsed) parseVarTime(h *hasher, pk *PublicKey, msg, sig []byte) bool {
	r, s, ok := splitSignature(sig)
	if !ok || !decodeNegVarTime(&p.negR, &r) {
		return false
	}
	p.s = s
	h.challenge(&p.k, sig[:32], pk.enc[:], msg)
	return true
}

// checkVarTime reports whether [8]([s]B − R − [k]A) is the identity.
func checkVarTime(pk *PublicKey, negR *affinePoint, s, k *[32]byte) bool {
	bt := getBaseTables()
	sLo, sHi := split128(s)
	kLo, kHi := split128(k)
	var terms [4]fixedTerm
	terms[0].table = bt.b[:]
	nafVarTime(&terms[0].naf, &sLo, baseWindow)
	terms[1].table = bt.b128[:]
	nafVarTime(&terms[1].naf, &sHi, baseWindow)
	terms[2].table = pk.negA[:]
	nafVarTime(&terms[2].naf, &kLo, keyWindow)
	terms[3].table = pk.negA128[:]
	nafVarTime(&terms[3].naf, &kHi, keyWindow)
	var q extPoint
	strausVarTime(&q, terms[:], nil, nil)
	q.addAffine(&q, negR)
	return q.cofactorClears()
}

var hasherPool = sync.Pool{New: func() any { return newHasher() }}

// Verify reports whether sig is a valid signature of msg by pk under the
// rules in the package documentation (RFC 8032, section 5.1.7, with the
// cofactored equation). It returns false for a nil or zero key and for a
// signature that is not 64 bytes long. Verify is variable-time.
func Verify(pk *PublicKey, msg, sig []byte) bool {
	if pk == nil || !pk.valid {
		return false
	}
	h := hasherPool.Get().(*hasher)
	var p parsed
	ok := p.parseVarTime(h, pk, msg, sig)
	hasherPool.Put(h)
	return ok && checkVarTime(pk, &p.negR, &p.s, &p.k)
}
