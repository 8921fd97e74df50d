package edsig

import (
	"bytes"
	cryptorand "crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/cryptotest"

	"filippo.io/edwards25519"
)

// Tests of the batch weights: how Verify derives them from a seed read
// from the source and the batch's contents, and what it does when the
// source fails, gives zeros, or is predictable.

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
				{"fail 1 byte short", errNoRandomness, func() io.Reader { return &failingReader{n: weightSeedSize - 1} }},
				{"EOF", io.EOF, func() io.Reader { return strings.NewReader("") }},
				{"short then EOF", io.ErrUnexpectedEOF, func() io.Reader { return bytes.NewReader(bytes.Repeat([]byte{0x55}, weightSeedSize-1)) }},
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

// TestVerifyZeroSource checks that a seed of zeros makes Verify fail at
// once: it reads no more than one seed and accepts nothing. A seed with a
// single nonzero byte is a working seed.
func TestVerifyZeroSource(t *testing.T) {
	for _, n := range []int{minBatch, 40, denseSampleMin + 36} {
		for _, bad := range []int{-1, n / 2} {
			b, want := weightBatch(t, uint64(n)+1000, n, func(i int) bool { return i == bad })
			label := fmt.Sprintf("n=%d bad=%d", n, bad)

			b.rand = &zeroReader{t: t, limit: weightSeedSize}
			results := filled(n, true)
			all, err := b.Verify(results)
			checkRejected(t, label+" zeros", all, err, errZeroSeed, results)

			b.rand = &zeroReader{t: t, limit: weightSeedSize}
			all, err = b.Verify(nil)
			checkRejected(t, label+" zeros without results", all, err, errZeroSeed, nil)

			for _, j := range []int{0, weightSeedSize - 1} {
				seed := make([]byte, weightSeedSize)
				seed[j] = 1
				b.rand = bytes.NewReader(seed)
				results := filled(n, bad >= 0)
				all, err := b.Verify(results)
				checkResults(t, fmt.Sprintf("%s seed byte %d set", label, j), all, err, results, want)
			}
		}
	}
}

// refWeights computes the weights of a batch of the signatures sigs of
// msgs under keys, in the order given, for seed, from the definition in
// drawWeights: with crypto/sha512 and edwards25519 only, not the batch's
// own state.
func refWeights(t testing.TB, seed []byte, keys [][]byte, msgs, sigs [][]byte) []scalar128 {
	t.Helper()
	var tr []byte
	tr = append(tr, "statustoken edsig batch weights v1"...)
	tr = append(tr, seed...)
	for i := range sigs {
		h := sha512.New()
		h.Write(sigs[i][:32])
		h.Write(keys[i])
		h.Write(msgs[i])
		k, err := edwards25519.NewScalar().SetUniformBytes(h.Sum(nil))
		if err != nil {
			t.Fatal(err)
		}
		tr = append(tr, k.Bytes()...)
		tr = append(tr, sigs[i][32:]...)
	}
	sum := sha512.Sum512(tr)
	z := make([]scalar128, len(sigs))
	for i := range z {
		block := sha512.Sum512(binary.LittleEndian.AppendUint64(sum[:], uint64(i/4)))
		w := block[16*(i%4):]
		z[i] = scalar128{binary.LittleEndian.Uint64(w), binary.LittleEndian.Uint64(w[8:])}
		if z[i] == (scalar128{}) {
			z[i] = scalar128{1, 0}
		}
	}
	return z
}

