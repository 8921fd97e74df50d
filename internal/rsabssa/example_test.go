package rsabssa_test

import (
	"crypto/rand"
	"fmt"

	"github.com/statustoken/statustoken/internal/rsabssa"
)

// Example issues one blind signature: the holder blinds its message under
// the public key it got from the key directory, the issuer signs the
// blinded message without seeing it, and the holder finalizes and anyone
// verifies.
func Example() {
	// Issuer, once per key.
	sk, err := rsabssa.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	issuer, err := rsabssa.NewPrivateKey(sk)
	if err != nil {
		panic(err)
	}
	published := issuer.PublicKeyBytes()

	// Holder: the message carries a fresh random nonce.
	pk, err := rsabssa.ParsePublicKey(published)
	if err != nil {
		panic(err)
	}
	msg := make([]byte, 32)
	rand.Read(msg)
	blinded, state, err := rsabssa.Blind(pk, rand.Reader, msg)
	if err != nil {
		panic(err)
	}

	// Issuer: signs what it cannot read.
	blindSig, err := issuer.BlindSign(blinded)
	if err != nil {
		panic(err)
	}

	// Holder: unblinds, and checks the signature.
	sig, err := rsabssa.Finalize(state, blindSig)
	if err != nil {
		panic(err)
	}

	// Verifier.
	fmt.Println(len(sig), pk.Verify(msg, sig))
	// Output: 256 <nil>
}
