package edsig

import (
	"math/rand/v2"
	"testing"
	"time"

	"filippo.io/edwards25519/field"
)

func TestPow22523Pair(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	var zero, one, minusOne field.Element
	one.One()
	minusOne.Negate(&one)
	inputs := []field.Element{zero, one, minusOne, *sqrtM1, *curveD}
	for range 200 {
		var b [32]byte
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		var x field.Element
		if _, err := x.SetBytes(b[:]); err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, x)
	}
	for i := range inputs {
		j := (i*7 + 3) % len(inputs)
		a, b := inputs[i], inputs[j]
		pow22523Pair(&a, &b)
		var wantA, wantB field.Element
		wantA.Pow22523(&inputs[i])
		wantB.Pow22523(&inputs[j])
		if a.Equal(&wantA) != 1 || b.Equal(&wantB) != 1 {
			t.Fatalf("pow22523Pair(%x, %x) differs from Pow22523", inputs[i].Bytes(), inputs[j].Bytes())
		}
	}
	// Aliased inputs.
	a := inputs[7]
	var want field.Element
	want.Pow22523(&a)
	pow22523Pair(&a, &a)
	if a.Equal(&want) != 1 {
		t.Fatal("pow22523Pair(x, x) differs from Pow22523")
	}
}

// TestDecodeNegPair checks the paired decoder against the single one on
// every combination of valid points, non-points, non-canonical y and the
// sign-bit edge cases, in both positions.
func TestDecodeNegPair(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	encs := decodeTestEncodings(t, rng)
	type result struct {
		ok bool
		r  affinePoint
	}
	want := make([]result, len(encs))
	valid := 0
	for i := range encs {
		want[i].ok = decodeNegVarTime(&want[i].r, &encs[i])
		if want[i].ok {
			valid++
		}
	}
	if valid < len(encs)/2 || valid == len(encs) {
		t.Fatalf("%d of %d encodings valid: the test needs both kinds", valid, len(encs))
	}
	same := func(a, b *affinePoint) bool {
		return a.YplusX.Equal(&b.YplusX) == 1 && a.YminusX.Equal(&b.YminusX) == 1 && a.T2d.Equal(&b.T2d) == 1
	}
	for i := range encs {
		for j := range encs {
			var r0, r1 affinePoint
			ok0, ok1 := decodeNegPairVarTime(&r0, &r1, &encs[i], &encs[j])
			if ok0 != want[i].ok || ok1 != want[j].ok {
				t.Fatalf("pair (%x, %x): got %v %v, want %v %v", encs[i], encs[j], ok0, ok1, want[i].ok, want[j].ok)
			}
			if ok0 && !same(&r0, &want[i].r) || ok1 && !same(&r1, &want[j].r) {
				t.Fatalf("pair (%x, %x): decoded to a different point", encs[i], encs[j])
			}
		}
	}
}

// TestBatchIncremental adds to a batch between calls to Verify, so that
// each call decodes only the newly added points, with undecodable ones
// at odd and even positions, and checks every result against Verify.
func TestBatchIncremental(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 46))
	signers := []*signer{newSigner(t, rng, 0), newSigner(t, rng, 2)}
	var entries []testEntry
	var want []bool
	var b Batch
	for round, chunk := range []int{1, 3, 2, 17, 1, 40, 5} {
		for i := range chunk {
			kind := corruptNone
			switch (round + i) % 5 {
			case 1:
				kind = corruptSmallR // decodes, and fails the equation
			case 2:
				kind = corruptRandom // R usually does not decode
			case 3:
				kind = corruptBitR
			}
			e := makeEntry(t, rng, signers, kind)
			entries = append(entries, e)
			want = append(want, Verify(e.s.pk, e.msg, e.sig))
			b.Add(e.s.pk, e.msg, e.sig)
		}
		for pass := range 2 {
			results := make([]bool, len(entries))
			b.rand = rand.NewChaCha8([32]byte{byte(round), byte(pass)})
			if _, err := b.Verify(results); err != nil {
				t.Fatalf("round %d pass %d: Verify: %v", round, pass, err)
			}
			for i := range entries {
				if results[i] != want[i] {
					t.Fatalf("round %d pass %d: entry %d (kind %d): batch %v, single %v",
						round, pass, i, entries[i].kind, results[i], want[i])
				}
			}
		}
	}
}

