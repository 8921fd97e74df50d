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

// BenchmarkBatchPath is BenchmarkBatch on each path that the processor and
// build offer (AVX-512 IFMA, AVX2, scalar), for the ratios of one run:
//
//	go test ./internal/edsig -run '^$' -bench 'BatchPath' -cpu 1 -count 5
func BenchmarkBatchPath(b *testing.B) {
	for _, path := range vecPaths() {
		for _, n := range []int{64, 1024, 4096} {
			b.Run(fmt.Sprintf("path=%s/n=%d", path.name, n), func(b *testing.B) {
				setPath(b, path)
				benchBatch(b, n, func(int) bool { return false })
			})
		}
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

// BenchmarkFloor compares an all-valid batch of 1024 with its floor, the
// work that no batch can avoid: hashing R || A || M with SHA-512 and
// decoding R, for each signature. The floor is timed with the scalar
// decoder (two points at a time) and with the batch's own decoder (in
// vector lanes, where available), in the same iterations as the batch,
// whose time is split into its phases: Add (hashing), R decoding, weights
// and scalar folding, and the multi-scalar multiplication. Each figure is
// reported per signature, as a ratio to crypto/ed25519.Verify (x-stdlib)
// and to the two floors, on each path that the processor and build offer
// (AVX-512 IFMA, AVX2, scalar):
//
//	go test ./internal/edsig -run '^$' -bench Floor -cpu 1 -count 5
func BenchmarkFloor(b *testing.B) {
	for _, path := range vecPaths() {
		b.Run("path="+path.name, func(b *testing.B) {
			setPath(b, path)
			benchFloor(b)
		})
	}
}

func benchFloor(b *testing.B) {
	const n = 1024
	pk, _, sigs := benchWorkload(b, n)
	h := newHasher()
	enc := make([][32]byte, n)
	out := make([]affinePoint, n)
	dropped := make([]int32, 0, n)
	var k [32]byte
	batch := NewBatch(n)
	results := make([]bool, n)
	var q extPoint
	var tFloorScalar, tFloorVector, tAdd, tDecode, tRest, tFold, tMSM time.Duration
	before := stdlibNs(b)
	for b.Loop() {
		t0 := time.Now()
		for i, s := range sigs {
			h.challenge(&k, s.sig[:32], pk.enc[:], s.msg)
			enc[i] = [32]byte(s.sig[:32])
		}
		dropped = decodeNegPairsVarTime(out, enc, 0, dropped[:0])
		t1 := time.Now()
		for i, s := range sigs {
			h.challenge(&k, s.sig[:32], pk.enc[:], s.msg)
			enc[i] = [32]byte(s.sig[:32])
		}
		dropped = decodeNegManyVarTime(out, enc, 0, dropped[:0])
		t2 := time.Now()
		batch.Reset()
		for _, s := range sigs {
			batch.Add(pk, s.msg, s.sig)
		}
		t3 := time.Now()
		batch.decodeVarTime()
		t4 := time.Now()
		if ok, err := batch.Verify(results); !ok || err != nil {
			b.Fatal("verification failed")
		}
		t5 := time.Now()
		// Again, the scalar folding and the multiplication alone, on the
		// weights that Verify drew.
		sLo, sHi := batch.foldScalars(0, n)
		t6 := time.Now()
		batch.pippengerVarTime(&q, 0, n, sLo, sHi, pippengerWindow(n))
		t7 := time.Now()
		tFloorScalar += t1.Sub(t0)
		tFloorVector += t2.Sub(t1)
		tAdd += t3.Sub(t2)
		tDecode += t4.Sub(t3)
		tRest += t5.Sub(t4)
		tFold += t6.Sub(t5)
		tMSM += t7.Sub(t6)
	}
	std := (before + stdlibNs(b)) / 2
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) / n }
	batchTime := tAdd + tDecode + tRest
	b.ReportMetric(per(tFloorScalar)/std, "floor-scalar-x-stdlib")
	b.ReportMetric(per(tFloorVector)/std, "floor-vector-x-stdlib")
	b.ReportMetric(per(batchTime)/std, "batch-x-stdlib")
	b.ReportMetric(float64(batchTime)/float64(tFloorScalar), "batch/floor-scalar")
	b.ReportMetric(float64(batchTime)/float64(tFloorVector), "batch/floor-vector")
	b.ReportMetric(float64(tAdd)/float64(batchTime), "share-add")
	b.ReportMetric(float64(tDecode)/float64(batchTime), "share-decode")
	b.ReportMetric(float64(tFold)/float64(batchTime), "share-fold")
	b.ReportMetric(float64(tMSM)/float64(batchTime), "share-msm")
	b.ReportMetric(float64(tRest-tFold-tMSM)/float64(batchTime), "share-other")
}
