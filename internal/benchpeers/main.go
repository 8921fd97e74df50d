// Command benchpeers measures statustoken's Ed25519 batch verification
// against other Go implementations, in one run on one core, and prints the
// cost per signature of each as a ratio to one crypto/ed25519.Verify:
//
//	cd internal/benchpeers && go run . [-sizes 64,1024,4096] [-rounds 21]
//
// Every implementation verifies the same signatures: valid Ed25519 token
// signatures under one issuing key, over statustoken's 67-byte signed
// message. Each round times every implementation once, for about 60ms,
// one after another in an order that rotates between rounds; every figure
// printed is a median over the rounds of a ratio between timings of the
// same round, so that the drift in speed of a shared machine, which is
// slow next to one round, cancels out.
//
// It is a separate module so that the peers stay out of statustoken's own
// requirements.
package main

import (
	"context"
	"crypto/ed25519"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hdevalence/ed25519consensus"
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"

	"github.com/statustoken/statustoken/internal/edsig"
	"github.com/statustoken/statustoken/internal/format"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/issue/issuetest"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

type workload struct {
	raws     [][]byte // whole tokens
	texts    []string // their text forms
	msgs     [][]byte // signed messages
	sigs     [][]byte
	pub      ed25519.PublicKey
	verifier *verify.Verifier
}

func newWorkload(n int) (*workload, error) {
	p, err := issuetest.NewPublisher(issue.Config{EpochLength: 24 * time.Hour,
		Statuses: []token.StatusName{{Code: 1, Name: "green"}}}, nil)
	if err != nil {
		return nil, err
	}
	is := p.Issuer
	now := time.Now()
	pub, err := p.Publish(now, 1)
	if err != nil {
		return nil, err
	}
	w := &workload{}
	if w.verifier, err = verify.New(pub, p.Trust, nil); err != nil {
		return nil, err
	}
	for len(w.raws) < n {
		toks, err := is.IssueEd25519(1, now, min(issue.MaxTokens, n-len(w.raws)))
		if err != nil {
			return nil, err
		}
		for _, t := range toks {
			raw, err := t.MarshalBinary()
			if err != nil {
				return nil, err
			}
			text, err := t.MarshalText()
			if err != nil {
				return nil, err
			}
			w.raws = append(w.raws, raw)
			w.texts = append(w.texts, string(text))
			w.msgs = append(w.msgs, format.AppendMessage(nil, raw))
			w.sigs = append(w.sigs, t.Signature)
		}
	}
	d := w.verifier.Directory()
	w.pub = ed25519.PublicKey(d.Keys[0].PublicKey)
	return w, nil
}

// impl is one implementation under test. setup prepares it for a
// workload and returns one iteration: a verification of every signature,
// reporting whether all were found valid.
type impl struct {
	name  string
	setup func(w *workload) (func() bool, error)
}

var impls = []impl{
	{"crypto/ed25519.Verify", func(w *workload) (func() bool, error) {
		return func() bool {
			for i := range w.msgs {
				if !ed25519.Verify(w.pub, w.msgs[i], w.sigs[i]) {
					return false
				}
			}
			return true
		}, nil
	}},
	{"statustoken verify.Batch (tokens)", func(w *workload) (func() bool, error) {
		batch := w.verifier.NewBatch()
		errs := make([]error, len(w.raws))
		return func() bool { return batch.Verify(context.Background(), w.raws, nil, errs) == nil }, nil
	}},
	{"statustoken verify.Batch (token texts)", func(w *workload) (func() bool, error) {
		batch := w.verifier.NewBatch()
		errs := make([]error, len(w.raws))
		return func() bool { return batch.VerifyText(context.Background(), w.texts, nil, errs) == nil }, nil
	}},
	{"statustoken edsig.Batch (signatures)", func(w *workload) (func() bool, error) {
		pk, err := edsig.NewPublicKey(w.pub)
		if err != nil {
			return nil, err
		}
		var batch edsig.Batch
		ok := make([]bool, len(w.msgs))
		return func() bool {
			batch.Reset()
			for i := range w.msgs {
				batch.Add(pk, w.msgs[i], w.sigs[i])
			}
			all, err := batch.Verify(ok)
			return all && err == nil
		}, nil
	}},
	{"curve25519-voi BatchVerifier", func(w *workload) (func() bool, error) {
		epk, err := voi.NewExpandedPublicKey(voi.PublicKey(w.pub))
		if err != nil {
			return nil, err
		}
		v := voi.NewBatchVerifierWithCapacity(len(w.msgs))
		return func() bool {
			v.Reset()
			for i := range w.msgs {
				v.AddExpanded(epk, w.msgs[i], w.sigs[i])
			}
			return v.VerifyBatchOnly(nil)
		}, nil
	}},
	{"ed25519consensus BatchVerifier", func(w *workload) (func() bool, error) {
		return func() bool {
			v := ed25519consensus.NewPreallocatedBatchVerifier(len(w.msgs))
			for i := range w.msgs {
				v.Add(w.pub, w.msgs[i], w.sigs[i])
			}
			return v.Verify()
		}, nil
	}},
}

// Indexes into impls used by the summary lines.
const (
	stdlibImpl = 0
	tokensImpl = 1
	textsImpl  = 2
	sigsImpl   = 3
	voiImpl    = 4
)

// sample is the time of one measurement, long enough to be timed
// accurately and short enough that the machine's speed barely drifts
// within it.
const sample = 60 * time.Millisecond

// measure times iters iterations of run and returns the ns per signature.
func measure(run func() bool, iters, n int) (float64, error) {
	start := time.Now()
	for range iters {
		if !run() {
			return 0, fmt.Errorf("a valid signature was rejected")
		}
	}
	return float64(time.Since(start).Nanoseconds()) / float64(iters*n), nil
}

// median returns the median of xs, which it sorts.
func median(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}

func main() {
	sizesFlag := flag.String("sizes", "8,64,256,1024,4096", "comma-separated batch sizes")
	rounds := flag.Int("rounds", 21, "rounds per size; the table shows medians")
	flag.Parse()
	var sizes []int
	for _, s := range strings.Split(*sizesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 1<<16 {
			fmt.Fprintf(os.Stderr, "benchpeers: bad size %q\n", s)
			os.Exit(2)
		}
		sizes = append(sizes, n)
	}
	if *rounds < 1 || *rounds > 200 {
		fmt.Fprintln(os.Stderr, "benchpeers: -rounds must be 1..200")
		os.Exit(2)
	}
	if err := run(sizes, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "benchpeers:", err)
		os.Exit(1)
	}
}

