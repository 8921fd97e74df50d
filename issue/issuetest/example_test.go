package issuetest_test

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/statustoken/statustoken/holder"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/issue/issuetest"
	"github.com/statustoken/statustoken/token"
)

// A test gets an issuer whose directories come with log proofs cosigned
// by two of its three witnesses, and the trust policy a wallet pins.
func Example() {
	p, err := issuetest.NewPublisher(issue.Config{
		EpochLength: 24 * time.Hour,
		Statuses:    []token.StatusName{{Code: 1, Name: "green"}},
	}, nil)
	if err != nil {
		panic(err)
	}
	now := time.Now()
	published, err := p.Publish(now, 1)
	if err != nil {
		panic(err)
	}
	wallet, err := holder.New(published, p.Trust, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(wallet.Directory().Serial, wallet.Accepted().Checkpoint.Size())
	for _, line := range strings.Split(string(p.TrustText), "\n") {
		if strings.HasPrefix(line, "group") || strings.HasPrefix(line, "max-age") {
			fmt.Println(line)
		}
	}
	// Output:
	// 1 1
	// group witnesses 2 w1.example w2.example w3.example
	// max-age 48h0m0s
}

// Options choose which witnesses cosign and when: here only w3, and three
// days ago, which a wallet refuses twice over.
func ExampleOptions() {
	now := time.Now()
	cfg := issue.Config{EpochLength: 24 * time.Hour, Statuses: []token.StatusName{{Code: 1, Name: "green"}}}
	for _, opts := range []*issuetest.Options{
		{Cosigners: []issuetest.Cosigner{{Witness: 2}}},
		{Cosigners: []issuetest.Cosigner{{Witness: 0, Time: now.Add(-72 * time.Hour)}, {Witness: 1, Time: now.Add(-72 * time.Hour)}}},
		{Cosigners: []issuetest.Cosigner{{Witness: 0, Time: now.Add(-72 * time.Hour)}, {Witness: 1}}, MaxAge: 96 * time.Hour},
	} {
		p, err := issuetest.NewPublisher(cfg, opts)
		if err != nil {
			panic(err)
		}
		published, err := p.Publish(now, 1)
		if err != nil {
			panic(err)
		}
		_, err = holder.New(published, p.Trust, nil)
		fmt.Println(errors.Is(err, token.ErrQuorum), errors.Is(err, token.ErrStale), err == nil)
	}
	// Output:
	// true false false
	// false true false
	// false false true
}

// A witness key from a label is the same in every run: its vkey goes into
// a trust policy, its cosignature onto a checkpoint.
func ExampleWitness() {
	w, err := issuetest.NewWitness("w1.example", issuetest.Key("witness w1.example"))
	if err != nil {
		panic(err)
	}
	fmt.Println(w.VerifierKey())

	skey, _, err := issue.GenerateLogKey("example.org/health/directory")
	if err != nil {
		panic(err)
	}
	log, err := issue.NewLog(skey, nil)
	if err != nil {
		panic(err)
	}
	checkpoint, err := log.Checkpoint()
	if err != nil {
		panic(err)
	}
	line, err := w.Cosign(checkpoint, time.Unix(1_800_000_000, 0))
	if err != nil {
		panic(err)
	}
	cosigned, err := log.Cosigned(checkpoint, line)
	fmt.Println(strings.Count(string(cosigned), "\n— "), err)
	// Output:
	// w1.example+9559e9c3+BIjyZtdwgKTve94au3IoPUh5mpB06YCcMTAMpMnwD7AC
	// 2 <nil>
}
