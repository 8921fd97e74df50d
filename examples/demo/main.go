// Command demo runs statustoken end to end in one process, with an embedded
// default configuration: an issuer publishes a signed key directory, a
// wallet obtains tokens through blind issuance (rsabssa) and a walk-in
// kiosk issues Ed25519 tokens, and a scanner verifies every token singly
// and in batches, then refuses tampered, expired, foreign and replayed ones.
//
//	go run ./examples/demo [-n 10000] [-batch 1024]
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"time"

	"github.com/statustoken/statustoken/holder"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

func main() {
	n := flag.Int("n", 10000, "tokens to issue per suite")
	batch := flag.Int("batch", 1024, "batch size for batch verification")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: demo [-n tokens] [-batch size]\n\n"+
			"Issues tokens blindly (rsabssa) and at a walk-in kiosk (ed25519), then verifies them\n"+
			"singly and in batches and shows that bad tokens are refused.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *n < 1 || *n > 1_000_000 || *batch < 1 || *batch > 1<<16 {
		fmt.Fprintln(os.Stderr, "demo: -n must be 1..1000000 and -batch 1..65536")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *n, *batch); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

var statuses = []token.StatusName{{Code: 1, Name: "green"}, {Code: 2, Name: "amber"}, {Code: 3, Name: "red"}}

func run(ctx context.Context, n, batchSize int) error {
	now := time.Now()
	_, root, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	seed := make([]byte, issue.SeedSize)
	rand.Read(seed)
	issuer, err := issue.NewIssuer(issue.Config{
		RootKey:     root,
		Seed:        seed,
		EpochLength: 24 * time.Hour,
		Statuses:    statuses,
		Suites:      []token.Suite{token.Ed25519, token.RSABSSA},
		RSAKeys:     issue.NewMemoryKeyStore(),
	})
	if err != nil {
		return err
	}
	start := time.Now()
	dir, sig, err := issuer.Directory(now, 1)
	if err != nil {
		return err
	}
	pub, err := newPublisher(issuer)
	if err != nil {
		return err
	}
	first, err := pub.publish(dir, sig)
	if err != nil {
		return err
	}
	fmt.Printf("issuer: directory serial 1, %d bytes, %d statuses, keys for 2 epochs and 2 suites (%v, RSA keys generated)\n",
		len(dir), len(statuses), time.Since(start).Round(time.Millisecond))
	fmt.Printf("log: directory logged at index 0, checkpoint cosigned by 2 of 3 witnesses; proof %d bytes\n", len(first.Proof))

	wallet, err := holder.New(first, pub.trust, nil)
	if err != nil {
		return err
	}
	scanner, err := verify.New(first, pub.trust, nil)
	if err != nil {
		return err
	}

	// Blind issuance: the wallet asks for tokens of the status the
	// issuer's policy assigns; the issuer only ever sees blinded messages.
	start = time.Now()
	blind, err := issueBlind(issuer, wallet, now, n)
	if err != nil {
		return err
	}
	rate("issued (rsabssa, blind, request+sign+finalize)", len(blind), time.Since(start))

	start = time.Now()
	var kiosk []*token.Token
	for i := 0; len(kiosk) < n; i++ {
		st := statuses[i%len(statuses)].Code
		toks, err := issuer.IssueEd25519(st, now, min(issue.MaxTokens, n-len(kiosk)))
		if err != nil {
			return err
		}
		if err := wallet.Accept(toks); err != nil {
			return err
		}
		kiosk = append(kiosk, toks...)
	}
	rate("issued (ed25519, walk-in kiosk)", len(kiosk), time.Since(start))

	for _, set := range []struct {
		name string
		toks []*token.Token
	}{{"rsabssa", blind}, {"ed25519", kiosk}} {
		raws := make([][]byte, len(set.toks))
		for i, t := range set.toks {
			if raws[i], err = t.MarshalBinary(); err != nil {
				return err
			}
		}
		start = time.Now()
		counts := map[string]int{}
		for _, raw := range raws {
			r, err := scanner.Verify(ctx, raw)
			if err != nil {
				return fmt.Errorf("valid %s token refused: %w", set.name, err)
			}
			counts[r.StatusName]++
		}
		rate("verified singly ("+set.name+")", len(raws), time.Since(start))
		fmt.Printf("  statuses: green %d, amber %d, red %d\n", counts["green"], counts["amber"], counts["red"])

		errs := make([]error, len(raws))
		b := scanner.NewBatch()
		start = time.Now()
		for i := 0; i < len(raws); i += batchSize {
			j := min(i+batchSize, len(raws))
			if err := b.Verify(ctx, raws[i:j], nil, errs[i:j]); err != nil {
				return fmt.Errorf("valid %s batch refused: %w", set.name, err)
			}
		}
		rate(fmt.Sprintf("verified in batches of %d (%s)", batchSize, set.name), len(raws), time.Since(start))
	}

	if err := refusals(ctx, scanner, first, pub.trust, blind[0], kiosk[0], now); err != nil {
		return err
	}
	if err := splitView(pub, root, first, now); err != nil {
		return err
	}

	text, err := kiosk[0].MarshalText()
	if err != nil {
		return err
	}
	fmt.Printf("\none ed25519 token as QR text (%d characters, fits a version-7 QR code at level M):\n%s\n", len(text), text)
	fmt.Printf("\nfree of identity: a token is %d (ed25519) or %d (rsabssa) bytes of version, suite, status, expiry, key ID, nonce and signature\n",
		token.Ed25519.Size(), token.RSABSSA.Size())
	return nil
}

