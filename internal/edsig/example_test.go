package edsig_test

import (
	"crypto/ed25519"
	"fmt"

	"github.com/statustoken/statustoken/internal/edsig"
)

func Example() {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	pk, err := edsig.NewPublicKey(priv.Public().(ed25519.PublicKey))
	if err != nil {
		panic(err)
	}

	var b edsig.Batch
	for i := range 10 {
		msg := fmt.Appendf(nil, "token %d", i)
		sig := ed25519.Sign(priv, msg)
		if i == 3 {
			msg = []byte("forged")
		}
		b.Add(pk, msg, sig)
	}
	results := make([]bool, b.Len())
	all, err := b.Verify(results)
	if err != nil {
		panic(err) // crypto/rand failed
	}
	fmt.Println("all valid:", all)
	fmt.Println(results)

	msg := []byte("one token")
	fmt.Println("single:", edsig.Verify(pk, msg, ed25519.Sign(priv, msg)))
	// Output:
	// all valid: false
	// [true true true false true true true true true true]
	// single: true
}
