package verify_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

// A scanner pins the issuer's root key, loads the signed directory once,
// and verifies tokens offline.
func Example() {
	_, rootKey, _ := ed25519.GenerateKey(rand.Reader)
	seed := make([]byte, issue.SeedSize)
	rand.Read(seed)
	issuer, err := issue.NewIssuer(issue.Config{
		RootKey:     rootKey,
		Seed:        seed,
		EpochLength: 24 * time.Hour,
		Statuses:    []token.StatusName{{Code: 1, Name: "green"}, {Code: 2, Name: "red"}},
	})
	if err != nil {
		panic(err)
	}
	now := time.Now()
	dir, sig, err := issuer.Directory(now, 1)
	if err != nil {
		panic(err)
	}
	toks, err := issuer.IssueEd25519(1, now, 2)
	if err != nil {
		panic(err)
	}
	text, _ := toks[0].MarshalText() // what the wallet shows as a QR code

	scanner, err := verify.New(dir, sig, issuer.RootPublicKey(), &verify.Options{
		Spent: verify.NewMemoryStore(0, nil),
	})
	if err != nil {
		panic(err)
	}
	res, err := scanner.VerifyText(context.Background(), string(text))
	fmt.Println(res.StatusName, err)
	_, err = scanner.VerifyText(context.Background(), string(text))
	fmt.Println(errors.Is(err, verify.ErrReplayed))

	raw, _ := toks[1].MarshalBinary()
	raw[len(raw)-1] ^= 1
	_, err = scanner.Verify(context.Background(), raw)
	fmt.Println(err)
	// Output:
	// green <nil>
	// true
	// verify: invalid signature
}