// TestWeights checks the weights against refWeights, and that they depend
// on the seed and on every entry's key, R, message and s.
func TestWeights(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	signers := []*signer{newSigner(t, rng, 0), newSigner(t, rng, 3)}
	for _, n := range []int{minBatch, 5, 8, 41} {
		var keys, msgs, sigs [][]byte
		for i := range n {
			kind := corruptNone
			if i == n/2 {
				kind = corruptBitMsg
			}
			e := makeEntry(t, rng, signers, kind)
			keys, msgs, sigs = append(keys, e.s.enc), append(msgs, e.msg), append(sigs, e.sig)
		}
		weightsOf := func(label string, seed []byte, keys [][]byte, msgs, sigs [][]byte) []scalar128 {
			t.Helper()
			b := NewBatch(n)
			for i := range sigs {
				pk, err := NewPublicKey(keys[i])
				if err != nil {
					t.Fatal(err)
				}
				b.Add(pk, msgs[i], sigs[i])
			}
			b.rand = bytes.NewReader(seed)
			if all, err := b.Verify(make([]bool, n)); err != nil || all {
				t.Fatalf("n=%d %s: Verify = %v, %v", n, label, all, err)
			}
			if want := refWeights(t, seed, keys, msgs, sigs); !slices.Equal(b.z, want) {
				t.Fatalf("n=%d %s: weights %x, want %x", n, label, b.z, want)
			}
			return slices.Clone(b.z)
		}
		seed := bytes.Repeat([]byte{0x55}, weightSeedSize)
		z := weightsOf("constant seed", seed, keys, msgs, sigs)
		for i := range z {
			for j := range i {
				if z[i] == z[j] {
					t.Errorf("n=%d: weights %d and %d equal", n, j, i)
				}
			}
		}
		changed := func(label string, z2 []scalar128) {
			t.Helper()
			for i := range z {
				if z[i] == z2[i] {
					t.Errorf("n=%d %s: weight %d unchanged", n, label, i)
				}
			}
		}
		seed2 := slices.Clone(seed)
		seed2[weightSeedSize-1] ^= 1
		changed("seed", weightsOf("seed", seed2, keys, msgs, sigs))
		j := rng.IntN(n)
		alter := func(x [][]byte, f func([]byte) []byte) [][]byte {
			y := slices.Clone(x)
			y[j] = f(slices.Clone(x[j]))
			return y
		}
		other := signers[0].enc
		if bytes.Equal(keys[j], other) {
			other = signers[1].enc
		}
		changed("key", weightsOf("key", seed, alter(keys, func([]byte) []byte { return other }), msgs, sigs))
		changed("message", weightsOf("message", seed, keys, alter(msgs, func(m []byte) []byte { return append(m, 0) }), sigs))
		changed("R", weightsOf("R", seed, keys, msgs, alter(sigs, func(sig []byte) []byte {
			copy(sig, signers[0].sign(t, rng, nil, 0)[:32])
			return sig
		})))
		changed("s", weightsOf("s", seed, keys, msgs, alter(sigs, func(sig []byte) []byte {
			sig[32] ^= 1
			return sig
		})))
	}
}

