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
	"sync/atomic"
	"time"

	"github.com/statustoken/statustoken/holder"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/issue/issuetest"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

func main() {
	n := flag.Int("n", 10000, "tokens to issue per suite")
	batch := flag.Int("batch", 1024, "batch size for batch verification")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: demo [-n tokens] [-batch size]\n\n"+
			"Runs an issuer, its transparency log and witnesses, a wallet and a scanner in one process:\n"+
			"issues tokens blindly and at a walk-in kiosk, verifies them one at a time and in batches,\n"+
			"and shows forged, stale, replayed and split-view inputs refused.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *n < 1 || *n > 1_000_000 || *batch < 1 || *batch > 1<<16 {
		fmt.Fprintln(os.Stderr, "demo: -n must be 1..1000000 and -batch 1..65536")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, newOutput(os.Stdout), *n, *batch)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

var statuses = []token.StatusName{{Code: 1, Name: "green"}, {Code: 2, Name: "amber"}, {Code: 3, Name: "red"}}

func run(ctx context.Context, out *output, n, batchSize int) error {
	now := time.Now()
	out.say("statustoken demo: an issuer, its log and witnesses, a wallet and a scanner,")
	out.say("all in this one process.")

	out.phase("1. The issuer publishes its key directory: one public key per status and day, " +
		"signed by its root key, which every wallet and scanner has built in.")
	// The issuer comes with its log and three witnesses, w1 to w3, all keys
	// in this process (issuetest), of which w1 and w2 cosign and w3 is
	// offline; examples/deploy runs them as services.
	pub, err := issuetest.NewPublisher(issue.Config{
		EpochLength: 24 * time.Hour,
		Statuses:    statuses,
		Suites:      []token.Suite{token.Ed25519, token.RSABSSA},
		RSAKeys:     issue.NewMemoryKeyStore(),
	}, &issuetest.Options{Origin: "demo.statustoken.example/directory"})
	if err != nil {
		return err
	}
	issuer := pub.Issuer
	start := time.Now()
	dir, sig, err := issuer.Directory(now, 1)
	if err != nil {
		return err
	}
	out.say("   directory serial 1: statuses green, amber and red, keys for today and")
	out.say("   tomorrow, %.1f KB (%v, RSA keys generated)", float64(len(dir))/1000, time.Since(start).Round(time.Millisecond))

	out.phase("2. The directory goes into an append-only log, and three independent witnesses cosign the log's " +
		"state after checking that it only grew. Wallets and scanners accept a directory only with that " +
		"proof, so nobody can be given a directory of their own. (Here the witnesses are keys in this process.)")
	first, err := pub.PublishDirectory(dir, sig, now)
	if err != nil {
		return err
	}
	out.say("   logged at index 0, cosigned by 2 of the 3 witnesses (the third is")
	out.say("   offline); proof of %d bytes", len(first.Proof))
	wallet, err := holder.New(first, pub.Trust, nil)
	if err != nil {
		return err
	}
	scanner, err := verify.New(first, pub.Trust, nil)
	if err != nil {
		return err
	}

	out.phase("3. Blind issuance (rsabssa, RSA blind signatures of RFC 9474): the wallet sends only blinded " +
		"messages, so the issuer signs tokens it never sees and cannot recognise them when they are scanned.")
	start = time.Now()
	blind, err := issueBlind(ctx, out, issuer, wallet, now, n)
	if err != nil {
		return err
	}
	out.rate("   issued, checked by the wallet", len(blind), time.Since(start))

	out.phase("4. Kiosk issuance (ed25519): a walk-in test site that never asks who you are signs tokens " +
		"directly. They are smaller and faster to check, but the issuer sees each one, so this suits only " +
		"issuers that never learn who the holder is.")
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
		out.progress("   issuing", len(kiosk), n, start)
	}
	out.rate("   issued, checked by the wallet", len(kiosk), time.Since(start))

	out.phase("5. A scanner checks tokens offline, one at a time as at a door, then in batches as at a busy " +
		"gate, where checking many signatures at once is several times faster per token.")
	verified := 0
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
		for i, raw := range raws {
			r, err := scanner.Verify(ctx, raw)
			if err != nil {
				return fmt.Errorf("valid %s token refused: %w", set.name, err)
			}
			counts[r.StatusName]++
			if i%256 == 0 {
				out.progress("   verifying "+set.name+" one at a time", i, len(raws), start)
			}
		}
		out.rate("   "+set.name+", one at a time", len(raws), time.Since(start))
		out.say("     green %d, amber %d, red %d", counts["green"], counts["amber"], counts["red"])

		errs := make([]error, len(raws))
		b := scanner.NewBatch()
		start = time.Now()
		for i := 0; i < len(raws); i += batchSize {
			j := min(i+batchSize, len(raws))
			if err := b.Verify(ctx, raws[i:j], nil, errs[i:j]); err != nil {
				return fmt.Errorf("valid %s batch refused: %w", set.name, err)
			}
			out.progress("   verifying "+set.name+" in batches", j, len(raws), start)
		}
		out.rate(fmt.Sprintf("   %s, in batches of %d", set.name, batchSize), len(raws), time.Since(start))
		verified += 2 * len(raws)
	}

	out.phase("6. Tokens the scanner must refuse: forged, changed, stale, from another issuer, or shown twice.")
	refused, err := refusals(ctx, out, scanner, first, pub.Trust, blind[0], kiosk[0], now)
	if err != nil {
		return err
	}

	out.phase("7. A split view: the authority signs a second directory in which one status's key is its own, " +
		"to recognise one group's tokens, and gives it to one wallet. The wallet refuses it.")
	splits, err := splitView(out, pub, first, now)
	if err != nil {
		return err
	}

	text, err := kiosk[0].MarshalText()
	if err != nil {
		return err
	}
	out.phase("8. What a wallet shows at a scan: a token's QR text, nothing but version, suite, status, expiry, " +
		"key ID, a random nonce and a signature; no name, no number, nothing about the person.")
	out.say("   %s", text)
	out.say("   (%d characters, a version-7 QR code at level M; a token is %d bytes", len(text), token.Ed25519.Size())
	out.say("   as ed25519, %d as rsabssa)", token.RSABSSA.Size())

	out.say("")
	out.wrap("verdict: OK:", "  ", fmt.Sprintf("%d tokens issued, %d verifications accepted, %d bad tokens and %d split-view directories refused, as they must be.",
		len(blind)+len(kiosk), verified, refused, splits))
	return nil
}

