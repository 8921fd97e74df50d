package edsig

import (
	"bytes"
	cryptorand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/cryptotest"
)

// Tests of the batch weights: where Verify reads them, and what it does
// when the source fails or gives a zero weight.

var errNoRandomness = errors.New("no more randomness")

// failingReader gives n bytes of 0x55 and then fails. It counts the calls
// to Read.
type failingReader struct{ n, calls int }

func (r *failingReader) Read(p []byte) (int, error) {
	r.calls++
	if r.n <= 0 {
		return 0, errNoRandomness
	}
	k := min(len(p), r.n)
	for i := range k {
		p[i] = 0x55
	}
	r.n -= k
	return k, nil
}

// zeroReader gives only zero bytes. Past limit bytes it fails the test and
// returns an error, so that a Verify that keeps drawing after a zero
// weight is reported instead of hanging.
type zeroReader struct {
	t           testing.TB
	limit, read int
}

func (r *zeroReader) Read(p []byte) (int, error) {
	if r.read >= r.limit {
		r.t.Errorf("Verify read more than %d bytes from a source of zeros", r.limit)
		return 0, errors.New("zeroReader: read past the limit")
	}
	k := min(len(p), r.limit-r.read)
	clear(p[:k])
	r.read += k
	return k, nil
}

// patchedReader is a ChaCha8 stream with the bytes at offsets [lo, hi)
// replaced by zeros.
type patchedReader struct {
	rest        *rand.ChaCha8
	off, lo, hi int
}

func (r *patchedReader) Read(p []byte) (int, error) {
	n, err := r.rest.Read(p)
	for i := range n {
		if o := r.off + i; o >= r.lo && o < r.hi {
			p[i] = 0
		}
	}
	r.off += n
	return n, err
}

// weightBatch returns a batch of n well-formed signatures under one key,
// those with bad(i) on an altered message, and the result of Verify on
// each.
func weightBatch(t *testing.T, seed uint64, n int, bad func(int) bool) (*Batch, []bool) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 101))
	s := newSigner(t, rng, 0)
	b := NewBatch(n)
	want := make([]bool, n)
	for i := range n {
		kind := corruptNone
		if bad(i) {
			kind = corruptBitMsg
		}
		e := makeEntry(t, rng, []*signer{s}, kind)
		b.Add(e.s.pk, e.msg, e.sig)
		want[i] = Verify(e.s.pk, e.msg, e.sig)
		if want[i] != !bad(i) {
			t.Fatalf("entry %d: Verify = %v, want %v", i, want[i], !bad(i))
		}
	}
	return b, want
}

// filled returns a slice of n copies of v, to show which results Verify
// wrote.
func filled(n int, v bool) []bool {
	s := make([]bool, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// checkRejected checks that a Verify that could not draw its weights
// returned an error matching target and reported every signature invalid.
func checkRejected(t *testing.T, label string, all bool, err, target error, results []bool) {
	t.Helper()
	if err == nil || !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", label, err, target)
	}
	if all {
		t.Errorf("%s: Verify reported the batch valid", label)
	}
	for i, ok := range results {
		if ok {
			t.Errorf("%s: entry %d reported valid", label, i)
		}
	}
}

// checkResults checks that a Verify that had its weights returned no error
// and the single results.
func checkResults(t *testing.T, label string, all bool, err error, results, want []bool) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: error %v", label, err)
	}
	wantAll := true
	for i := range want {
		if results[i] != want[i] {
			t.Errorf("%s: entry %d: batch %v, single %v", label, i, results[i], want[i])
		}
		wantAll = wantAll && want[i]
	}
	if all != wantAll {
		t.Errorf("%s: Verify = %v, want %v", label, all, wantAll)
	}
}

