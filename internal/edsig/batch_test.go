package edsig

import (
	"crypto/ed25519"
	"crypto/sha512"
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"sync"
	"testing"

	"filippo.io/edwards25519"
)

// signer makes signatures valid under the cofactored rules, including ones
// that crypto/ed25519 cannot make: with a small-order component in R, or
// under a key with a small-order component.
type signer struct {
	a   *edwards25519.Scalar // secret scalar
	enc []byte               // public key encoding
	pk  *PublicKey
}

// newSigner derives a key from rng. With torsion in 1…7 the public key gets
// that small-order component, which the cofactored equation ignores.
func newSigner(t testing.TB, rng *rand.Rand, torsionIndex int) *signer {
	t.Helper()
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(rng.Uint32())
	}
	h := sha512.Sum512(seed[:])
	a, err := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	if err != nil {
		t.Fatal(err)
	}
	A := new(edwards25519.Point).ScalarBaseMult(a)
	A.Add(A, torsion(t, torsionIndex))
	enc := A.Bytes()
	pk, err := NewPublicKey(enc)
	if err != nil {
		t.Fatalf("NewPublicKey(%x): %v", enc, err)
	}
	return &signer{a: a, enc: enc, pk: pk}
}

// sign returns a signature of msg whose R carries the small-order component
// torsion(torsionIndex).
func (s *signer) sign(t testing.TB, rng *rand.Rand, msg []byte, torsionIndex int) []byte {
	t.Helper()
	var rb [64]byte
	for i := range rb {
		rb[i] = byte(rng.Uint32())
	}
	r, _ := edwards25519.NewScalar().SetUniformBytes(rb[:])
	R := new(edwards25519.Point).ScalarBaseMult(r)
	R.Add(R, torsion(t, torsionIndex))
	h := sha512.New()
	h.Write(R.Bytes())
	h.Write(s.enc)
	h.Write(msg)
	k, _ := edwards25519.NewScalar().SetUniformBytes(h.Sum(nil))
	S := edwards25519.NewScalar().MultiplyAdd(k, s.a, r)
	return append(R.Bytes(), S.Bytes()...)
}

// scalarL is the group order L, little-endian.
var scalarL = func() []byte {
	l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	b := l.FillBytes(make([]byte, 32))
	for i := range 16 {
		b[i], b[31-i] = b[31-i], b[i]
	}
	return b
}()

// addL returns the 32-byte little-endian s + L (s < L, so no overflow).
func addL(s []byte) []byte {
	out := make([]byte, 32)
	carry := 0
	for i := range 32 {
		v := int(s[i]) + int(scalarL[i]) + carry
		out[i] = byte(v)
		carry = v >> 8
	}
	return out
}

// Corruptions: each a way for a signature to fail, or to stay valid in a
// way only the cofactored rules accept.
const (
	corruptNone     = iota
	corruptBitR     // one bit of R flipped
	corruptBitS     // one bit of s flipped
	corruptBitMsg   // one bit of the message flipped
	corruptSPlusL   // s replaced by s + L
	corruptTorsionR // R with a small-order component, still valid
	corruptWrongKey // signed by another key
	corruptLength   // truncated or extended
	corruptRandom   // 64 random bytes
	corruptSmallR   // R of small order, s random
	numCorruptions
)

type testEntry struct {
	s        *signer
	msg, sig []byte
	kind     int
}