// issueBlind runs blind issuance for n tokens, in requests of up to
// issue.MaxTokens, spread over the statuses and over all cores.
func issueBlind(ctx context.Context, out *output, issuer *issue.Issuer, wallet *holder.Holder, now time.Time, n int) ([]*token.Token, error) {
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
	var done atomic.Int64
	start := time.Now()
	stopProgress := out.ticker(func() { out.progress("   issuing", int(done.Load()), n, start) })
	defer stopProgress()
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := w; j < len(jobs) && ctx.Err() == nil; j += workers {
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
				done.Add(int64(len(results[j])))
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var toks []*token.Token
	for j := range jobs {
		if errs[j] != nil {
			return nil, errs[j]
		}
		toks = append(toks, results[j]...)
	}
	return toks, nil
}

// refusals shows the scanner refusing tokens it must refuse, and returns
// their number.
func refusals(ctx context.Context, out *output, scanner *verify.Verifier, first token.Published, trust *token.Trust,
	blindTok, edTok *token.Token, now time.Time) (int, error) {
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
		return 0, err
	}
	clock = now.Add(72 * time.Hour)
	_, otherRoot, _ := ed25519.GenerateKey(rand.Reader)
	seed := make([]byte, issue.SeedSize)
	rand.Read(seed)
	other, err := issue.NewIssuer(issue.Config{RootKey: otherRoot, Seed: seed, EpochLength: 24 * time.Hour, Statuses: statuses})
	if err != nil {
		return 0, err
	}
	foreign, err := other.IssueEd25519(1, now, 1)
	if err != nil {
		return 0, err
	}
	foreignRaw, _ := foreign[0].MarshalBinary()
	spent, err := verify.New(first, trust, &verify.Options{Spent: verify.NewMemoryStore(0, nil)})
	if err != nil {
		return 0, err
	}
	if _, err := spent.Verify(ctx, edRaw); err != nil {
		return 0, err
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
			return 0, fmt.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
		out.wrap("   "+c.name+":", "     ", err.Error())
	}
	return len(cases), nil
}

// splitView publishes serial 2 honestly, then shows a wallet that still
// holds serial 1 refusing a split serial 2 made for it.
func splitView(out *output, pub *issuetest.Publisher, first token.Published, now time.Time) (int, error) {
	second, err := pub.Publish(now, 2)
	if err != nil {
		return 0, err
	}
	everyone, err := holder.New(first, pub.Trust, nil)
	if err != nil {
		return 0, err
	}
	if err := everyone.Update(second); err != nil {
		return 0, fmt.Errorf("honest serial 2 refused: %w", err)
	}
	target, err := holder.New(first, pub.Trust, nil)
	if err != nil {
		return 0, err
	}
	notLogged, forked, err := splitViewOf(pub, second, target)
	if err != nil {
		return 0, err
	}
	out.say("   every other wallet updated to the honest serial 2; the split serial 2")
	out.say("   was refused:")
	for _, c := range []struct {
		name string
		err  error
		want error
	}{
		{"with the honest directory's proof", notLogged, token.ErrNotLogged},
		{"logged in a fork no witness cosigned", forked, token.ErrQuorum},
	} {
		if !errors.Is(c.err, c.want) {
			return 0, fmt.Errorf("split view %s: got %v, want %v", c.name, c.err, c.want)
		}
		out.wrap("   "+c.name+":", "     ", c.err.Error())
	}
	if d := target.Directory(); d.Serial != 1 {
		return 0, fmt.Errorf("the targeted wallet moved to serial %d", d.Serial)
	}
	out.say("   the targeted wallet keeps serial 1, as everyone else had it")
	return 2, nil
}