// TestVerifyFailingSource checks that when the weights cannot be read,
// Verify returns the error and accepts nothing, even in a batch of valid
// signatures, with and without results.
func TestVerifyFailingSource(t *testing.T) {
	for _, n := range []int{minBatch, 40, denseSampleMin + 36} {
		for _, bad := range []int{-1, n / 2} {
			b, _ := weightBatch(t, uint64(n), n, func(i int) bool { return i == bad })
			sources := []struct {
				name   string
				target error
				r      func() io.Reader
			}{
				{"fail at once", errNoRandomness, func() io.Reader { return &failingReader{n: 0} }},
				{"fail after 1 byte", errNoRandomness, func() io.Reader { return &failingReader{n: 1} }},
				{"fail before the last weight", errNoRandomness, func() io.Reader { return &failingReader{n: 16 * (n - 1)} }},
				{"fail 1 byte short", errNoRandomness, func() io.Reader { return &failingReader{n: 16*n - 1} }},
				{"EOF", io.EOF, func() io.Reader { return strings.NewReader("") }},
				{"short then EOF", io.ErrUnexpectedEOF, func() io.Reader { return bytes.NewReader(bytes.Repeat([]byte{0x55}, 16*n-1)) }},
			}
			for _, src := range sources {
				label := fmt.Sprintf("n=%d bad=%d %s", n, bad, src.name)
				results := filled(n, true)
				b.rand = src.r()
				all, err := b.Verify(results)
				checkRejected(t, label, all, err, src.target, results)
				if r, ok := b.rand.(*failingReader); ok && r.calls == 0 {
					t.Errorf("%s: the source was not read", label)
				}

				b.rand = src.r()
				all, err = b.Verify(nil)
				checkRejected(t, label+" without results", all, err, src.target, nil)
			}
		}
	}
}

// TestVerifyZeroSource checks that a source of zeros, or one zero weight
// anywhere in the batch, makes Verify fail at once: it reads no more than
// one weight per signature and accepts nothing.
func TestVerifyZeroSource(t *testing.T) {
	for _, n := range []int{minBatch, 40, denseSampleMin + 36} {
		for _, bad := range []int{-1, n / 2} {
			b, _ := weightBatch(t, uint64(n)+1000, n, func(i int) bool { return i == bad })
			label := fmt.Sprintf("n=%d bad=%d", n, bad)

			r := &zeroReader{t: t, limit: 16 * n}
			b.rand = r
			results := filled(n, true)
			all, err := b.Verify(results)
			checkRejected(t, label+" zeros", all, err, errZeroWeight, results)

			b.rand = &zeroReader{t: t, limit: 16 * n}
			all, err = b.Verify(nil)
			checkRejected(t, label+" zeros without results", all, err, errZeroWeight, nil)

			for _, j := range []int{0, n / 2, n - 1} {
				b.rand = &patchedReader{rest: rand.NewChaCha8([32]byte{byte(j)}), lo: 16 * j, hi: 16*j + 16}
				results := filled(n, true)
				all, err := b.Verify(results)
				checkRejected(t, fmt.Sprintf("%s zero weight %d", label, j), all, err, errZeroWeight, results)

				b.rand = &patchedReader{rest: rand.NewChaCha8([32]byte{byte(j)}), lo: 16 * j, hi: 16*j + 16}
				all, err = b.Verify(nil)
				checkRejected(t, fmt.Sprintf("%s zero weight %d without results", label, j), all, err, errZeroWeight, nil)
			}
		}
	}
}

// TestWeights checks that a weight with one zero half is a valid weight,
// used as drawn, and that no weight of a successful Verify is zero.
func TestWeights(t *testing.T) {
	const n = 40
	b, want := weightBatch(t, 61, n, func(i int) bool { return i == 7 })
	for _, j := range []int{0, 7, n - 1} {
		for half := range 2 {
			label := fmt.Sprintf("weight %d, half %d zero", j, half)
			lo := 16*j + 8*half
			b.rand = &patchedReader{rest: rand.NewChaCha8([32]byte{byte(j), byte(half)}), lo: lo, hi: lo + 8}
			results := filled(n, false)
			all, err := b.Verify(results)
			checkResults(t, label, all, err, results, want)
			if len(b.z) != n {
				t.Fatalf("%s: %d weights, want %d", label, len(b.z), n)
			}
			if b.z[j][half] != 0 || b.z[j][1-half] == 0 {
				t.Errorf("%s: weight %x", label, b.z[j])
			}
			for i, z := range b.z {
				if z.isZero() {
					t.Errorf("%s: weight %d is zero", label, i)
				}
			}
		}
	}
}

