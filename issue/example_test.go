package issue_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

// Blind issuance: the wallet sends only blinded messages, the issuer signs
// them for the status its own policy assigns, and the wallet finalizes the
// tokens, checking each against the directory it fetched itself.
func Example() {
	_, rootKey, _ := ed25519.GenerateKey(rand.Reader)
	seed := make([]byte, issue.SeedSize)
	rand.Read(seed)
	issuer, err := issue.NewIssuer(issue.Config{
		RootKey:     rootKey,
		Seed:        seed,
		EpochLength: 24 * time.Hour,
		Epochs:      1,
		Statuses:    []token.StatusName{{Code: 1, Name: "green"}},
		Suites:      []token.Suite{token.RSABSSA},
		RSAKeys:     issue.NewMemoryKeyStore(),
	})
	if err != nil {
		panic(err)
	}
	now := time.Now()
	dir, sig, err := issuer.Directory(now, 1)
	if err != nil {
		panic(err)
	}

	// Wallet: check the directory against the pinned root key, then ask.
	wallet, err := issue.NewHolder(dir, sig, issuer.RootPublicKey())
	if err != nil {
		panic(err)
	}
	pending, request, err := wallet.Request(1, now, 5)
	if err != nil {
		panic(err)
	}

	// Issuer: the callback says which status this holder has.
	response, err := issuer.Respond(request, now, func() (token.Status, error) { return 1, nil })
	if err != nil {
		panic(err)
	}

	tokens, err := wallet.Finalize(pending, response)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(tokens), tokens[0].Suite, tokens[0].Status)
	// Output: 5 rsabssa 1
}
