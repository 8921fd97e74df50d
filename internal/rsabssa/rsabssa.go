// Package rsabssa implements RSABSSA-SHA384-PSS-Deterministic from RFC 9474
// (RSA blind signatures with a 48-byte salt and an empty prepare prefix) with
// 2048-bit keys and e = 65537: the variant of Privacy Pass token type 2
// (RFC 9578, section 6).
//
// An issuer loads its key with [NewPrivateKey] and answers each blinded
// message with [PrivateKey.BlindSign]. A holder blinds a message with [Blind]
// under a key parsed with [ParsePublicKey], sends the blinded message, and
// turns the issuer's answer into an ordinary RSASSA-PSS signature with
// [Finalize]. Anyone verifies that signature with [PublicKey.Verify].
//
// The issuer stores its private key with package rsakey (PKCS #8), kept
// apart so that the verifier and the holder do not link crypto/x509.
//
// # Security considerations
//
// [PrivateKey.BlindSign] signs whatever it is given: the issuer learns
// nothing about the message, so it must decide whether to sign before it
// signs, from its own knowledge of the requester, and must use one key per
// meaning (status and epoch). Its private operation is constant-time, uses
// the Chinese remainder theorem, and checks s^e = m before returning anything.
//
// "Deterministic" means that the prepare step adds no random prefix to the
// message (the PSS salt is still fresh for every signature). The message
// itself must therefore carry the entropy: the holder must put a fresh
// random nonce in every message, so that even an issuer with a malformed key
// learns nothing about it from the blinded message (RFC 9474, section 7).
//
// A holder must take the public key from a source that every holder shares
// (a signed, public key directory) and never from the issuer's answer: a key
// given to one group of holders only would mark them.
//
// [State] holds the holder's blinding factor, a secret that links the
// blinded message to the final signature. It must never leave the holder.
// [Blind] and [Finalize] handle that factor and its inverse with
// constant-time arithmetic (filippo.io/bigmod); their one variable-time
// step, a modular inversion, sees only a value masked by a fresh random
// unit.
package rsabssa

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"io"

	"filippo.io/bigmod"
)

// ModulusBits is the size of the RSA modulus of this suite, in bits.
const ModulusBits = 2048

// SignatureSize is the size of a blinded message, a blind signature and a
// signature, in bytes.
const SignatureSize = ModulusBits / 8

// publicExponent is the only public exponent this package accepts.
const publicExponent = 65537

// saltLength is the RSASSA-PSS salt length of the variant, in bytes: the
// size of a SHA-384 digest (RFC 9474, section 5).
const saltLength = 48

var (
	// ErrInvalidKey is returned for a key that is malformed, not in its
	// canonical encoding, or outside this suite's parameters.
	ErrInvalidKey = errors.New("rsabssa: invalid key")

	// ErrInvalidBlindedMessage is returned by [PrivateKey.BlindSign] for an
	// input that is not modulus-size bytes encoding an integer in [1, N).
	ErrInvalidBlindedMessage = errors.New("rsabssa: invalid blinded message")

	// ErrFault is returned by [PrivateKey.BlindSign] when the result of the
	// private operation fails its s^e = m check. No signature is returned:
	// a faulty CRT result would reveal the key.
	ErrFault = errors.New("rsabssa: private key operation failed its consistency check")

	// ErrInvalidSignature is returned by [PublicKey.Verify] and [Finalize]
	// for every signature that does not verify, whatever the reason.
	ErrInvalidSignature = errors.New("rsabssa: invalid signature")

	// ErrBlind is returned by [Blind] when blinding fails: the random
	// source failed, or the message cannot be blinded under the key.
	ErrBlind = errors.New("rsabssa: blinding failed")

	// ErrInvalidState is returned by [Finalize] for a State that was not
	// returned by [Blind].
	ErrInvalidState = errors.New("rsabssa: invalid blinding state")
)

// invalidKey is an error wrapping ErrInvalidKey whose text is the reason alone, for the
// public packages to put in their own words without cutting text apart.
type invalidKey string

func (e invalidKey) Error() string { return string(e) }
func (e invalidKey) Unwrap() error { return ErrInvalidKey }

