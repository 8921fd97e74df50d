package issuehttp_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/statustoken/statustoken/holder"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/issue/issuehttp"
	"github.com/statustoken/statustoken/issue/issuetest"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/token/tokenhttp"
)

// An issuer with a decision policy (token/SPEC.md, "Decisions"): every
// answer to a token request, a grant or a refusal, carries a signed
// receipt, and its record goes to the decision log before the answer
// leaves. The wallet checks each receipt, fetches the record's proof,
// and can write an appeal bundle even while the record is not logged.
func Example_decisions() {
	ctx := context.Background()
	green := token.Status(1)
	now := time.Now()
	clock := func() time.Time { return now }

	// The decision log's key: a real issuer keeps its signer key and
	// appends records to a log engine (Tessera in the deploy example)
	// that its witnesses cosign.
	_, decisionLogKey, err := issue.GenerateLogKey("example.org/health/decisions")
	if err != nil {
		panic(err)
	}
	_, decisionKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	pub, err := issuetest.NewPublisher(issue.Config{
		EpochLength:      24 * time.Hour,
		Epochs:           1,
		Statuses:         []token.StatusName{{Code: green, Name: "green"}},
		Suites:           []token.Suite{token.RSABSSA},
		RSAKeys:          issue.NewMemoryKeyStore(),
		TokensPerRequest: 2,
		DecisionKey:      decisionKey,
		Reasons: []token.Reason{
			{Code: 1, Text: "Negative test result", Outcomes: []token.Outcome{token.Outcome(green)}, EvidenceRequired: true},
			{Code: 2, Text: "Administrative", Outcomes: []token.Outcome{token.Refused}},
		},
		DecisionLogKey:   decisionLogKey,
		DecisionLogDelay: time.Hour,
	}, nil)
	if err != nil {
		panic(err)
	}

	// The queue of records for the decision log.
	var mu sync.Mutex
	queued := map[[32]byte][]byte{}
	handler, err := issuehttp.NewHandler(issuehttp.Options{
		Issuer: pub.Issuer,
		Now:    clock,
		// Authenticate the holder, apply its rate limit, and decide,
		// citing a reason of the published policy.
		Decide: func(r *http.Request, credential string, status token.Status, evidence []byte) (issuehttp.Outcome, error) {
			switch credential {
			case "alice-api-key":
				if status == green && evidence != nil {
					return issuehttp.Outcome{Status: green, Reason: 1}, nil
				}
				return issuehttp.Outcome{Reason: 2, Message: "no negative test"}, nil
			case "bob-api-key":
				return issuehttp.Outcome{Reason: 2}, nil
			}
			return issuehttp.Outcome{}, issuehttp.ErrUnknownCredential
		},
		// Queue the record durably; the receipt leaves only after.
		Record: func(ctx context.Context, record []byte) error {
			mu.Lock()
			defer mu.Unlock()
			queued[sha256.Sum256(record)] = record
			return nil
		},
		// Prove a record once a cosigned checkpoint holds it; this
		// example's log never gets there.
		DecisionProof: func(ctx context.Context, recordHash [32]byte) ([]byte, error) {
			return nil, &issuehttp.RetryError{Err: issuehttp.ErrNotYetLogged, After: time.Minute}
		},
	})
	if err != nil {
		panic(err)
	}
	published, err := pub.Publish(now, 1)
	if err != nil {
		panic(err)
	}
	if err := handler.Publish(published, now.Add(time.Hour)); err != nil {
		panic(err)
	}
	server := httptest.NewServer(handler)
	defer server.Close()

	// A wallet asks, with a commitment to a statement only it can open.
	client, err := tokenhttp.NewClient(server.URL, nil)
	if err != nil {
		panic(err)
	}
	p, err := client.FetchDirectory(ctx)
	if err != nil {
		panic(err)
	}
	ask := func(credential string, evidence []byte) {
		wallet, err := holder.New(p, pub.Trust, &holder.Options{Now: clock})
		if err != nil {
			panic(err)
		}
		pending, request, err := wallet.Request(green, now, 2)
		if err != nil {
			panic(err)
		}
		opening := token.Opening{Statement: []byte("the holder of " + credential)}
		rand.Read(opening.Salt[:])
		d, err := client.RequestDecision(ctx, credential, request, opening.Commitment(), evidence)
		if err != nil {
			panic(err)
		}
		// Check the receipt before using or storing the answer.
		receipt, err := wallet.CheckReceipt(request, opening.Commitment(), d.Receipt)
		if err != nil {
			panic(err)
		}
		if d.Refusal != nil {
			fmt.Println(d.Refusal.Code, d.Refusal.Message)
		} else {
			tokens, err := wallet.Finalize(pending, d.Response)
			if err != nil {
				panic(err)
			}
			fmt.Println("granted", len(tokens), "tokens, reason", receipt.Reason)
		}
		record, err := token.RecordOf(receipt).MarshalBinary()
		if err != nil {
			panic(err)
		}
		_, err = client.FetchDecisionProof(ctx, sha256.Sum256(record))
		var se *tokenhttp.StatusError
		if errors.As(err, &se) && errors.Is(err, tokenhttp.ErrNotYetLogged) {
			fmt.Println("not logged yet; ask again in", se.RetryAfter)
		}
		// Past the directory's decision_log_delay without a proof, the
		// receipt is itself evidence: an appeal bundle without a proof.
		bundle, err := wallet.Appeal(d.Receipt, nil, wallet.Published(), opening)
		if err != nil {
			panic(err)
		}
		f, err := token.CheckAppeal(bundle, pub.Trust)
		fmt.Printf("appeal: %s, %q, not logged: %v\n", f.OutcomeName, f.ReasonText, errors.Is(err, token.ErrDecisionNotLogged))
	}
	ask("alice-api-key", []byte("PCR negative, 2026-11-26"))
	ask("bob-api-key", nil)
	fmt.Println("records queued:", len(queued))
	// Output:
	// granted 2 tokens, reason 1
	// not logged yet; ask again in 1m0s
	// appeal: green, "Negative test result", not logged: true
	// 403 refused: Administrative (reason 2)
	// not logged yet; ask again in 1m0s
	// appeal: refused, "Administrative", not logged: true
	// records queued: 2
}
