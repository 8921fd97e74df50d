package holder_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/statustoken/statustoken/holder"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/issue/issuetest"
	"github.com/statustoken/statustoken/token"
)

// Blind issuance: the wallet checks the directory against the root key it
// pinned, sends only blinded messages, the issuer signs them for the
// status its own policy assigns, and the wallet finalizes the tokens,
// checking each against its directory, and shows each once as text.
func Example() {
	// The issuer publishes its directory, logged and cosigned.
	p, err := issuetest.NewPublisher(issue.Config{
		EpochLength: 24 * time.Hour,
		Epochs:      1,
		Statuses:    []token.StatusName{{Code: 1, Name: "green"}},
		Suites:      []token.Suite{token.RSABSSA},
		RSAKeys:     issue.NewMemoryKeyStore(),
	}, nil)
	if err != nil {
		panic(err)
	}
	issuer, trust := p.Issuer, p.Trust // the wallet pins trust
	now := time.Now()
	published, err := p.Publish(now, 1)
	if err != nil {
		panic(err)
	}

	// Wallet: check the directory, then ask for 5 tokens of status 1.
	wallet, err := holder.New(published, trust, nil)
	if err != nil {
		panic(err)
	}
	pending, request, err := wallet.Request(1, now, 5)
	if err != nil {
		panic(err)
	}

	// Issuer: its policy assigned status 1 to this holder.
	response, err := issuer.Respond(request, now, 1)
	if err != nil {
		panic(err)
	}

	// Wallet: every token is checked before it is kept.
	tokens, err := wallet.Finalize(pending, response)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(tokens), tokens[0].Suite, tokens[0].Status)
	text, err := tokens[0].MarshalText() // for the QR code
	if err != nil {
		panic(err)
	}
	fmt.Println(string(text[:len(token.TextPrefix)]), len(text))
	// Output:
	// 5 rsabssa 1
	// HT1: 459
}

// A wallet keeps its Holder and updates its directory: an older one is
// refused.
func ExampleHolder_Update() {
	p, err := issuetest.NewPublisher(issue.Config{
		EpochLength: 24 * time.Hour,
		Statuses:    []token.StatusName{{Code: 1, Name: "green"}},
	}, nil)
	if err != nil {
		panic(err)
	}
	now := time.Now()
	first, err := p.Publish(now, 1)
	if err != nil {
		panic(err)
	}
	second, err := p.Publish(now, 2)
	if err != nil {
		panic(err)
	}

	wallet, err := holder.New(first, p.Trust, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(wallet.Update(second), wallet.Directory().Serial)
	err = wallet.Update(first)
	fmt.Println(errors.Is(err, token.ErrRollback), wallet.Directory().Serial)
	// Output:
	// <nil> 2
	// true 2
}