// offCurveR returns a canonical encoding of a y for which there is no
// curve point.
func offCurveR(t testing.TB) [32]byte {
	t.Helper()
	for y := 2; y < 256; y++ {
		enc := [32]byte{byte(y)}
		var r affinePoint
		if !decodeNegVarTime(&r, &enc) {
			return enc
		}
	}
	t.Fatal("no y below 256 without a point")
	return [32]byte{}
}

// TestSmallBatchReadsNoRandomness checks that a batch with fewer than
// minBatch signatures that reach the batch equation is checked one
// signature at a time, without reading the source, even if the batch holds
// more signatures that Add or decoding rejected.
func TestSmallBatchReadsNoRandomness(t *testing.T) {
	rng := rand.New(rand.NewPCG(111, 112))
	s := newSigner(t, rng, 0)
	offR := offCurveR(t)
	for _, forged := range []bool{false, true} {
		for _, withRejected := range []bool{false, true} {
			for k := range minBatch {
				label := fmt.Sprintf("%d entries, forged %v, with rejected %v", k, forged, withRejected)
				var b Batch
				var want []bool
				add := func(pk *PublicKey, msg, sig []byte) {
					b.Add(pk, msg, sig)
					want = append(want, Verify(pk, msg, sig))
				}
				for i := range k {
					kind := corruptNone
					if forged && i == k-1 {
						kind = corruptBitMsg
					}
					e := makeEntry(t, rng, []*signer{s}, kind)
					add(s.pk, e.msg, e.sig)
				}
				if withRejected {
					e := makeEntry(t, rng, []*signer{s}, corruptNone)
					add(s.pk, e.msg, e.sig[:63])                                           // bad length
					add(nil, e.msg, e.sig)                                                 // nil key
					add(s.pk, e.msg, append(bytes.Clone(e.sig[:32]), addL(e.sig[32:])...)) // s + L
					add(s.pk, e.msg, append(offR[:], e.sig[32:]...))                       // R not on the curve
				}
				r := &failingReader{}
				b.rand = r
				results := filled(b.Len(), !forged)
				all, err := b.Verify(results)
				checkResults(t, label, all, err, results, want)
				all2, err2 := b.Verify(nil)
				if err2 != nil || all2 != all {
					t.Errorf("%s: without results: Verify = %v, %v; want %v, nil", label, all2, err2, all)
				}
				if r.calls != 0 {
					t.Errorf("%s: the source was read %d times", label, r.calls)
				}
			}
		}
	}

	// At minBatch signatures that reach the equation, the source is read.
	b, _ := weightBatch(t, 113, minBatch, func(int) bool { return false })
	r := &failingReader{}
	b.rand = r
	results := filled(minBatch, true)
	all, err := b.Verify(results)
	checkRejected(t, "minBatch entries", all, err, errNoRandomness, results)
	if r.calls == 0 {
		t.Error("minBatch entries: the source was not read")
	}
}

