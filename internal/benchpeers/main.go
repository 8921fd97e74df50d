// Command benchpeers measures statustoken's Ed25519 batch verification
// against other Go implementations, in one run on one core, and prints the
// cost per signature of each as a ratio to one crypto/ed25519.Verify:
//
//	cd internal/benchpeers && go run . [-sizes 64,1024,4096] [-rounds 3]
//
// Every implementation verifies the same signatures: valid Ed25519 token
// signatures under one issuing key, over statustoken's 67-byte signed
// message. Rows are medians over the rounds, and every implementation is
// measured in each round, so that noise on a shared machine hits all
// columns alike.
//
// It is a separate module so that the peers stay out of statustoken's own
// requirements.
package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hdevalence/ed25519consensus"
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"

	"github.com/statustoken/statustoken/internal/edsig"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

type workload struct {
	raws     [][]byte // whole tokens
	msgs     [][]byte // signed messages
	sigs     [][]byte
	pub      ed25519.PublicKey
	verifier *verify.Verifier
}

func newWorkload(n int) (*workload, error) {
	_, root, _ := ed25519.GenerateKey(rand.Reader)
	seed := make([]byte, issue.SeedSize)
	rand.Read(seed)
	is, err := issue.NewIssuer(issue.Config{RootKey: root, Seed: seed, EpochLength: 24 * time.Hour,
		Statuses: []token.StatusName{{Code: 1, Name: "green"}}})
	if err != nil {
		return nil, err
	}
	now := time.Now()
	dir, sig, err := is.Directory(now, 1)
	if err != nil {
		return nil, err
	}
	w := &workload{}
	if w.verifier, err = verify.New(dir, sig, is.RootPublicKey(), nil); err != nil {
		return nil, err
	}
	for len(w.raws) < n {
		toks, err := is.IssueEd25519(1, now, min(issue.MaxTokens, n-len(w.raws)))
		if err != nil {
			return nil, err
		}
		for _, t := range toks {
			raw, err := t.Marshal()
			if err != nil {
				return nil, err
			}
			w.raws = append(w.raws, raw)
			w.msgs = append(w.msgs, t.Message())
			w.sigs = append(w.sigs, t.Signature)
		}
	}
	d := w.verifier.Directory()
	w.pub = ed25519.PublicKey(d.Keys[0].PublicKey)
	return w, nil
}

type impl struct {
	name string
	run  func(w *workload) func(b *testing.B)
}

var impls = []impl{
	{"crypto/ed25519.Verify", func(w *workload) func(*testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				for i := range w.msgs {
					if !ed25519.Verify(w.pub, w.msgs[i], w.sigs[i]) {
						b.Fatal("invalid")
					}
				}
			}
		}
	}},
	{"statustoken verify.Batch (tokens)", func(w *workload) func(*testing.B) {
		return func(b *testing.B) {
			batch := w.verifier.NewBatch()
			errs := make([]error, len(w.raws))
			for b.Loop() {
				if err := batch.Verify(w.raws, errs); err != nil {
					b.Fatal(err)
				}
			}
		}
	}},
	{"statustoken edsig.Batch (signatures)", func(w *workload) func(*testing.B) {
		return func(b *testing.B) {
			pk, err := edsig.NewPublicKey(w.pub)
			if err != nil {
				b.Fatal(err)
			}
			var batch edsig.Batch
			ok := make([]bool, len(w.msgs))
			for b.Loop() {
				batch.Reset()
				for i := range w.msgs {
					batch.Add(pk, w.msgs[i], w.sigs[i])
				}
				if !batch.Verify(nil, ok) {
					b.Fatal("invalid")
				}
			}
		}
	}},
	{"curve25519-voi BatchVerifier", func(w *workload) func(*testing.B) {
		return func(b *testing.B) {
			epk, err := voi.NewExpandedPublicKey(voi.PublicKey(w.pub))
			if err != nil {
				b.Fatal(err)
			}
			v := voi.NewBatchVerifierWithCapacity(len(w.msgs))
			for b.Loop() {
				v.Reset()
				for i := range w.msgs {
					v.AddExpanded(epk, w.msgs[i], w.sigs[i])
				}
				if !v.VerifyBatchOnly(nil) {
					b.Fatal("invalid")
				}
			}
		}
	}},
	{"ed25519consensus BatchVerifier", func(w *workload) func(*testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				v := ed25519consensus.NewPreallocatedBatchVerifier(len(w.msgs))
				for i := range w.msgs {
					v.Add(w.pub, w.msgs[i], w.sigs[i])
				}
				if !v.Verify() {
					b.Fatal("invalid")
				}
			}
		}
	}},
}

func main() {
	sizesFlag := flag.String("sizes", "8,64,256,1024,4096", "comma-separated batch sizes")
	rounds := flag.Int("rounds", 3, "rounds per size; the table shows medians")
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
	if *rounds < 1 || *rounds > 50 {
		fmt.Fprintln(os.Stderr, "benchpeers: -rounds must be 1..50")
		os.Exit(2)
	}
	runtime.GOMAXPROCS(1)
	fmt.Printf("ns per signature, and its ratio to one crypto/ed25519.Verify (same run, one core, median of %d rounds)\n\n", *rounds)
	fmt.Printf("| %-38s |", "implementation")
	for _, n := range sizes {
		fmt.Printf(" n=%-14d |", n)
	}
	fmt.Printf("\n|%s|", strings.Repeat("-", 40))
	for range sizes {
		fmt.Printf("%s|", strings.Repeat("-", 18))
	}
	fmt.Println()
	table := make([][]float64, len(impls)) // [impl][size] ns per signature
	for i := range impls {
		table[i] = make([]float64, len(sizes))
	}
	for si, n := range sizes {
		w, err := newWorkload(n)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchpeers:", err)
			os.Exit(1)
		}
		samples := make([][]float64, len(impls))
		for range *rounds {
			for i, im := range impls {
				r := testing.Benchmark(im.run(w))
				samples[i] = append(samples[i], float64(r.NsPerOp())/float64(n))
			}
		}
		for i := range impls {
			slices.Sort(samples[i])
			table[i][si] = samples[i][len(samples[i])/2]
		}
	}
	for i, im := range impls {
		fmt.Printf("| %-38s |", im.name)
		for si := range sizes {
			fmt.Printf(" %6.0f ns  %5.3f |", table[i][si], table[i][si]/table[0][si])
		}
		fmt.Println()
	}
	fmt.Printf("\nstatustoken verify.Batch speed-up over curve25519-voi per signature:")
	for si, n := range sizes {
		fmt.Printf("  n=%d %.2fx", n, table[3][si]/table[1][si])
	}
	fmt.Printf("\nwhole-token overhead of verify.Batch over edsig.Batch:")
	for si, n := range sizes {
		fmt.Printf("  n=%d %+.1f%%", n, 100*(table[1][si]/table[2][si]-1))
	}
	fmt.Println()
}
