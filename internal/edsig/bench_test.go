package edsig

import (
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"testing"
)

// Benchmarks, all on one key and 45-byte messages. Per-signature costs are
// reported as ns/entry; divide them by the ns/op of
// BenchmarkBaseline/stdlib-ed25519 from the same run to get the ratio to one
// crypto/ed25519.Verify. Reproduce with
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

var sinkBool bool

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
	for b.Loop() {
		sinkBool = Verify(pk, sigs[0].msg, sigs[0].sig)
	}
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
	for b.Loop() {
		batch.Reset()
		for _, s := range sigs {
			batch.Add(pk, s.msg, s.sig)
		}
		sinkBool = batch.Verify(nil, results)
	}
	if sinkBool != allGood {
		b.Fatal("wrong result")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/entry")
}

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
