package issue_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/statustoken/statustoken/holder"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/issue/issuetest"
	"github.com/statustoken/statustoken/token"
)

// newIssuer returns an issuer of one status, "green", with keys of both
// suites for the current epoch.
func newIssuer() *issue.Issuer {
	_, rootKey, _ := ed25519.GenerateKey(rand.Reader)
	seed := make([]byte, issue.SeedSize)
	rand.Read(seed)
	issuer, err := issue.NewIssuer(issue.Config{
		RootKey:     rootKey,
		Seed:        seed,
		EpochLength: 24 * time.Hour,
		Epochs:      1,
		Statuses:    []token.StatusName{{Code: 1, Name: "green"}},
		Suites:      []token.Suite{token.Ed25519, token.RSABSSA},
		RSAKeys:     issue.NewMemoryKeyStore(),
	})
	if err != nil {
		panic(err)
	}
	return issuer
}

// An issuer publishes its signed directory; wallets and scanners check it
// against the root public key they pinned.
func Example() {
	issuer := newIssuer()
	data, sig, err := issuer.Directory(time.Now(), 1)
	if err != nil {
		panic(err)
	}
	dir, err := token.OpenDirectory(data, sig, issuer.RootPublicKey())
	if err != nil {
		panic(err)
	}
	for _, k := range dir.Keys {
		name, _ := dir.StatusName(k.Status)
		fmt.Println(k.Suite, name, k.Expiry-k.NotBefore)
	}
	// Output:
	// ed25519 green 86400
	// rsabssa green 86400
}

// Blind issuance, the issuer's side: authenticate the holder and decide
// its status with your own policy, then answer its request. The issuer
// sees only blinded messages, and refuses a request for a status other
// than the one it assigned.
func ExampleIssuer_Respond() {
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
	issuer := p.Issuer
	now := time.Now()
	// The wallet's request (see the holder package).
	published, err := p.Publish(now, 1)
	if err != nil {
		panic(err)
	}
	wallet, err := holder.New(published, p.Trust, nil)
	if err != nil {
		panic(err)
	}
	_, request, err := wallet.Request(1, now, 5)
	if err != nil {
		panic(err)
	}

	response, err := issuer.Respond(request, now, 1) // the policy assigned status 1
	fmt.Println(len(response), err)

	_, err = issuer.Respond(request, now, 2) // the policy assigned another status
	fmt.Println(errors.Is(err, issue.ErrStatusNotAssigned))
	// Output:
	// 1290 <nil>
	// true
}

// An issuer appends every directory it publishes to its log, has the
// witnesses cosign the new checkpoint, and publishes the directory with
// the proof that wallets and scanners check.
func ExampleLog() {
	p, err := issuetest.NewPublisher(issue.Config{
		EpochLength: 24 * time.Hour,
		Statuses:    []token.StatusName{{Code: 1, Name: "green"}},
	}, nil)
	if err != nil {
		panic(err)
	}
	now := time.Now()
	for serial := uint64(1); serial <= 3; serial++ {
		published, err := p.Publish(now, serial) // log, cosign, prove
		if err != nil {
			panic(err)
		}
		_, accepted, err := token.Open(published, p.Trust, token.Accepted{}, now)
		fmt.Println(serial, accepted.Checkpoint.Size(), err)
	}
	// Output:
	// 1 1 <nil>
	// 2 2 <nil>
	// 3 3 <nil>
}

// Ed25519 issuance, for an issuer that never learns who the holder is.
func ExampleIssuer_IssueEd25519() {
	issuer := newIssuer()
	tokens, err := issuer.IssueEd25519(1, time.Now(), 3)
	if err != nil {
		panic(err)
	}
	for _, t := range tokens {
		text, _ := t.MarshalText()
		fmt.Println(t.Suite, t.Status, string(text[:len(token.TextPrefix)]), len(text))
	}
	// Output:
	// ed25519 1 HT1: 171
	// ed25519 1 HT1: 171
	// ed25519 1 HT1: 171
}