func makeEntry(t testing.TB, rng *rand.Rand, signers []*signer, kind int) testEntry {
	s := signers[rng.IntN(len(signers))]
	msg := make([]byte, rng.IntN(80))
	for i := range msg {
		msg[i] = byte(rng.Uint32())
	}
	e := testEntry{s: s, msg: msg, kind: kind}
	switch kind {
	case corruptTorsionR:
		e.sig = s.sign(t, rng, msg, 1+rng.IntN(7))
		return e
	case corruptWrongKey:
		other := newSigner(t, rng, 0)
		e.sig = other.sign(t, rng, msg, 0)
		return e
	}
	e.sig = s.sign(t, rng, msg, 0)
	switch kind {
	case corruptBitR:
		i := rng.IntN(256)
		e.sig[i/8] ^= 1 << (i % 8)
	case corruptBitS:
		i := 256 + rng.IntN(256)
		e.sig[i/8] ^= 1 << (i % 8)
	case corruptBitMsg:
		if len(e.msg) == 0 {
			e.msg = []byte{0}
		} else {
			i := rng.IntN(8 * len(e.msg))
			e.msg[i/8] ^= 1 << (i % 8)
		}
	case corruptSPlusL:
		copy(e.sig[32:], addL(e.sig[32:]))
	case corruptLength:
		if rng.IntN(2) == 0 {
			e.sig = e.sig[:rng.IntN(64)]
		} else {
			e.sig = append(e.sig, make([]byte, 1+rng.IntN(3))...)
		}
	case corruptRandom:
		for i := range e.sig {
			e.sig[i] = byte(rng.Uint32())
		}
	case corruptSmallR:
		copy(e.sig[:32], torsion(t, rng.IntN(8)).Bytes())
	}
	return e
}

// checkBatch verifies entries singly and as a batch and fails the test on
// any disagreement. It returns the single results.
func checkBatch(t *testing.T, b *Batch, rng *rand.Rand, entries []testEntry, label string) []bool {
	t.Helper()
	b.Reset()
	want := make([]bool, len(entries))
	wantAll := true
	for i, e := range entries {
		b.Add(e.s.pk, e.msg, e.sig)
		want[i] = Verify(e.s.pk, e.msg, e.sig)
		wantAll = wantAll && want[i]
		switch e.kind {
		case corruptNone, corruptTorsionR:
			if !want[i] {
				t.Fatalf("%s: entry %d (kind %d): valid signature rejected", label, i, e.kind)
			}
		case corruptSPlusL, corruptLength:
			if want[i] {
				t.Fatalf("%s: entry %d (kind %d): invalid signature accepted", label, i, e.kind)
			}
		}
	}
	if b.Len() != len(entries) {
		t.Fatalf("%s: Len = %d, want %d", label, b.Len(), len(entries))
	}
	results := make([]bool, len(entries))
	b.rand = rand.NewChaCha8([32]byte{byte(rng.Uint32()), byte(rng.Uint32())})
	all, err := b.Verify(results)
	if err != nil {
		t.Fatalf("%s: Verify: %v", label, err)
	}
	if all != wantAll {
		t.Errorf("%s: Verify = %v, want %v", label, all, wantAll)
	}
	for i := range entries {
		if results[i] != want[i] {
			t.Errorf("%s: entry %d (kind %d): batch %v, single %v", label, i, entries[i].kind, results[i], want[i])
		}
	}
	if got, err := b.Verify(nil); err != nil || got != wantAll {
		t.Errorf("%s: Verify without results = %v, %v; want %v, nil", label, got, err, wantAll)
	}
	return want
}

// TestBatchMatchesSingle verifies random batches with random corruptions,
// over several keys and sizes that cross every threshold of the
// implementation, and checks that batch and single verification agree.
func TestBatchMatchesSingle(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	signers := make([]*signer, 24)
	for i := range signers {
		tor := 0
		if i%3 == 2 {
			tor = 1 + i%7
		}
		signers[i] = newSigner(t, rng, tor)
	}
	sizes := []int{1, 2, 3, 4, 5, 8, 9, 17, 63, 64, minBatch, singleCutoff + 1, strausMax, strausMax + 1, 130, 255, 256, 257, 513}
	if !testing.Short() {
		sizes = append(sizes, 767, 768, 1100)
	}
	badRates := []float64{0, -1, 0.02, 0.2, 0.6, 1}
	keyCounts := []int{1, 2, 9, 24}
	if testing.Short() {
		keyCounts = []int{1, 9}
	}
	var b Batch
	trial := 0
	for _, n := range sizes {
		for _, numKeys := range keyCounts {
			for _, rate := range badRates {
				if n > 300 && (numKeys == 2 || numKeys == 9 || rate == 0.6 || rate == 0.02) {
					continue // keep the test fast; these are covered at smaller sizes
				}
				trial++
				entries := make([]testEntry, n)
				oneBad := rng.IntN(n)
				for i := range entries {
					kind := corruptNone
					switch {
					case rate < 0 && i == oneBad, rate > 0 && rng.Float64() < rate:
						kind = 1 + rng.IntN(numCorruptions-1)
					case rng.IntN(16) == 0:
						kind = corruptTorsionR
					}
					entries[i] = makeEntry(t, rng, signers[:numKeys], kind)
				}
				checkBatch(t, &b, rng, entries, fmt.Sprintf("trial %d (n=%d keys=%d rate=%v)", trial, n, numKeys, rate))
			}
		}
	}
}