func run(sizes []int, rounds int) error {
	runtime.GOMAXPROCS(1)
	// ratio[i][si] is the median over rounds of implementation i's time
	// per signature over crypto/ed25519.Verify's in the same round;
	// voiSpeedup and overhead are medians of same-round ratios too.
	ratio := make([][]float64, len(impls))
	for i := range impls {
		ratio[i] = make([]float64, len(sizes))
	}
	stdlibNs := make([]float64, len(sizes)) // median ns per verification
	voiSpeedup := make([]float64, len(sizes))
	overhead := make([]float64, len(sizes))
	textCost := make([]float64, len(sizes))
	for si, n := range sizes {
		w, err := newWorkload(n)
		if err != nil {
			return err
		}
		runs := make([]func() bool, len(impls))
		iters := make([]int, len(impls))
		for i, im := range impls {
			if runs[i], err = im.setup(w); err != nil {
				return fmt.Errorf("%s: %v", im.name, err)
			}
			// Warm up, then size each sample to about the same duration.
			start := time.Now()
			count := 0
			for time.Since(start) < sample/2 || count < 2 {
				if !runs[i]() {
					return fmt.Errorf("%s: a valid signature was rejected", im.name)
				}
				count++
			}
			per := time.Since(start) / time.Duration(count)
			iters[i] = max(1, int(sample/per))
		}
		perRound := make([][]float64, len(impls)) // ns per signature
		for r := range rounds {
			// Rotate the order so that no implementation always runs
			// first.
			for k := range impls {
				i := (k + r) % len(impls)
				t, err := measure(runs[i], iters[i], n)
				if err != nil {
					return fmt.Errorf("%s: %v", impls[i].name, err)
				}
				perRound[i] = append(perRound[i], t)
			}
		}
		for i := range impls {
			var rs []float64
			for r := range rounds {
				rs = append(rs, perRound[i][r]/perRound[stdlibImpl][r])
			}
			ratio[i][si] = median(rs)
		}
		stdlibNs[si] = median(slices.Clone(perRound[stdlibImpl]))
		var sp, ov, tc []float64
		for r := range rounds {
			sp = append(sp, perRound[voiImpl][r]/perRound[tokensImpl][r])
			ov = append(ov, perRound[tokensImpl][r]/perRound[sigsImpl][r]-1)
			tc = append(tc, perRound[textsImpl][r]/perRound[tokensImpl][r])
		}
		voiSpeedup[si], overhead[si], textCost[si] = median(sp), median(ov), median(tc)
	}

	fmt.Printf("Time per signature as a ratio to one crypto/ed25519.Verify in the same round\n")
	fmt.Printf("(one core; medians of %d rounds, each timing every implementation for about %v;\n", rounds, sample)
	fmt.Printf("crypto/ed25519.Verify took")
	for si, n := range sizes {
		fmt.Printf(" %.0f ns (n=%d)", stdlibNs[si], n)
	}
	fmt.Printf(")\n\n")
	fmt.Printf("| %-38s |", "implementation")
	for _, n := range sizes {
		fmt.Printf(" n=%-6d |", n)
	}
	fmt.Printf("\n|%s|", strings.Repeat("-", 40))
	for range sizes {
		fmt.Printf("%s|", strings.Repeat("-", 10))
	}
	fmt.Println()
	for i, im := range impls {
		fmt.Printf("| %-38s |", im.name)
		for si := range sizes {
			fmt.Printf(" %8.3f |", ratio[i][si])
		}
		fmt.Println()
	}
	fmt.Printf("\nstatustoken verify.Batch speed-up over curve25519-voi per signature:")
	for si, n := range sizes {
		fmt.Printf("  n=%d %.2fx", n, voiSpeedup[si])
	}
	fmt.Printf("\nwhole-token overhead of verify.Batch over edsig.Batch:")
	for si, n := range sizes {
		fmt.Printf("  n=%d %+.1f%%", n, 100*overhead[si])
	}
	fmt.Printf("\ntoken texts over binary tokens, verify.Batch:")
	for si, n := range sizes {
		fmt.Printf("  n=%d %.3fx", n, textCost[si])
	}
	fmt.Println()
	return nil
}
