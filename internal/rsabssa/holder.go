package rsabssa

import (
	"crypto/rand"
	"crypto/sha512"
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/bits"

	"filippo.io/bigmod"
)

// maxSampleAttempts bounds the rejection sampling of [Blind]'s random
// integers. A candidate is refused only when it is at least N (or zero);
// since N has its top bit set, each try succeeds with probability at least
// 1/2, so a sound source fails all 128 tries with probability below 2^-128,
// while a broken one cannot keep Blind looping.
const maxSampleAttempts = 128

// maxStackBytes is the largest modulus size, in bytes, for which the holder
// and the verifier keep their encoded messages on the stack; larger moduli
// (only the 4096-bit test vectors) get heap buffers.
const maxStackBytes = 512

// State is a holder's secret state between [Blind] and [Finalize]: the
// digest of the message and the inverse of the blinding factor. Anyone who
// sees it can link the blinded message to the final signature, so it must
// stay with the holder. The zero State is not valid. A State may be
// finalized more than once (with the same blind signature, the result is
// the same).
//
// State does not print its contents: every fmt verb gives the fixed text
// "rsabssa.State{...}". Its secrets sit two pointers deep, where fmt prints
// an address only, so that even a State in an unexported field of another
// struct, whose methods fmt cannot call, does not print them.
type State struct {
	pk  *PublicKey
	sec *secretRef
}

// secretRef keeps the secret one more pointer away: when fmt meets a
// pointer it cannot print as such, it prints what it points to, but it never
// follows the pointers found there.
type secretRef struct{ s *blindSecret }

// blindSecret is what Finalize needs besides the key.
type blindSecret struct {
	mHash [sha512.Size384]byte // SHA-384 of the message given to Blind
	inv   []byte               // r⁻¹ mod N, modulus-size big-endian

	// buf receives the random bytes of Blind (the salt, then the candidates
	// for r and for the mask u); it is then wiped and holds inv. Keys above
	// 2048 bits (only the 4096-bit test vectors) use a heap buffer instead.
	buf [saltLength + SignatureSize]byte
}

const redactedState = "rsabssa.State{...}"

// String returns a fixed text that reveals nothing of s.
func (s State) String() string { return redactedState }

// GoString returns a fixed text that reveals nothing of s.
func (s State) GoString() string { return redactedState }

// Format writes the same fixed text for every verb, so that no fmt verb
// (%x or %d included) prints the blinding secret.
func (s State) Format(f fmt.State, verb rune) { io.WriteString(f, redactedState) }

var (
	errNotInvertible   = errors.New("the message or the blinding factor is not invertible modulo N")
	errSamplingFailed  = errors.New("the random source gave no integer in [1, N) in 128 tries")
	errEncodingTooLong = errors.New("the modulus is too small for EMSA-PSS with SHA-384 and a 48-byte salt")
)

// Blind is the holder's first step of RFC 9474 (section 4.2, Blind, with
// the empty prepare prefix of the deterministic variant): it encodes msg
// with EMSA-PSS (SHA-384, a fresh 48-byte salt) and blinds it with a fresh
// factor r, both read from random. It returns the blinded message, to send
// to the issuer, and the state [Finalize] needs.
//
// random must be a cryptographically secure source such as crypto/rand's
// Reader. Blind reads the salt, then r as crypto/rand.Int does (modulus-size
// candidates, masked to the bit length of N, until one is below N; Blind
// also refuses zero, and gives up with an error after 128 candidates). The
// mask that hides r from the variable-time inversion is drawn from
// crypto/rand, whatever random is: it does not change the result. Errors
// wrap ErrBlind.
//
// Every operation on r and on its inverse runs in constant time (bigmod);
// see blind for the one variable-time step.
func Blind(pk *PublicKey, random io.Reader, msg []byte) (blinded []byte, state State, err error) {
	if pk == nil || random == nil {
		return nil, State{}, fmt.Errorf("%w: no key or no random source", ErrBlind)
	}
	size := pk.n.Size()

	sec := new(blindSecret)
	var buf []byte
	if saltLength+size <= len(sec.buf) {
		buf = sec.buf[:saltLength+size]
	} else {
		buf = make([]byte, saltLength+size)
	}
	salt, rBytes := buf[:saltLength], buf[saltLength:]
	if _, err := io.ReadFull(random, salt); err != nil {
		return nil, State{}, fmt.Errorf("%w: %w", ErrBlind, err)
	}
	r := bigmod.NewNat()
	if err := randomNonZero(r, pk.n, random, rBytes); err != nil {
		clear(buf)
		return nil, State{}, fmt.Errorf("%w: %w", ErrBlind, err)
	}
	u := bigmod.NewNat()
	if err := randomNonZero(u, pk.n, rand.Reader, rBytes); err != nil {
		clear(buf)
		return nil, State{}, fmt.Errorf("%w: %w", ErrBlind, err)
	}

	sec.mHash = sha512.Sum384(msg)
	blinded = make([]byte, size)
	inv := bigmod.NewNat()
	err = blind(pk, sec.mHash[:], salt, r, u, blinded, inv)
	clear(buf)
	clear(r.Bits())
	clear(u.Bits())
	if err != nil {
		clear(inv.Bits())
		return nil, State{}, fmt.Errorf("%w: %w", ErrBlind, err)
	}
	sec.inv = buf[:size:size]
	natToBytes(sec.inv, inv)
	clear(inv.Bits())
	return blinded, State{pk: pk, sec: &secretRef{sec}}, nil
}