// TestBisection checks failure patterns whose bad entries all enter the
// batch equation (well-formed signatures of altered messages), so that
// every one must be found by bisection or single checks.
func TestBisection(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	signers := []*signer{newSigner(t, rng, 0), newSigner(t, rng, 3)}
	patterns := map[string]func(i, n int) bool{
		"none":        func(i, n int) bool { return false },
		"first":       func(i, n int) bool { return i == 0 },
		"middle":      func(i, n int) bool { return i == n/2 },
		"last":        func(i, n int) bool { return i == n-1 },
		"two":         func(i, n int) bool { return i == n/3 || i == n/3+1 },
		"ends":        func(i, n int) bool { return i == 0 || i == n-1 },
		"every7":      func(i, n int) bool { return i%7 == 3 },
		"alternating": func(i, n int) bool { return i%2 == 1 },
		"firsthalf":   func(i, n int) bool { return i < n/2 },
		"mostbad":     func(i, n int) bool { return i%8 != 0 },
		"all":         func(i, n int) bool { return true },
	}
	sizes := []int{2, 3, 5, 16, 100, 256}
	if !testing.Short() {
		sizes = append(sizes, 1024)
	}
	var b Batch
	for _, n := range sizes {
		base := make([]testEntry, n)
		for i := range base {
			base[i] = makeEntry(t, rng, signers, corruptNone)
		}
		for name, bad := range patterns {
			entries := make([]testEntry, n)
			wantBad := 0
			for i := range entries {
				entries[i] = base[i]
				if bad(i, n) {
					entries[i].msg = append([]byte{1}, base[i].msg...)
					entries[i].kind = corruptBitMsg
					wantBad++
				}
			}
			got := checkBatch(t, &b, rng, entries, fmt.Sprintf("n=%d %s", n, name))
			gotBad := 0
			for _, ok := range got {
				if !ok {
					gotBad++
				}
			}
			if gotBad != wantBad {
				t.Errorf("n=%d %s: %d bad, want %d", n, name, gotBad, wantBad)
			}
		}
	}
}

// TestBisectionCost checks that one bad entry in a large batch is found
// with about one extra multiplication over the batch and a few single
// checks, not by checking everything again.
func TestBisectionCost(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	s := newSigner(t, rng, 0)
	const n = 512
	var b Batch
	for i := range n {
		e := makeEntry(t, rng, []*signer{s}, corruptNone)
		if i == 300 {
			e.msg = append(e.msg, 0)
		}
		b.Add(e.s.pk, e.msg, e.sig)
	}
	results := make([]bool, n)
	b.stats = batchStats{}
	b.rand = rand.NewChaCha8([32]byte{})
	if all, err := b.Verify(results); err != nil || all {
		t.Fatalf("batch with a bad entry: Verify = %v, %v", all, err)
	}
	for i, ok := range results {
		if ok != (i != 300) {
			t.Fatalf("entry %d: %v", i, ok)
		}
	}
	if b.stats.sumPoints > 2*n+n/8 || b.stats.singles > singleCutoff+denseSamples {
		t.Errorf("one bad among %d: %d points in weighted sums, %d single checks", n, b.stats.sumPoints, b.stats.singles)
	}
	b.stats = batchStats{}
	b.rand = nil // crypto/rand
	all, err := b.Verify(nil)
	if err != nil || all {
		t.Errorf("batch with a bad entry, without results: Verify = %v, %v", all, err)
	}
	if !all && b.stats.singles != 0 {
		t.Errorf("Verify without results made %d single checks", b.stats.singles)
	}
}

func TestBatchAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	signers := []*signer{newSigner(t, rng, 0), newSigner(t, rng, 0)}
	// On every path: the vector ones keep their state between batches too.
	for _, path := range vecPaths() {
		setPath(t, path)
		for _, bad := range []int{-1, 17} {
			const n = 256
			entries := make([]testEntry, n)
			for i := range entries {
				entries[i] = makeEntry(t, rng, signers, corruptNone)
				if i == bad {
					entries[i].msg = append(entries[i].msg, 1)
				}
			}
			b := NewBatch(n)
			results := make([]bool, n)
			run := func() {
				b.Reset()
				for _, e := range entries {
					b.Add(e.s.pk, e.msg, e.sig)
				}
				if all, err := b.Verify(results); err != nil || all != (bad < 0) {
					t.Fatalf("wrong result: %v, %v", all, err)
				}
			}
			for _, src := range []struct {
				name string
				r    io.Reader
			}{{"chacha8", rand.NewChaCha8([32]byte{})}, {"crypto/rand", nil}} {
				b.rand = src.r
				run()
				if allocs := testing.AllocsPerRun(10, run); allocs != 0 {
					t.Errorf("%s path, bad=%d, %s: %v allocations per Add+Verify of %d signatures", path.name, bad, src.name, allocs, n)
				}
			}
		}
	}
	pub, priv, _ := ed25519.GenerateKey(nil)
	msg := []byte("message")
	sig := ed25519.Sign(priv, msg)
	pk, _ := NewPublicKey(pub)
	if raceEnabled {
		return // sync.Pool drops items at random under the race detector
	}
	if allocs := testing.AllocsPerRun(10, func() { Verify(pk, msg, sig) }); allocs != 0 {
		t.Errorf("Verify: %v allocations", allocs)
	}
}

// TestBadLengths checks every truncation and extension of a valid key and
// signature, and nil keys, in both paths.
func TestBadLengths(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.NewChaCha8([32]byte{1}))
	msg := []byte("message")
	sig := ed25519.Sign(priv, msg)
	pk, err := NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if !Verify(pk, msg, sig) {
		t.Fatal("valid signature rejected")
	}
	for n := 0; n <= 2*PublicKeySize; n++ {
		if n == PublicKeySize {
			continue
		}
		k := make([]byte, n)
		copy(k, pub)
		if _, err := NewPublicKey(k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("key of %d bytes: error %v", n, err)
		}
	}
	var b Batch
	var want []bool
	for n := 0; n <= 2*SignatureSize; n++ {
		s := make([]byte, n)
		copy(s, sig)
		ok := n == SignatureSize
		if Verify(pk, msg, s) != ok {
			t.Errorf("signature of %d bytes: Verify = %v", n, !ok)
		}
		b.Add(pk, msg, s)
		want = append(want, ok)
	}
	if Verify(nil, msg, sig) || Verify(new(PublicKey), msg, sig) {
		t.Error("nil or zero key accepted")
	}
	b.Add(nil, msg, sig)
	b.Add(new(PublicKey), msg, sig)
	want = append(want, false, false)
	results := make([]bool, b.Len())
	if all, err := b.Verify(results); err != nil || all {
		t.Errorf("batch with bad lengths: Verify = %v, %v", all, err)
	}
	for i := range want {
		if results[i] != want[i] {
			t.Errorf("entry %d: %v, want %v", i, results[i], want[i])
		}
	}
	if got := pk.Bytes(); string(got) != string(pub) {
		t.Errorf("Bytes = %x, want %x", got, pub)
	}
	pk.Bytes()[0] ^= 1
	if string(pk.Bytes()) != string(pub) {
		t.Error("Bytes returned the key's own memory")
	}
}

func TestSmallOrderKeys(t *testing.T) {
	for i := range 8 {
		enc := torsion(t, i).Bytes()
		if _, err := NewPublicKey(enc); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("small-order key %x: error %v", enc, err)
		}
	}
}

