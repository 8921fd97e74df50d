package issuehttp_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/statustoken/statustoken/holder"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/issue/issuehttp"
	"github.com/statustoken/statustoken/issue/issuetest"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/token/tokenhttp"
	"github.com/statustoken/statustoken/verify"
)

// An issuer embeds the Handler; a wallet gets a token through
// token/tokenhttp; a scanner fetches the directory, saves the files of
// token/SPEC.md ("Files a scanner saves"), and verifies the token from
// them offline.
func Example() {
	ctx := context.Background()
	green := token.Status(1)
	// One clock for every party, so that the example never straddles the
	// end of an epoch.
	now := time.Now()
	clock := func() time.Time { return now }

	// The issuer. issuetest stands in for its log and witnesses: a real
	// issuer appends each directory to its issue.Log and publishes it
	// once a quorum of witnesses has cosigned.
	pub, err := issuetest.NewPublisher(issue.Config{
		EpochLength: 24 * time.Hour,
		Epochs:      1,
		Statuses:    []token.StatusName{{Code: green, Name: "green"}},
		Suites:      []token.Suite{token.RSABSSA},
		RSAKeys:     issue.NewMemoryKeyStore(),
	}, nil)
	if err != nil {
		panic(err)
	}
	handler, err := issuehttp.NewHandler(issuehttp.Options{
		Issuer: pub.Issuer,
		Now:    clock,
		// Authenticate the holder, apply its rate limit, decide its
		// status from your own evidence.
		Authorize: func(r *http.Request, credential string) (token.Status, error) {
			if credential == "alice-api-key" {
				return green, nil
			}
			return 0, issuehttp.ErrUnknownCredential
		},
	})
	if err != nil {
		panic(err)
	}
	published, err := pub.Publish(now, 1)
	if err != nil {
		panic(err)
	}
	epochEnd := now.Truncate(24 * time.Hour).Add(24 * time.Hour)
	if err := handler.Publish(published, epochEnd); err != nil {
		panic(err)
	}
	server := httptest.NewServer(handler)
	defer server.Close()

	// Wallets and scanners pin the trust policy, taken from anywhere but
	// the issuer's server.
	trust, err := token.ParseTrust(pub.TrustText)
	if err != nil {
		panic(err)
	}

	// The wallet.
	client, err := tokenhttp.NewClient(server.URL, nil)
	if err != nil {
		panic(err)
	}
	p, err := client.FetchDirectory(ctx)
	if err != nil {
		panic(err)
	}
	wallet, err := holder.New(p, trust, &holder.Options{Now: clock})
	if err != nil {
		panic(err)
	}
	pending, request, err := wallet.Request(green, now, 2)
	if err != nil {
		panic(err)
	}
	_, err = client.RequestTokens(ctx, "mallory-api-key", request)
	fmt.Println("unknown key refused:", errors.Is(err, tokenhttp.ErrUnauthorized))
	response, err := client.RequestTokens(ctx, "alice-api-key", request)
	if err != nil {
		panic(err)
	}
	tokens, err := wallet.Finalize(pending, response)
	if err != nil {
		panic(err)
	}
	qr, err := tokens[0].MarshalText()
	if err != nil {
		panic(err)
	}

	// The scanner updates: it fetches and checks the publication, then
	// saves the signature, the proof, the directory and the accepted
	// state, in that order.
	folder, err := os.MkdirTemp("", "scanner")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(folder)
	scanner, err := tokenhttp.NewClient(server.URL, nil)
	if err != nil {
		panic(err)
	}
	fetched, dir, accepted, err := scanner.Open(ctx, trust, token.Accepted{}, now)
	if err != nil {
		panic(err)
	}
	state, err := accepted.MarshalText()
	if err != nil {
		panic(err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"directory.sig", fetched.Signature}, {"directory.proof", fetched.Proof}, {"directory.json", fetched.Directory}, {"directory.accepted", state}} {
		if err := os.WriteFile(filepath.Join(folder, f.name), f.data, 0o644); err != nil {
			panic(err)
		}
	}
	fmt.Println("scanner saved directory serial", dir.Serial)

	// The scanner checks tokens offline, from its files.
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(folder, name))
		if err != nil {
			panic(err)
		}
		return b
	}
	saved, err := token.ParseAccepted(read("directory.accepted"), trust)
	if err != nil {
		panic(err)
	}
	v, err := verify.New(token.Published{
		Directory: read("directory.json"),
		Signature: read("directory.sig"),
		Proof:     read("directory.proof"),
	}, trust, &verify.Options{Now: clock, Accepted: saved, Spent: verify.NewMemoryStore(0, clock)})
	if err != nil {
		panic(err)
	}
	res, err := v.VerifyText(ctx, string(qr))
	if err != nil {
		panic(err)
	}
	fmt.Println("scanned:", res.StatusName)
	_, err = v.VerifyText(ctx, string(qr))
	fmt.Println("scanned again:", errors.Is(err, verify.ErrReplayed))
	// Output:
	// unknown key refused: true
	// scanner saved directory serial 1
	// scanned: green
	// scanned again: true
}
