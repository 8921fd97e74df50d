package verify_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/issue/issuetest"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

// A scanner pins the trust policy (the issuer's root key, the log and its
// witnesses), loads the published directory once, and verifies tokens
// offline.
func Example() {
	p, err := issuetest.NewPublisher(issue.Config{
		EpochLength: 24 * time.Hour,
		Statuses:    []token.StatusName{{Code: 1, Name: "green"}, {Code: 2, Name: "red"}},
	}, nil)
	if err != nil {
		panic(err)
	}
	issuer, trust := p.Issuer, p.Trust // the scanner pins trust
	now := time.Now()
	published, err := p.Publish(now, 1)
	if err != nil {
		panic(err)
	}
	toks, err := issuer.IssueEd25519(1, now, 2)
	if err != nil {
		panic(err)
	}
	text, _ := toks[0].MarshalText() // what the wallet shows as a QR code

	// Once, while online: check the published directory and its proof.
	scanner, err := verify.New(published, trust, &verify.Options{
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