// randomNonZero sets x to an integer drawn uniformly from [1, N) by
// rejection sampling: it reads len(buf) = N.Size() bytes at a time from
// random and clears the bits above N's length, as crypto/rand.Int does, and
// takes the first candidate in [1, N). The comparison with N is
// constant-time; refusing a candidate reveals nothing about the one kept.
func randomNonZero(x *bigmod.Nat, n *bigmod.Modulus, random io.Reader, buf []byte) error {
	topMask := byte(0xff)
	if b := n.BitLen() % 8; b != 0 {
		topMask = 1<<b - 1
	}
	for range maxSampleAttempts {
		if _, err := io.ReadFull(random, buf); err != nil {
			return err
		}
		buf[0] &= topMask
		if _, err := x.SetBytes(buf, n); err != nil {
			continue
		}
		if x.IsZero() == 1 {
			continue
		}
		return nil
	}
	return errSamplingFailed
}

// blind is Blind once the randomness is drawn: it EMSA-PSS encodes the
// message with SHA-384 digest mHash and the given salt into m, writes the
// blinded message m × r^e mod N to out (modulus-size bytes), and sets
// inv = r⁻¹ mod N. r and u must be in [1, N); u only masks the inversion
// and does not change the results.
//
// The inverse of the secret r is computed with a blinded inversion:
//
//	w   = m × r × u mod N         constant time (bigmod)
//	w⁻¹                           variable time (math/big's ModInverse)
//	inv = w⁻¹ × m × u mod N       constant time; this is r⁻¹
//
// Blind draws u uniformly from [1, N), which but for a negligible chance
// makes it a uniform unit mod N; then w is a uniform unit too, independent
// of r and m, so the timing of the one variable-time step reveals nothing
// about them. The same inversion checks the RFC's conditions: w is invertible if
// and only if m, r and u all are, so a message not coprime to N (or a
// factor r or u that is not) fails here, with no separate gcd; such a
// failure reveals a factor of N, which is the issuer's, not the holder's.
// r^e uses bigmod's ExpShortVarTime, whose timing depends on the public
// exponent only, not on r.
func blind(pk *PublicKey, mHash, salt []byte, r, u *bigmod.Nat, out []byte, inv *bigmod.Nat) error {
	n := pk.n
	size := n.Size()

	var emBuf [maxStackBytes]byte
	var em []byte
	if size <= len(emBuf) {
		em = emBuf[:size]
	} else {
		em = make([]byte, size)
	}
	if err := emsaPSSEncode(em, mHash, salt, n.BitLen()-1); err != nil {
		return err
	}
	// EM has emBits = modBits − 1 bits, so m = OS2IP(EM) is below N.
	m, err := bigmod.NewNat().SetBytes(em, n)
	clear(em)
	if err != nil {
		return err
	}

	// w = m × r × u.
	w := natCopy(bigmod.NewNat(), m, n).Mul(r, n).Mul(u, n)
	// w⁻¹ with math/big, whose ModInverse takes time (and allocations)
	// that depend on w, and leaves copies of w and w⁻¹ in memory that
	// cannot be wiped. That is safe only because w is blinded: u is a
	// fresh uniform unit, used once and wiped by Blind, so w is uniform
	// and independent of r and m, and w or w⁻¹ alone, their timing
	// included, reveal nothing of them. r itself never reaches math/big.
	wBytes := em // the encoded message is in m; em is free
	natToBytes(wBytes, w)
	wInvBig := new(big.Int).ModInverse(new(big.Int).SetBytes(wBytes), pk.rsa.N)
	if wInvBig == nil {
		clear(wBytes)
		return errNotInvertible
	}
	wInv, err := bigmod.NewNat().SetBytes(wInvBig.FillBytes(wBytes), n)
	clear(wBytes)
	if err != nil {
		return errNotInvertible // unreachable: ModInverse gives w⁻¹ < N
	}
	// inv = w⁻¹ × m × u = r⁻¹.
	natCopy(inv, wInv, n).Mul(m, n).Mul(u, n)
	// Check inv × r = 1, in constant time, so that a wrong inverse can never
	// reach the state.
	if natCopy(wInv, inv, n).Mul(r, n).IsOne() != 1 {
		return errNotInvertible
	}

	// blinded = m × r^e.
	x := bigmod.NewNat().ExpShortVarTime(r, uint(pk.rsa.E), n).Mul(m, n)
	natToBytes(out, x)
	clear(m.Bits())
	clear(w.Bits())
	clear(wInv.Bits())
	return nil
}