// PrivateKey is an issuer's prepared RSA private key: the moduli and CRT
// values that BlindSign needs, computed once. It is safe for concurrent use.
type PrivateKey struct {
	n    *bigmod.Modulus // N = p × q
	p, q *bigmod.Modulus
	dP   []byte      // d mod (p - 1), big-endian, as an exponent for p
	dQ   []byte      // d mod (q - 1), big-endian, as an exponent for q
	qInv *bigmod.Nat // q⁻¹ mod p
	qN   *bigmod.Nat // q as an element modulo N
	e    uint
	pub  *PublicKey
}

// NewPrivateKey prepares sk for [PrivateKey.BlindSign]. sk must have exactly
// two primes, a 2048-bit modulus and e = 65537, and pass [rsa.PrivateKey.Validate].
// The CRT values are computed again from p, q and d with constant-time
// arithmetic; those in sk.Precomputed are not used. sk is not modified.
func NewPrivateKey(sk *rsa.PrivateKey) (*PrivateKey, error) {
	return newPrivateKey(sk, ModulusBits)
}

// CheckPrivateKey applies the rules of [NewPrivateKey] to sk, with a
// modulus of exactly bits bits: callers within the suite pass
// [ModulusBits], tests may pass another size. It returns nil or an error
// wrapping [ErrInvalidKey] whose text is the reason alone and names only
// public properties. sk is not modified.
func CheckPrivateKey(sk *rsa.PrivateKey, bits int) error {
	if sk == nil || sk.N == nil || sk.D == nil {
		return invalidKey("incomplete private key")
	}
	if len(sk.Primes) != 2 || sk.Primes[0] == nil || sk.Primes[1] == nil {
		return invalidKey(fmt.Sprintf("the key has %d primes, want 2", len(sk.Primes)))
	}
	if sk.N.Sign() <= 0 || sk.N.BitLen() != bits {
		return invalidKey(fmt.Sprintf("the modulus has %d bits, want %d", sk.N.BitLen(), bits))
	}
	if sk.E != publicExponent {
		return invalidKey(fmt.Sprintf("public exponent %d, want %d", sk.E, publicExponent))
	}
	if sk.D.Sign() <= 0 || sk.D.BitLen() > bits {
		return invalidKey("private exponent out of range")
	}
	// bigmod's exponentiation needs odd moduli, which Validate alone does
	// not guarantee for the primes.
	if sk.N.Bit(0) != 1 || sk.Primes[0].Bit(0) != 1 || sk.Primes[1].Bit(0) != 1 {
		return invalidKey("even modulus or prime")
	}
	if err := sk.Validate(); err != nil {
		return invalidKey("the key is inconsistent")
	}
	return nil
}

// newPrivateKey is NewPrivateKey with a modulus of exactly bits bits.
func newPrivateKey(sk *rsa.PrivateKey, bits int) (*PrivateKey, error) {
	if err := CheckPrivateKey(sk, bits); err != nil {
		return nil, err
	}
	pub, err := newPublicKey(sk.N, sk.E, bits)
	if err != nil {
		return nil, err
	}

	nBytes := sk.N.Bytes()
	pBytes := sk.Primes[0].Bytes()
	qBytes := sk.Primes[1].Bytes()
	dBytes := sk.D.FillBytes(make([]byte, len(nBytes)))
	defer clear(pBytes)
	defer clear(qBytes)
	defer clear(dBytes)

	bad := invalidKey("the key is inconsistent")
	n, err := bigmod.NewModulus(nBytes)
	if err != nil {
		return nil, bad
	}
	p, err := bigmod.NewModulus(pBytes)
	if err != nil {
		return nil, bad
	}
	q, err := bigmod.NewModulus(qBytes)
	if err != nil {
		return nil, bad
	}
	d, err := bigmod.NewNat().SetBytes(dBytes, n)
	if err != nil {
		return nil, bad
	}

	// dP = d mod (p - 1) and dQ = d mod (q - 1), as exponents.
	dP, err := reduceExponent(d, p)
	if err != nil {
		return nil, bad
	}
	dQ, err := reduceExponent(d, q)
	if err != nil {
		return nil, bad
	}

	// qInv = q^(p-2) mod p, which is q⁻¹ mod p since p is prime (Fermat),
	// computed in constant time.
	pMinusTwo := p.Nat().SubOne(p).SubOne(p).Bytes(p)
	defer clear(pMinusTwo)
	qInv := bigmod.NewNat().Mod(q.Nat(), p)
	qInv.Exp(qInv, pMinusTwo, p)
	if qCheck := bigmod.NewNat().Mod(q.Nat(), p); qCheck.Mul(qInv, p).IsOne() != 1 {
		return nil, bad
	}

	return &PrivateKey{
		n:    n,
		p:    p,
		q:    q,
		dP:   dP,
		dQ:   dQ,
		qInv: qInv,
		qN:   bigmod.NewNat().Mod(q.Nat(), n),
		e:    uint(sk.E),
		pub:  pub,
	}, nil
}

