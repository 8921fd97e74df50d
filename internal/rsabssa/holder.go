package rsabssa

import (
	"bytes"
	"fmt"
	"io"
	"math/big"

	"github.com/cloudflare/circl/blindsign/blindrsa"
)

// State is a holder's secret state between [Blind] and [Finalize]: the
// encoded message and the inverse of the blinding factor. Anyone who sees it
// can link the blinded message to the final signature, so it must stay with
// the holder. The zero State is not valid.
type State struct {
	pk  *PublicKey
	msg []byte
	st  blindrsa.State
}

// Blind is the holder's first step of RFC 9474 (section 4.2, Blind, with
// the empty prepare prefix of the deterministic variant): it encodes msg
// with EMSA-PSS (SHA-384, a fresh 48-byte salt) and blinds it with a fresh
// factor r, both read from random. It returns the blinded message, to send
// to the issuer, and the state [Finalize] needs.
//
// random must be a cryptographically secure source such as crypto/rand's
// Reader. Blind reads the salt, then r as crypto/rand.Int does. Errors wrap
// ErrBlind.
func Blind(pk *PublicKey, random io.Reader, msg []byte) (blinded []byte, state State, err error) {
	if pk == nil || random == nil {
		return nil, State{}, fmt.Errorf("%w: no key or no random source", ErrBlind)
	}
	blinded, st, err := pk.client.Blind(random, msg)
	if err != nil {
		return nil, State{}, fmt.Errorf("%w: %w", ErrBlind, err)
	}
	return blinded, State{pk: pk, msg: bytes.Clone(msg), st: st}, nil
}

// Finalize is the holder's last step of RFC 9474 (section 4.4, Finalize):
// it unblinds the issuer's blind signature and returns the signature of the
// message given to [Blind]. The signature is verified before it is
// returned; a blind signature that is not modulus-size bytes encoding an
// integer below N, or whose result does not verify, returns
// ErrInvalidSignature and no signature.
func Finalize(state State, blindSig []byte) ([]byte, error) {
	pk := state.pk
	if pk == nil {
		return nil, ErrInvalidState
	}
	if len(blindSig) != pk.rsa.Size() || new(big.Int).SetBytes(blindSig).Cmp(pk.rsa.N) >= 0 {
		return nil, ErrInvalidSignature
	}
	sig, err := pk.client.Finalize(state.st, blindSig)
	if err != nil {
		return nil, ErrInvalidSignature
	}
	// circl checked sig^e against the encoded message; this checks the
	// signature the way every verifier will.
	if err := pk.Verify(state.msg, sig); err != nil {
		return nil, ErrInvalidSignature
	}
	return sig, nil
}