// BenchmarkDecode compares decoding points one at a time with decoding
// them two at a time, as Batch does. Each iteration times both, one after
// the other, so that pair/single is a ratio of timings taken together:
//
//	go test ./internal/edsig -run '^$' -bench Decode -count 5
func BenchmarkDecode(b *testing.B) {
	rng := rand.New(rand.NewPCG(47, 48))
	encs := make([][32]byte, 64)
	for i := range encs {
		encs[i] = [32]byte(randPoint(b, rng).Bytes())
	}
	out := make([]affinePoint, len(encs))
	var single, pair time.Duration
	for b.Loop() {
		start := time.Now()
		for i := range encs {
			sinkBool = decodeNegVarTime(&out[i], &encs[i])
		}
		mid := time.Now()
		for i := 0; i < len(encs); i += 2 {
			sinkBool, _ = decodeNegPairVarTime(&out[i], &out[i+1], &encs[i], &encs[i+1])
		}
		single += mid.Sub(start)
		pair += time.Since(mid)
	}
	points := float64(b.N * len(encs))
	b.ReportMetric(float64(single.Nanoseconds())/points, "ns/point-single")
	b.ReportMetric(float64(pair.Nanoseconds())/points, "ns/point-pair")
	b.ReportMetric(float64(pair)/float64(single), "pair/single")
}

// decodeTestEncodings returns valid points, random strings (about half of
// which are not points), the points of small order, non-canonical y and
// the sign-bit edge cases.
func decodeTestEncodings(t testing.TB, rng *rand.Rand) [][32]byte {
	var encs [][32]byte
	for range 24 {
		encs = append(encs, [32]byte(randPoint(t, rng).Bytes()))
	}
	for range 24 {
		var b [32]byte
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		encs = append(encs, b) // about half are not points
	}
	for i := range 8 {
		encs = append(encs, [32]byte(torsion(t, i).Bytes()))
	}
	for _, h := range []string{
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // (0, −1)
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // (0, −1), sign bit set
		"0100000000000000000000000000000000000000000000000000000000000080", // identity, sign bit set
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // y = p + 1, sign bit set
	} {
		encs = append(encs, [32]byte(mustHex(t, h)))
	}
	return encs
}

// BenchmarkDecodeMany compares decoding points two at a time with the
// batch's decoder, on each path that the processor and build offer:
// sixteen at a time in AVX-512 IFMA lanes, eight in AVX2 lanes, or two on
// the scalar path. Each iteration times both, so that many/pairs is a
// ratio of timings taken together:
//
//	go test ./internal/edsig -run '^$' -bench DecodeMany -cpu 1 -count 5
func BenchmarkDecodeMany(b *testing.B) {
	for _, path := range vecPaths() {
		b.Run("path="+path.name, func(b *testing.B) {
			setPath(b, path)
			benchDecodeMany(b)
		})
	}
}

func benchDecodeMany(b *testing.B) {
	rng := rand.New(rand.NewPCG(47, 48))
	encs := make([][32]byte, 64)
	for i := range encs {
		encs[i] = [32]byte(randPoint(b, rng).Bytes())
	}
	out := make([]affinePoint, len(encs))
	dropped := make([]int32, 0, len(encs))
	var pairs, many time.Duration
	for b.Loop() {
		start := time.Now()
		dropped = decodeNegPairsVarTime(out, encs, 0, dropped[:0])
		mid := time.Now()
		dropped = decodeNegManyVarTime(out, encs, 0, dropped[:0])
		pairs += mid.Sub(start)
		many += time.Since(mid)
	}
	points := float64(b.N * len(encs))
	b.ReportMetric(float64(pairs.Nanoseconds())/points, "ns/point-pairs")
	b.ReportMetric(float64(many.Nanoseconds())/points, "ns/point-many")
	b.ReportMetric(float64(many)/float64(pairs), "many/pairs")
}