// reduceExponent returns d mod (prime - 1) as a big-endian exponent.
func reduceExponent(d *bigmod.Nat, prime *bigmod.Modulus) ([]byte, error) {
	pm1 := prime.Nat().SubOne(prime).Bytes(prime)
	defer clear(pm1)
	m, err := bigmod.NewModulus(pm1)
	if err != nil {
		return nil, err
	}
	return bigmod.NewNat().Mod(d, m).Bytes(m), nil
}

// Public returns the public key of k.
func (k *PrivateKey) Public() *PublicKey { return k.pub }

// PublicKeyBytes returns the canonical encoding of k's public key, as
// [MarshalPublicKey] gives it.
func (k *PrivateKey) PublicKeyBytes() []byte { return MarshalPublicKey(k.pub) }

// BlindSign is the issuer's step of RFC 9474 (section 4.3, BlindSign): it
// returns s = m^d mod N for the blinded message m, as modulus-size bytes.
//
// blinded must be exactly modulus-size bytes and encode an integer in
// [1, N), or BlindSign returns ErrInvalidBlindedMessage; these checks are on
// public input only. The private operation runs in time that does not depend
// on m or on the key's secret values (constant-time CRT with
// filippo.io/bigmod). The result is checked with the public exponent
// (s^e = m mod N) before it is returned; if the check fails, BlindSign
// returns ErrFault and no signature.
func (k *PrivateKey) BlindSign(blinded []byte) ([]byte, error) {
	if len(blinded) != k.n.Size() {
		return nil, ErrInvalidBlindedMessage
	}
	m, err := bigmod.NewNat().SetBytes(blinded, k.n)
	if err != nil || m.IsZero() == 1 {
		return nil, ErrInvalidBlindedMessage
	}

	t := bigmod.NewNat()
	// sp = m^dP mod p
	sp := bigmod.NewNat().Exp(t.Mod(m, k.p), k.dP, k.p)
	// sq = m^dQ mod q
	sq := bigmod.NewNat().Exp(t.Mod(m, k.q), k.dQ, k.q)
	// h = (sp - sq) × qInv mod p
	sp.Sub(t.Mod(sq, k.p), k.p)
	sp.Mul(k.qInv, k.p)
	// s = sq + h × q, which is below N since h < p and sq < q.
	s := sp.ExpandFor(k.n).Mul(k.qN, k.n)
	s.Add(sq.ExpandFor(k.n), k.n)

	// Fault check with the public exponent (variable time is fine: e, m
	// and s are, or will be, public).
	if bigmod.NewNat().ExpShortVarTime(s, k.e, k.n).Equal(m) != 1 {
		return nil, ErrFault
	}
	return s.Bytes(k.n), nil
}

// GenerateKey returns a fresh 2048-bit RSA key with e = 65537, from
// [rsa.GenerateKey]. Since Go 1.26, rsa.GenerateKey ignores random and uses
// a secure source unless GODEBUG=cryptocustomrand=1 is set.
func GenerateKey(random io.Reader) (*rsa.PrivateKey, error) {
	sk, err := rsa.GenerateKey(random, ModulusBits)
	if err != nil {
		return nil, err
	}
	if err := CheckPrivateKey(sk, ModulusBits); err != nil {
		return nil, err
	}
	return sk, nil
}