// Finalize is the holder's last step of RFC 9474 (section 4.4, Finalize):
// it unblinds the issuer's blind signature and returns the signature of the
// message given to [Blind]. The signature is verified before it is
// returned; a blind signature that is not modulus-size bytes encoding an
// integer below N, or whose result does not verify, returns
// ErrInvalidSignature and no signature.
//
// The unblinding s = blindSig × r⁻¹ mod N runs in constant time; the check
// is that of [PublicKey.Verify].
func Finalize(state State, blindSig []byte) ([]byte, error) {
	pk := state.pk
	if pk == nil || state.sec == nil || state.sec.s == nil || len(state.sec.s.inv) != pk.n.Size() {
		return nil, ErrInvalidState
	}
	sec := state.sec.s
	if len(blindSig) != pk.n.Size() {
		return nil, ErrInvalidSignature
	}
	// The blind signature is public, so its range check may branch.
	z, err := bigmod.NewNat().SetBytes(blindSig, pk.n)
	if err != nil {
		return nil, ErrInvalidSignature
	}
	inv, err := bigmod.NewNat().SetBytes(sec.inv, pk.n)
	if err != nil {
		return nil, ErrInvalidState
	}
	s := z.Mul(inv, pk.n)
	clear(inv.Bits())
	sig := make([]byte, pk.n.Size())
	natToBytes(sig, s)
	if err := pk.verifyDigest(sec.mHash[:], sig); err != nil {
		return nil, ErrInvalidSignature
	}
	return sig, nil
}

// emsaPSSEncode is EMSA-PSS-ENCODE (RFC 8017, section 9.1.1) with SHA-384,
// MGF1-SHA-384 and a salt of saltLength bytes, for the SHA-384 digest mHash
// of the message. It writes OS2IP of the encoding EM to em, big-endian, in
// len(em) bytes (a zero byte first when EM is shorter than em). emBits is
// the modulus size in bits minus one.
func emsaPSSEncode(em, mHash, salt []byte, emBits int) error {
	const hLen = sha512.Size384
	emLen := (emBits + 7) / 8
	if len(mHash) != hLen || len(salt) != saltLength || len(em) < emLen {
		return errors.New("rsabssa: internal error: bad EMSA-PSS arguments")
	}
	// Step 3.
	if emLen < hLen+saltLength+2 {
		return errEncodingTooLong
	}
	clear(em[:len(em)-emLen])
	em = em[len(em)-emLen:]
	db, h := em[:emLen-hLen-1], em[emLen-hLen-1:emLen-1]

	// Steps 5 and 6: H = Hash(0x00 × 8 || mHash || salt).
	var mPrime [8 + hLen + saltLength]byte
	copy(mPrime[8:], mHash)
	copy(mPrime[8+hLen:], salt)
	sum := sha512.Sum384(mPrime[:])
	copy(h, sum[:])

	// Steps 7 and 8: DB = PS (zeros) || 0x01 || salt.
	psLen := len(db) - saltLength - 1
	clear(db[:psLen])
	db[psLen] = 0x01
	copy(db[psLen+1:], salt)

	// Steps 9 and 10: maskedDB = DB ⊕ MGF1(H, emLen − hLen − 1).
	mgf1XOR(db, db, h)

	// Step 11: clear the leftmost 8·emLen − emBits bits.
	db[0] &= 0xff >> (8*emLen - emBits)

	// Step 12: EM = maskedDB || H || 0xbc.
	em[emLen-1] = 0xbc
	return nil
}

// natCopy sets dst = x, for x reduced modulo n, and returns dst. It runs in
// constant time.
func natCopy(dst, x *bigmod.Nat, n *bigmod.Modulus) *bigmod.Nat {
	// bigmod has no exported assignment: dst = 0 + x, with x < N.
	clear(dst.Bits())
	return dst.ExpandFor(n).Add(x, n)
}

// natToBytes writes x, of the size of the modulus, to out as big-endian
// bytes; out is modulus-size and x below the modulus. Unlike bigmod's
// Bytes, it does not allocate. It runs in time that depends only on the
// sizes.
func natToBytes(out []byte, x *bigmod.Nat) {
	i := len(out)
	for _, w := range x.Bits() {
		for range bits.UintSize / 8 {
			if i == 0 {
				break // the bytes beyond out are zero: x fits
			}
			i--
			out[i] = byte(w)
			w >>= 8
		}
	}
	clear(out[:i])
}