func TestEmptyBatch(t *testing.T) {
	var b Batch
	all1, err1 := b.Verify(nil)
	all2, err2 := b.Verify([]bool{})
	if !all1 || !all2 || err1 != nil || err2 != nil {
		t.Errorf("empty batch failed: %v, %v; %v, %v", all1, err1, all2, err2)
	}
	b.Add(nil, nil, nil)
	if all, err := b.Verify(nil); all || err != nil {
		t.Errorf("batch of one nil key: Verify = %v, %v", all, err)
	}
	b.Reset()
	if all, err := b.Verify(nil); b.Len() != 0 || !all || err != nil {
		t.Errorf("Reset did not empty the batch: Len %d, Verify = %v, %v", b.Len(), all, err)
	}
}

func TestShortResultsPanics(t *testing.T) {
	var b Batch
	b.Add(nil, nil, nil)
	b.Add(nil, nil, nil)
	defer func() {
		if recover() == nil {
			t.Error("no panic for a results slice shorter than the batch")
		}
	}()
	b.Verify(make([]bool, 1))
}

// TestConcurrentUse verifies with one PublicKey from several goroutines,
// singly and in one Batch per goroutine; run it with -race.
func TestConcurrentUse(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	s := newSigner(t, rng, 0)
	entries := make([]testEntry, 20)
	for i := range entries {
		kind := corruptNone
		if i%5 == 4 {
			kind = corruptBitMsg
		}
		entries[i] = makeEntry(t, rng, []*signer{s}, kind)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			var b Batch
			for _, e := range entries {
				b.Add(s.pk, e.msg, e.sig)
			}
			results := make([]bool, len(entries))
			if _, err := b.Verify(results); err != nil {
				t.Errorf("goroutine %d: Verify: %v", g, err)
			}
			for i, e := range entries {
				if single := Verify(s.pk, e.msg, e.sig); single != results[i] || single != (e.kind == corruptNone) {
					t.Errorf("goroutine %d, entry %d: batch %v, single %v", g, i, results[i], single)
				}
			}
		})
	}
	wg.Wait()
}

// TestAddDoesNotRetain overwrites the caller's message and signature
// buffers after Add; the batch must verify what was added.
func TestAddDoesNotRetain(t *testing.T) {
	rng := rand.New(rand.NewPCG(81, 82))
	s := newSigner(t, rng, 0)
	var b Batch
	var msgs, sigs [][]byte
	for range 12 {
		e := makeEntry(t, rng, []*signer{s}, corruptNone)
		b.Add(s.pk, e.msg, e.sig)
		msgs = append(msgs, e.msg)
		sigs = append(sigs, e.sig)
	}
	for i := range msgs {
		for j := range msgs[i] {
			msgs[i][j] ^= 0xff
		}
		for j := range sigs[i] {
			sigs[i][j] = 0
		}
	}
	results := make([]bool, b.Len())
	if all, err := b.Verify(results); err != nil || !all {
		t.Errorf("batch changed by writes to the caller's buffers: %v, %v: %v", all, err, results)
	}
}

// TestMostlyBad checks that a batch in which nearly every entry is bad is
// settled by single checks after the sample, without bisection.
func TestMostlyBad(t *testing.T) {
	rng := rand.New(rand.NewPCG(91, 92))
	s := newSigner(t, rng, 0)
	const n = 200
	var b Batch
	for i := range n {
		e := makeEntry(t, rng, []*signer{s}, corruptNone)
		if i != 17 {
			e.msg = append(e.msg, 1)
		}
		b.Add(s.pk, e.msg, e.sig)
	}
	results := make([]bool, n)
	// With 199 of 200 entries bad, the four samples are all bad for almost
	// every draw of the weights, and for this one.
	b.stats = batchStats{}
	b.rand = rand.NewChaCha8([32]byte{3})
	if all, err := b.Verify(results); err != nil || all {
		t.Fatalf("mostly bad: Verify = %v, %v", all, err)
	}
	for i, ok := range results {
		if ok != (i == 17) {
			t.Fatalf("entry %d: %v", i, ok)
		}
	}
	if b.stats.sumPoints != n || b.stats.singles > n+denseSamples {
		t.Errorf("mostly bad: %d points in weighted sums, %d single checks", b.stats.sumPoints, b.stats.singles)
	}
}