// issueBlind runs blind issuance for n tokens, in requests of up to
// issue.MaxTokens, spread over the statuses and over all cores.
func issueBlind(issuer *issue.Issuer, wallet *holder.Holder, now time.Time, n int) ([]*token.Token, error) {
	type job struct {
		status token.Status
		count  int
	}
	var jobs []job
	for i, left := 0, n; left > 0; i++ {
		c := min(issue.MaxTokens, left)
		jobs = append(jobs, job{statuses[i%len(statuses)].Code, c})
		left -= c
	}
	results := make([][]*token.Token, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := w; j < len(jobs); j += workers {
				pending, req, err := wallet.Request(jobs[j].status, now, jobs[j].count)
				if err != nil {
					errs[j] = err
					continue
				}
				// The issuer's policy gave this holder jobs[j].status.
				resp, err := issuer.Respond(req, now, jobs[j].status)
				if err != nil {
					errs[j] = err
					continue
				}
				results[j], errs[j] = wallet.Finalize(pending, resp)
			}
		}()
	}
	wg.Wait()
	var out []*token.Token
	for j := range jobs {
		if errs[j] != nil {
			return nil, errs[j]
		}
		out = append(out, results[j]...)
	}
	return out, nil
}

// refusals shows the scanner refusing tokens it must refuse.
func refusals(ctx context.Context, scanner *verify.Verifier, first token.Published, trust *token.Trust,
	blindTok, edTok *token.Token, now time.Time) error {
	fmt.Println("\nrefused as they must be:")
	edRaw, _ := edTok.MarshalBinary()
	rsaRaw, _ := blindTok.MarshalBinary()
	flip := func(raw []byte, i int, mask byte) []byte {
		c := append([]byte(nil), raw...)
		c[i] ^= mask
		return c
	}
	// A scanner that loaded the directory now and scans three days later,
	// offline.
	clock := now
	later, err := verify.New(first, trust, &verify.Options{Now: func() time.Time { return clock }})
	if err != nil {
		return err
	}
	clock = now.Add(72 * time.Hour)
	_, otherRoot, _ := ed25519.GenerateKey(rand.Reader)
	seed := make([]byte, issue.SeedSize)
	rand.Read(seed)
	other, err := issue.NewIssuer(issue.Config{RootKey: otherRoot, Seed: seed, EpochLength: 24 * time.Hour, Statuses: statuses})
	if err != nil {
		return err
	}
	foreign, err := other.IssueEd25519(1, now, 1)
	if err != nil {
		return err
	}
	foreignRaw, _ := foreign[0].MarshalBinary()
	spent, err := verify.New(first, trust, &verify.Options{Spent: verify.NewMemoryStore(0, nil)})
	if err != nil {
		return err
	}
	if _, err := spent.Verify(ctx, edRaw); err != nil {
		return err
	}
	cases := []struct {
		name string
		v    *verify.Verifier
		raw  []byte
		want error
	}{
		{"ed25519 signature bit flipped", scanner, flip(edRaw, len(edRaw)-40, 1), verify.ErrInvalidSignature},
		{"rsabssa signature bit flipped", scanner, flip(rsaRaw, len(rsaRaw)-1, 1), verify.ErrInvalidSignature},
		{"nonce changed", scanner, flip(edRaw, 20, 1), verify.ErrInvalidSignature},
		{"status changed", scanner, flip(edRaw, 2, 2), verify.ErrKeyMismatch},
		{"truncated", scanner, edRaw[:len(edRaw)-1], token.ErrMalformed},
		{"scanned three days later", later, edRaw, verify.ErrExpired},
		{"key of another issuer", scanner, foreignRaw, verify.ErrUnknownKey},
		{"presented a second time", spent, edRaw, verify.ErrReplayed},
	}
	for _, c := range cases {
		_, err := c.v.Verify(ctx, c.raw)
		if !errors.Is(err, c.want) {
			return fmt.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
		fmt.Printf("  %-32s %v\n", c.name+":", err)
	}
	return nil
}

// splitView publishes serial 2 honestly, then shows a wallet that still
// holds serial 1 refusing a split serial 2 made for it.
func splitView(pub *publisher, root ed25519.PrivateKey, first token.Published, now time.Time) error {
	dir, sig, err := pub.issuer.Directory(now, 2)
	if err != nil {
		return err
	}
	second, err := pub.publish(dir, sig)
	if err != nil {
		return err
	}
	everyone, err := holder.New(first, pub.trust, nil)
	if err != nil {
		return err
	}
	if err := everyone.Update(second); err != nil {
		return fmt.Errorf("honest serial 2 refused: %w", err)
	}
	target, err := holder.New(first, pub.trust, nil)
	if err != nil {
		return err
	}
	notLogged, forked, err := pub.splitView(root, second, target)
	if err != nil {
		return err
	}
	fmt.Println("\nsplit view refused (a second serial 2, with the authority's own key for one status, given to one wallet):")
	for _, c := range []struct {
		name string
		err  error
		want error
	}{
		{"with the honest directory's proof", notLogged, token.ErrNotLogged},
		{"logged in a fork no witness cosigned", forked, token.ErrQuorum},
	} {
		if !errors.Is(c.err, c.want) {
			return fmt.Errorf("split view %s: got %v, want %v", c.name, c.err, c.want)
		}
		fmt.Printf("  %-40s %v\n", c.name+":", c.err)
	}
	if d := target.Directory(); d.Serial != 1 {
		return fmt.Errorf("the targeted wallet moved to serial %d", d.Serial)
	}
	return nil
}

func rate(what string, n int, d time.Duration) {
	fmt.Printf("%-52s %6d tokens in %8v  %9.0f tokens/s\n", what+":", n, d.Round(time.Millisecond), float64(n)/d.Seconds())
}
