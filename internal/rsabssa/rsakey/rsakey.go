// Package rsakey encodes an issuer's RSABSSA private key for storage, as
// PKCS #8 DER (RFC 5208, with the RSAPrivateKey of RFC 8017, appendix
// A.1.2), and parses it back under the rules of package rsabssa.
//
// It is apart from rsabssa because it needs crypto/x509, which only the
// issuer uses: the verifier and the holder import rsabssa for public keys
// and signatures, and must not link crypto/x509 and what it brings along.
package rsakey

import (
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"fmt"

	"github.com/statustoken/statustoken/internal/rsabssa"
)

// invalidKey is an error wrapping rsabssa.ErrInvalidKey whose text is the
// reason alone, as rsabssa's own key errors are.
type invalidKey string

func (e invalidKey) Error() string { return string(e) }
func (e invalidKey) Unwrap() error { return rsabssa.ErrInvalidKey }

// Marshal encodes sk, which must satisfy the rules of
// [rsabssa.NewPrivateKey], as PKCS #8 DER, the form [Parse] reads. Like
// [x509.MarshalPKCS8PrivateKey], it runs [rsa.PrivateKey.Precompute] on sk.
// Errors wrap [rsabssa.ErrInvalidKey] and never contain key material.
func Marshal(sk *rsa.PrivateKey) ([]byte, error) {
	if err := rsabssa.CheckPrivateKey(sk, rsabssa.ModulusBits); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(sk)
	if err != nil {
		return nil, invalidKey("cannot encode the key")
	}
	return der, nil
}

// Parse parses a PKCS #8 DER private key as [Marshal] writes it. It accepts
// only an RSA key with exactly two primes, a 2048-bit modulus and
// e = 65537 that passes [rsa.PrivateKey.Validate], in exactly the encoding
// Marshal gives for it (so no trailing bytes and consistent CRT values).
// Errors wrap [rsabssa.ErrInvalidKey] and never contain key material.
func Parse(der []byte) (*rsa.PrivateKey, error) {
	return parse(der, rsabssa.ModulusBits)
}

// parse is Parse for a modulus of exactly bits bits.
func parse(der []byte, bits int) (*rsa.PrivateKey, error) {
	// Bound the work on a large input before any arithmetic: the encoding
	// holds N, d and five values of half its size, with small headers.
	if len(der) > 5*(bits/8)+256 {
		return nil, invalidKey(fmt.Sprintf("%d-byte private key encoding is too long", len(der)))
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, invalidKey("not a valid PKCS #8 private key")
	}
	sk, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, invalidKey("not an RSA private key")
	}
	if err := rsabssa.CheckPrivateKey(sk, bits); err != nil {
		return nil, err
	}
	again, err := x509.MarshalPKCS8PrivateKey(sk)
	if err != nil || subtle.ConstantTimeCompare(again, der) != 1 {
		return nil, invalidKey("not the canonical PKCS #8 encoding")
	}
	return sk, nil
}
