package edsig

import (
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// Benchmarks, all on one key and 45-byte messages. Per-signature costs are
// reported as ns/entry; divide them by the ns/op of
// BenchmarkBaseline/stdlib-ed25519 from the same run to get the ratio to one
// crypto/ed25519.Verify. On a shared machine, whose speed drifts between
// benchmarks, the x-stdlib metric is steadier: each benchmark times
// crypto/ed25519.Verify itself just before and just after its own loop and
// divides its ns/entry by the mean. Reproduce with
//
//	go test ./internal/edsig -run '^$' -bench . -cpu 1 -count 3

type benchSig struct{ msg, sig []byte }

func benchWorkload(b *testing.B, n int) (*PublicKey, ed25519.PublicKey, []benchSig) {
	b.Helper()
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	pub := priv.Public().(ed25519.PublicKey)
	pk, err := NewPublicKey(pub)
	if err != nil {
		b.Fatal(err)
	}
	sigs := make([]benchSig, n)
	for i := range sigs {
		msg := fmt.Appendf(nil, "statustoken benchmark message number %08d", i)[:45]
		sigs[i] = benchSig{msg, ed25519.Sign(priv, msg)}
	}
	return pk, pub, sigs
}

var (
	sinkBool   bool
	sinkStdlib bool
)

// stdlibNs times crypto/ed25519.Verify of a 45-byte message for about 50ms
// and returns its ns/op.
func stdlibNs(b *testing.B) float64 {
	b.Helper()
	_, pub, sigs := benchWorkload(b, 1)
	n := 0
	start := time.Now()
	for time.Since(start) < 50*time.Millisecond {
		sinkStdlib = ed25519.Verify(pub, sigs[0].msg, sigs[0].sig)
		n++
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

// reportPerEntry reports ns/entry and its ratio to the mean of before and
// after, two timings of crypto/ed25519.Verify.
func reportPerEntry(b *testing.B, n int, before, after float64) {
	perEntry := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(n)
	b.ReportMetric(perEntry, "ns/entry")
	b.ReportMetric(perEntry/((before+after)/2), "x-stdlib")
}

func BenchmarkBaseline(b *testing.B) {
	b.Run("stdlib-ed25519", func(b *testing.B) {
		_, pub, sigs := benchWorkload(b, 1)
		for b.Loop() {
			sinkBool = ed25519.Verify(pub, sigs[0].msg, sigs[0].sig)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	pk, _, sigs := benchWorkload(b, 1)
	before := stdlibNs(b)
	for b.Loop() {
		sinkBool = Verify(pk, sigs[0].msg, sigs[0].sig)
	}
	reportPerEntry(b, 1, before, stdlibNs(b))
}

func BenchmarkNewPublicKey(b *testing.B) {
	_, pub, _ := benchWorkload(b, 1)
	for b.Loop() {
		_, err := NewPublicKey(pub)
		sinkBool = err == nil
	}
}

// benchBatch measures Add and Verify of every signature, where the
// entries i with bad(i) are forged.
func benchBatch(b *testing.B, n int, bad func(int) bool) {
	pk, _, sigs := benchWorkload(b, n)
	allGood := true
	for i := range sigs {
		if bad(i) {
			sigs[i].msg = append([]byte{0}, sigs[i].msg[1:]...)
			allGood = false
		}
	}
	batch := NewBatch(n)
	results := make([]bool, n)
	before := stdlibNs(b)
	for b.Loop() {
		batch.Reset()
		for _, s := range sigs {
			batch.Add(pk, s.msg, s.sig)
		}
		ok, err := batch.Verify(results)
		if err != nil {
			b.Fatal(err)
		}
		sinkBool = ok
	}
	after := stdlibNs(b)
	if sinkBool != allGood {
		b.Fatal("wrong result")
	}
	reportPerEntry(b, n, before, after)
}

// BenchmarkBatch measures Add and Verify per signature, weights included.
// The cost of the batch, and of drawing its weights (BenchmarkWeights),
// against crypto/ed25519.Verify at 64 and 1024 signatures, from one run:
//
//	go test ./internal/edsig -run '^$' -bench '(Baseline|Batch|Weights)$/(stdlib|n=64$|n=1024$)' -cpu 1 -count 6
func BenchmarkBatch(b *testing.B) {
	for _, n := range []int{1, 8, 64, 256, 1024, 4096} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			benchBatch(b, n, func(int) bool { return false })
		})
	}
}

func BenchmarkBatchOneBad(b *testing.B) {
	const n = 1024
	b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
		bad := rand.New(rand.NewPCG(1, 1)).IntN(n)
		benchBatch(b, n, func(i int) bool { return i == bad })
	})
}

// BenchmarkBatchAllBad is the worst case of bisection; compare it with
// BenchmarkVerify, the cost of checking each signature on its own.
func BenchmarkBatchAllBad(b *testing.B) {
	const n = 1024
	b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
		benchBatch(b, n, func(int) bool { return true })
	})
}

// BenchmarkWeights measures the drawing of a batch's weights alone, per
// signature (command at BenchmarkBatch).
func BenchmarkWeights(b *testing.B) {
	for _, n := range []int{64, 1024} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			pk, _, sigs := benchWorkload(b, n)
			batch := NewBatch(n)
			for _, s := range sigs {
				batch.Add(pk, s.msg, s.sig)
			}
			batch.decodeVarTime()
			before := stdlibNs(b)
			for b.Loop() {
				if err := batch.drawWeights(); err != nil {
					b.Fatal(err)
				}
			}
			reportPerEntry(b, n, before, stdlibNs(b))
		})
	}
}