// TestVerifyAfterFailure checks that a failed Verify leaves the batch as it
// was: verified again with a working source, and after more Adds, it
// gives the single results.
func TestVerifyAfterFailure(t *testing.T) {
	const n = 40
	badAt := func(i int) bool { return i == 7 || i == 30 }
	b, want := weightBatch(t, 121, n, badAt)
	steps := []struct {
		name   string
		target error // nil for a working source
		r      io.Reader
	}{
		{"failing", errNoRandomness, &failingReader{}},
		{"chacha8", nil, rand.NewChaCha8([32]byte{1})},
		{"zeros", errZeroWeight, &zeroReader{t: t, limit: 16 * n}},
		{"crypto/rand", nil, nil},
		{"fail 1 byte short", errNoRandomness, &failingReader{n: 16*n - 1}},
		{"zero last weight", errZeroWeight, &patchedReader{rest: rand.NewChaCha8([32]byte{2}), lo: 16 * (n - 1), hi: 16 * n}},
		{"chacha8 again", nil, rand.NewChaCha8([32]byte{3})},
	}
	for _, st := range steps {
		b.rand = st.r
		results := make([]bool, n)
		for i := range results {
			results[i] = !want[i] // stale and wrong
		}
		all, err := b.Verify(results)
		if st.target != nil {
			checkRejected(t, st.name, all, err, st.target, results)
		} else {
			checkResults(t, st.name, all, err, results, want)
		}
	}

	// Fail with entries added since the last Verify, some of which do not
	// decode, then verify them with a working source.
	rng := rand.New(rand.NewPCG(122, 123))
	s := newSigner(t, rng, 0)
	offR := offCurveR(t)
	for i := range 9 {
		kind := corruptNone
		if i%3 == 1 {
			kind = corruptBitMsg
		}
		e := makeEntry(t, rng, []*signer{s}, kind)
		if i%3 == 2 {
			copy(e.sig, offR[:])
		}
		b.Add(s.pk, e.msg, e.sig)
		want = append(want, Verify(s.pk, e.msg, e.sig))
	}
	b.rand = &failingReader{}
	results := filled(len(want), true)
	all, err := b.Verify(results)
	checkRejected(t, "after Add", all, err, errNoRandomness, results)
	b.rand = rand.NewChaCha8([32]byte{4})
	all, err = b.Verify(results)
	checkResults(t, "after Add, working source", all, err, results, want)

	// The same for a batch of valid signatures, without results.
	good, wantGood := weightBatch(t, 124, n, func(int) bool { return false })
	good.rand = &failingReader{}
	all, err = good.Verify(nil)
	checkRejected(t, "all valid", all, err, errNoRandomness, nil)
	good.rand = rand.NewChaCha8([32]byte{5})
	all, err = good.Verify(nil)
	if !all || err != nil {
		t.Errorf("all valid, working source: Verify = %v, %v", all, err)
	}
	good.rand = nil
	results = make([]bool, n)
	all, err = good.Verify(results)
	checkResults(t, "all valid, crypto/rand", all, err, results, wantGood)
}

// TestWeightsFromCryptoRand checks that without b.rand the weights are
// read from crypto/rand.Reader, afresh for each call.
func TestWeightsFromCryptoRand(t *testing.T) {
	const n = 24
	b, want := weightBatch(t, 131, n, func(i int) bool { return i == 5 })
	encode := func(z []scalar128) []byte {
		var out []byte
		for _, w := range z {
			out = binary.LittleEndian.AppendUint64(out, w[0])
			out = binary.LittleEndian.AppendUint64(out, w[1])
		}
		return out
	}
	cryptotest.SetGlobalRandom(t, 7)
	var drawn [][]byte
	for call := range 2 {
		results := make([]bool, n)
		all, err := b.Verify(results)
		checkResults(t, fmt.Sprintf("call %d", call), all, err, results, want)
		drawn = append(drawn, encode(b.z))
	}
	cryptotest.SetGlobalRandom(t, 7) // restart the stream
	stream := make([]byte, 2*16*n)
	if _, err := io.ReadFull(cryptorand.Reader, stream); err != nil {
		t.Fatal(err)
	}
	for call, got := range drawn {
		if wantZ := stream[16*n*call : 16*n*(call+1)]; !bytes.Equal(got, wantZ) {
			t.Errorf("call %d: weights %x, want %x from crypto/rand", call, got, wantZ)
		}
	}
	if bytes.Equal(drawn[0], drawn[1]) {
		t.Error("two calls used the same weights")
	}
}