// TestWeightFromBytes checks that weights are read little-endian, that a
// weight with one zero half is used as read, and that zero becomes one.
func TestWeightFromBytes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want scalar128
	}{
		{"00000000000000000000000000000000", scalar128{1, 0}},
		{"01000000000000000000000000000000", scalar128{1, 0}},
		{"00000000000000000000000000000080", scalar128{0, 1 << 63}},
		{"01020304050607080000000000000000", scalar128{0x0807060504030201, 0}},
		{"ffffffffffffffffffffffffffffffff", scalar128{^uint64(0), ^uint64(0)}},
	} {
		in, err := hex.DecodeString(c.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := weightFromBytes(in); got != c.want {
			t.Errorf("weightFromBytes(%s) = %x, want %x", c.in, got, c.want)
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
		{"zeros", errZeroSeed, &zeroReader{t: t, limit: weightSeedSize}},
		{"crypto/rand", nil, nil},
		{"fail 1 byte short", errNoRandomness, &failingReader{n: weightSeedSize - 1}},
		{"constant", nil, constReader(0x55)},
		{"zeros from a stream", errZeroSeed, &patchedReader{rest: rand.NewChaCha8([32]byte{2}), lo: 0, hi: weightSeedSize}},
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

// TestWeightsFromCryptoRand checks that without b.rand the seed is read
// from crypto/rand.Reader, afresh for each call.
func TestWeightsFromCryptoRand(t *testing.T) {
	const n = 24
	rng := rand.New(rand.NewPCG(131, 132))
	s := newSigner(t, rng, 0)
	var keys, msgs, sigs [][]byte
	b := NewBatch(n)
	want := make([]bool, n)
	for i := range n {
		kind := corruptNone
		if i == 5 {
			kind = corruptBitMsg
		}
		e := makeEntry(t, rng, []*signer{s}, kind)
		keys, msgs, sigs = append(keys, s.enc), append(msgs, e.msg), append(sigs, e.sig)
		b.Add(s.pk, e.msg, e.sig)
		want[i] = i != 5
	}
	cryptotest.SetGlobalRandom(t, 7)
	var drawn [][]scalar128
	for call := range 2 {
		results := make([]bool, n)
		all, err := b.Verify(results)
		checkResults(t, fmt.Sprintf("call %d", call), all, err, results, want)
		drawn = append(drawn, slices.Clone(b.z))
	}
	cryptotest.SetGlobalRandom(t, 7) // restart the stream
	stream := make([]byte, 2*weightSeedSize)
	if _, err := io.ReadFull(cryptorand.Reader, stream); err != nil {
		t.Fatal(err)
	}
	for call, got := range drawn {
		seed := stream[weightSeedSize*call : weightSeedSize*(call+1)]
		if wantZ := refWeights(t, seed, keys, msgs, sigs); !slices.Equal(got, wantZ) {
			t.Errorf("call %d: weights %x, want %x from crypto/rand", call, got, wantZ)
		}
	}
	if slices.Equal(drawn[0], drawn[1]) {
		t.Error("two calls used the same weights")
	}
}

// constReader gives the byte c forever: a broken source whose output is
// known in advance.
type constReader byte

func (c constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

// cancellingPair returns two forgeries under s that pass a batch whose
// weights for them are equal: valid signatures (R1, s1) and (R2, s2)
// turned into (R1, s1+d) and (R2, s2−d), which leave Σ z_i·s_i unchanged
// when z_1 = z_2.
func cancellingPair(t *testing.T, rng *rand.Rand, s *signer) [2]testEntry {
	t.Helper()
	var db [64]byte
	for i := range db {
		db[i] = byte(rng.Uint32())
	}
	d, _ := edwards25519.NewScalar().SetUniformBytes(db[:])
	var pair [2]testEntry
	for j := range pair {
		e := makeEntry(t, rng, []*signer{s}, corruptNone)
		sc, err := edwards25519.NewScalar().SetCanonicalBytes(e.sig[32:])
		if err != nil {
			t.Fatal(err)
		}
		if j == 0 {
			sc.Add(sc, d)
		} else {
			sc.Subtract(sc, d)
		}
		e.sig = append(e.sig[:32:32], sc.Bytes()...)
		if Verify(s.pk, e.msg, e.sig) {
			t.Fatalf("forgery %d verifies", j)
		}
		pair[j] = e
	}
	return pair
}

// TestPredictableSourceCancellingForgeries checks that a source whose
// output is known in advance does not let a pair of cancelling forgeries
// through: the weights also depend on the batch's contents, so that the
// two weights differ. The batch's results must equal single verification,
// in batches that take every path: both forgeries alone, among valid
// signatures (Straus and Pippenger sums, bisection), at several positions.
func TestPredictableSourceCancellingForgeries(t *testing.T) {
	rng := rand.New(rand.NewPCG(141, 142))
	s := newSigner(t, rng, 0)
	for _, n := range []int{2, 3, 40, strausMax + 40, 300} {
		for _, viaCryptoRand := range []bool{false, true} {
			pair := cancellingPair(t, rng, s)
			at := [2]int{0, n - 1}
			if n > 2 {
				at = [2]int{rng.IntN(n / 2), n/2 + rng.IntN(n-n/2)}
			}
			b := NewBatch(n)
			want := make([]bool, n)
			for i := range n {
				e := makeEntry(t, rng, []*signer{s}, corruptNone)
				switch i {
				case at[0]:
					e = pair[0]
				case at[1]:
					e = pair[1]
				}
				b.Add(s.pk, e.msg, e.sig)
				want[i] = Verify(s.pk, e.msg, e.sig)
			}
			label := fmt.Sprintf("n=%d forgeries at %v, crypto/rand %v", n, at, viaCryptoRand)
			saved := cryptorand.Reader
			if viaCryptoRand {
				cryptorand.Reader = constReader(0x55)
			} else {
				b.rand = constReader(0x55)
			}
			results := filled(n, true)
			all, err := b.Verify(results)
			checkResults(t, label, all, err, results, want)
			all, err = b.Verify(nil)
			cryptorand.Reader = saved
			if all || err != nil {
				t.Errorf("%s: without results: Verify = %v, %v; want false, nil", label, all, err)
			}
		}
	}
}
