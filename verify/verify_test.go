package verify

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

func TestVerifyValid(t *testing.T) {
	f := newFixture(t, nil)
	for _, raw := range append(f.edTokens(t, 2, 3), f.rsaTokens(t, 2, 3)...) {
		r, err := f.v.Verify(bg, raw)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != 2 || r.StatusName != "amber" || r.Suite != token.Suite(raw[1]) {
			t.Fatalf("result %+v", r)
		}
		if !r.Expiry.After(testNow) || r.Expiry.Sub(testNow) > 24*time.Hour {
			t.Fatalf("expiry %v", r.Expiry)
		}
		tok, _ := token.Parse(raw)
		text, _ := tok.MarshalText()
		if _, err := f.v.VerifyText(bg, string(text)); err != nil {
			t.Fatal(err)
		}
	}
}

// expectedFlipError returns the error that verification must give for a
// token that differs from a valid one only in byte i, by the rules of
// SPEC.md, "Verification".
func expectedFlipError(f *fixture, orig, raw []byte, i int) error {
	if _, err := token.Parse(raw); err != nil {
		return token.ErrMalformed
	}
	switch {
	case i < 3: // version and suite flips are malformed; status is matched against the key
		return ErrKeyMismatch
	case i < 7:
		tok, _ := token.Parse(raw)
		now := testNow.Unix()
		exp := int64(tok.Expiry)
		switch {
		case exp <= now:
			return ErrExpired
		case exp > now+int64(f.v.dir.MaxLifetime):
			return ErrTooFarAhead
		}
		return ErrKeyMismatch
	case i < 15:
		return ErrUnknownKey
	}
	return ErrInvalidSignature
}

// TestEveryBitFlip flips every bit of valid tokens of both suites, and
// truncates and extends them: each result must be the error the rules
// name, through single and batch verification.
func TestEveryBitFlip(t *testing.T) {
	f := newFixture(t, nil)
	for _, orig := range [][]byte{f.edTokens(t, 1, 1)[0], f.rsaTokens(t, 3, 1)[0]} {
		var (
			muts [][]byte
			want []error
		)
		for i := range orig {
			for bit := range 8 {
				raw := bytes.Clone(orig)
				raw[i] ^= 1 << bit
				muts = append(muts, raw)
				want = append(want, expectedFlipError(f, orig, raw, i))
			}
		}
		for n := range len(orig) {
			muts = append(muts, orig[:n])
			want = append(want, token.ErrMalformed)
		}
		for _, extra := range [][]byte{{0}, {1}, make([]byte, 192)} {
			muts = append(muts, append(bytes.Clone(orig), extra...))
			want = append(want, token.ErrMalformed)
		}
		for k, raw := range muts {
			_, err := f.v.Verify(bg, raw)
			if !errors.Is(err, want[k]) {
				t.Fatalf("suite %d mutation %d: got %v, want %v", orig[1], k, err, want[k])
			}
		}
		errs := make([]error, len(muts))
		if err := f.v.NewBatch().Verify(bg, muts, nil, errs); !errors.Is(err, ErrBatch) {
			t.Fatalf("batch of bad tokens: %v", err)
		}
		for k := range muts {
			if !errors.Is(errs[k], want[k]) {
				t.Fatalf("batch: suite %d mutation %d: got %v, want %v", orig[1], k, errs[k], want[k])
			}
		}
	}
}

func TestTimeWindow(t *testing.T) {
	f := newFixture(t, nil)
	raw := f.edTokens(t, 1, 1)[0]
	tok, _ := token.Parse(raw)
	exp := tok.ExpiryTime()
	start := exp.Add(-24 * time.Hour)
	next := f.issuerTokenAt(t, testNow.Add(24*time.Hour))
	for _, c := range []struct {
		name string
		now  time.Time
		skew time.Duration
		raw  []byte
		want error
	}{
		{"start of epoch", start, -1, raw, nil},
		{"last second", exp.Add(-time.Second), -1, raw, nil},
		{"at expiry", exp, -1, raw, ErrExpired},
		{"at expiry, within skew", exp, time.Minute, raw, nil},
		{"after expiry and skew", exp.Add(time.Minute), time.Minute, raw, ErrExpired},
		{"before the epoch", start.Add(-time.Second), -1, raw, ErrNotYetValid},
		{"before the epoch, within skew", start.Add(-time.Second), time.Minute, raw, nil},
		{"next epoch's token now", testNow, -1, next, ErrNotYetValid},
		{"next epoch's token, in its epoch", testNow.Add(24 * time.Hour), -1, next, nil},
		{"default skew", exp.Add(DefaultSkew - time.Second), 0, raw, nil},
		{"long after", exp.Add(365 * 24 * time.Hour), 0, raw, ErrExpired},
		{"long before", start.Add(-365 * 24 * time.Hour), 0, raw, ErrTooFarAhead},
	} {
		// The directory is loaded at testNow, when its proof is fresh;
		// tokens are then verified offline at c.now.
		now := testNow
		v, err := newV(f.dir, f.sig, f.root, &Options{Now: func() time.Time { return now }, Skew: c.skew})
		if err != nil {
			t.Fatal(err)
		}
		now = c.now
		if _, err := v.Verify(bg, c.raw); !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
		errs := make([]error, 1)
		v.NewBatch().Verify(bg, [][]byte{c.raw}, nil, errs)
		if !errors.Is(errs[0], c.want) || (c.want == nil) != (errs[0] == nil) {
			t.Errorf("%s (batch): got %v, want %v", c.name, errs[0], c.want)
		}
	}
}

func (f *fixture) issuerTokenAt(t *testing.T, at time.Time) []byte {
	toks, err := f.issuer.IssueEd25519(1, at, 1)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := toks[0].MarshalBinary()
	return raw
}

// TestBatchMatchesSingle verifies random mixes of valid and invalid
// tokens of both suites and several keys, in batches of many sizes: every
// per-token result must equal single verification.
func TestBatchMatchesSingle(t *testing.T) {
	t.Run("serial", func(t *testing.T) {
		if subs := testBatchMatchesSingle(t, nil, 200, 0); subs != 1 {
			t.Fatalf("%d sub-batches used, want 1", subs)
		}
	})
	// Sub-batches of a few tokens each, on three goroutines.
	t.Run("parallel", func(t *testing.T) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
		opts := &Options{Workers: 3}
		if subs := testBatchMatchesSingle(t, opts, 60, 5); subs != 3 {
			t.Fatalf("at most %d sub-batches used, want 3", subs)
		}
	})
}

// usedSubs returns the number of Ed25519 sub-batches b filled in its last
// call.
func usedSubs(b *Batch) int {
	n := 0
	for i := range b.eds {
		if len(b.eds[i].idx) > 0 {
			n++
		}
	}
	return n
}

// testBatchMatchesSingle returns the largest number of Ed25519 sub-batches
// used by one call.
func testBatchMatchesSingle(t *testing.T, opts *Options, maxN, parallelMin int) int {
	f := newFixture(t, opts)
	f.v.parallelMin = parallelMin
	var pool [][]byte
	for _, s := range testStatuses {
		pool = append(pool, f.edTokens(t, s.Code, 40)...)
		pool = append(pool, f.rsaTokens(t, s.Code, 4)...)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	b := f.v.NewBatch()
	maxSubs := 0
	for round := range 60 {
		n := 1 + rng.IntN(maxN)
		if round%10 == 0 {
			n = 1 + rng.IntN(8)
		}
		toks := make([][]byte, n)
		for i := range toks {
			raw := bytes.Clone(pool[rng.IntN(len(pool))])
			switch rng.IntN(6) {
			case 0:
				raw[15+rng.IntN(len(raw)-15)] ^= byte(1 << rng.IntN(8))
			case 1:
				raw[rng.IntN(len(raw))] ^= byte(1 << rng.IntN(8))
			}
			toks[i] = raw
		}
		if round%3 == 0 { // all valid
			for i := range toks {
				toks[i] = pool[rng.IntN(len(pool))]
			}
		}
		errs := make([]error, n)
		berr := b.Verify(bg, toks, nil, errs)
		maxSubs = max(maxSubs, usedSubs(b))
		bad := 0
		for i, raw := range toks {
			_, serr := f.v.Verify(bg, raw)
			if serr != errs[i] && !(serr != nil && errs[i] != nil && serr.Error() == errs[i].Error()) {
				t.Fatalf("round %d token %d: single %v, batch %v", round, i, serr, errs[i])
			}
			if serr != nil {
				bad++
			}
		}
		if (bad == 0) != (berr == nil) || (bad > 0 && !errors.Is(berr, ErrBatch)) {
			t.Fatalf("round %d: %d bad, batch error %v", round, bad, berr)
		}
	}
	return maxSubs
}

func TestReplay(t *testing.T) {
	now := testNow
	store := NewMemoryStore(0, func() time.Time { return now })
	f := newFixture(t, &Options{Spent: store, Skew: -1})
	toks := append(f.edTokens(t, 1, 3), f.rsaTokens(t, 1, 1)...)
	for _, raw := range toks {
		if _, err := f.v.Verify(bg, raw); err != nil {
			t.Fatal(err)
		}
		if _, err := f.v.Verify(bg, raw); !errors.Is(err, ErrReplayed) {
			t.Fatalf("second use: %v", err)
		}
	}
	fresh := f.edTokens(t, 2, 2)
	errs := make([]error, 4)
	f.v.NewBatch().Verify(bg, [][]byte{fresh[0], fresh[0], toks[0], fresh[1]}, nil, errs)
	if errs[0] != nil || !errors.Is(errs[1], ErrReplayed) || !errors.Is(errs[2], ErrReplayed) || errs[3] != nil {
		t.Fatalf("batch replay results %v", errs)
	}
	if store.Len() != 6 {
		t.Fatalf("store holds %d nonces, want 6", store.Len())
	}
	// Once the epoch (and no skew) is over, the whole epoch is forgotten.
	now = testNow.Add(48 * time.Hour)
	store.Spend(bg, token.KeyID{}, token.Nonce{}, now.Add(time.Hour))
	if store.Len() != 1 {
		t.Fatalf("after the epoch the store holds %d nonces, want 1", store.Len())
	}
}

type downStore struct{}

func (downStore) Spend(context.Context, token.KeyID, token.Nonce, time.Time) error {
	return fmt.Errorf("%w: connection refused", ErrStoreUnavailable)
}

func TestSpentStoreFailure(t *testing.T) {
	full := NewMemoryStore(2, func() time.Time { return testNow })
	f := newFixture(t, &Options{Spent: full, Skew: -1})
	toks := f.edTokens(t, 1, 3)
	for _, raw := range toks[:2] {
		if _, err := f.v.Verify(bg, raw); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.v.Verify(bg, toks[2]); !errors.Is(err, ErrStoreFull) {
		t.Fatalf("full store: %v", err)
	}
	for _, failOpen := range []bool{false, true} {
		v, err := newV(f.dir, f.sig, f.root, &Options{Now: func() time.Time { return testNow }, Spent: downStore{}, SpentFailOpen: failOpen})
		if err != nil {
			t.Fatal(err)
		}
		r, err := v.Verify(bg, toks[0])
		if failOpen {
			if err != nil || r.Replay != ReplayStoreDown {
				t.Fatalf("fail open: %v %+v", err, r)
			}
		} else if !errors.Is(err, ErrStoreUnavailable) {
			t.Fatalf("fail closed: %v", err)
		}
	}
	v, _ := newV(f.dir, f.sig, f.root, &Options{Now: func() time.Time { return testNow }, Spent: full, SpentFailOpen: true})
	if _, err := v.Verify(bg, toks[2]); !errors.Is(err, ErrStoreFull) {
		t.Fatalf("a full store must fail closed even with SpentFailOpen: %v", err)
	}
}

// TestDirectoryMutations flips every bit of a signed directory and of its
// signature, and truncates and extends it: each must fail the signature
// check. A one-key directory keeps the count of checks small.
func TestDirectoryMutations(t *testing.T) {
	is, err := issue.NewIssuer(issue.Config{
		RootKey:     ed25519.NewKeyFromSeed(fixedBytes("root", 32)),
		Seed:        fixedBytes("issuer seed", issue.SeedSize),
		EpochLength: 24 * time.Hour,
		Statuses:    testStatuses[:1],
		Epochs:      1,
	})
	if err != nil {
		t.Fatal(err)
	}
	dir, sig, err := is.Directory(testNow, 1)
	if err != nil {
		t.Fatal(err)
	}
	root := is.RootPublicKey()
	if _, err := newV(dir, sig, root, nil); err != nil {
		t.Fatal(err)
	}
	want := token.ErrDirectorySignature
	for i := range 8 * len(dir) {
		d := bytes.Clone(dir)
		d[i/8] ^= 1 << (i % 8)
		if _, err := newV(d, sig, root, nil); !errors.Is(err, want) {
			t.Fatalf("flip of bit %d: %v", i, err)
		}
	}
	for i := range 8 * len(sig) {
		s := bytes.Clone(sig)
		s[i/8] ^= 1 << (i % 8)
		if _, err := newV(dir, s, root, nil); !errors.Is(err, want) {
			t.Fatalf("signature flip of bit %d: %v", i, err)
		}
	}
	for n := range len(dir) {
		if _, err := newV(dir[:n], sig, root, nil); !errors.Is(err, want) {
			t.Fatalf("truncated directory (%d bytes): %v", n, err)
		}
	}
	for n := range len(sig) {
		if _, err := newV(dir, sig[:n], root, nil); !errors.Is(err, want) {
			t.Fatalf("truncated signature (%d bytes): %v", n, err)
		}
	}
	for _, extra := range []string{" ", "\n", "{}", "\x00"} {
		if _, err := newV(append(bytes.Clone(dir), extra...), sig, root, nil); !errors.Is(err, want) {
			t.Fatalf("extended directory: %v", err)
		}
	}
	if _, err := newV(dir, append(bytes.Clone(sig), 0), root, nil); !errors.Is(err, want) {
		t.Fatalf("extended signature: %v", err)
	}
}

func TestDirectoryChecks(t *testing.T) {
	f := newFixture(t, nil)
	other := ed25519.NewKeyFromSeed(fixedBytes("other root", 32)).Public().(ed25519.PublicKey)
	if _, err := newV(f.dir, f.sig, other, nil); !errors.Is(err, token.ErrDirectorySignature) {
		t.Fatalf("other root key: %v", err)
	}
	if _, err := newV(f.dir, f.sig, f.root, &Options{Accepted: token.Accepted{Serial: 2}}); !errors.Is(err, token.ErrRollback) {
		t.Fatalf("accepted serial 2: %v", err)
	}
	dir2, sig2, err := f.issuer.Directory(testNow, 2)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := updateV(f.v, dir2, sig2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := updateV(v2, f.dir, f.sig); !errors.Is(err, token.ErrRollback) {
		t.Fatalf("rollback to serial 1: %v", err)
	}
	dir2b, sig2b, _ := f.issuer.Directory(testNow.Add(24*time.Hour), 2)
	if _, err := updateV(v2, dir2b, sig2b); !errors.Is(err, token.ErrRollback) {
		t.Fatalf("two directories with serial 2: %v", err)
	}
	if _, err := updateV(v2, dir2, sig2); err != nil {
		t.Fatalf("same directory again: %v", err)
	}
}

func TestBatchAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	f := newFixture(t, nil)
	toks := f.edTokens(t, 1, 256)
	errs := make([]error, len(toks))
	b := f.v.NewBatch()
	b.Verify(bg, toks, nil, errs)
	allocs := testing.AllocsPerRun(20, func() {
		if err := b.Verify(bg, toks, nil, errs); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Batch.Verify of 256 tokens: %v allocations per run, want 0", allocs)
	}
	allocs = testing.AllocsPerRun(20, func() { f.v.Verify(bg, toks[0]) })
	if allocs != 0 {
		t.Fatalf("Verify: %v allocations, want 0", allocs)
	}
	// Split into sub-batches on two goroutines.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	fp := newFixture(t, &Options{Workers: 2})
	fp.v.parallelMin = 64
	b = fp.v.NewBatch()
	b.Verify(bg, toks, nil, errs)
	if subs := usedSubs(b); subs != 2 {
		t.Fatalf("%d sub-batches used, want 2", subs)
	}
	allocs = testing.AllocsPerRun(20, func() {
		if err := b.Verify(bg, toks, nil, errs); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Batch.Verify of 256 tokens in 2 sub-batches: %v allocations per run, want 0", allocs)
	}
}

func TestBatchResults(t *testing.T) {
	f := newFixture(t, &Options{Spent: downStore{}, SpentFailOpen: true, Skew: -1})
	toks := append(f.edTokens(t, 2, 3), f.rsaTokens(t, 3, 1)...)
	bad := bytes.Clone(toks[1])
	bad[20] ^= 1
	toks = append(toks, bad)
	results := make([]Result, len(toks))
	errs := make([]error, len(toks))
	if err := f.v.NewBatch().Verify(bg, toks, results, errs); !errors.Is(err, ErrBatch) {
		t.Fatalf("batch: %v", err)
	}
	for i := range 4 {
		single, err := f.v.Verify(bg, toks[i])
		if err != nil || errs[i] != nil {
			t.Fatalf("token %d: %v %v", i, err, errs[i])
		}
		if results[i] != single || results[i].Replay != ReplayStoreDown {
			t.Fatalf("token %d: batch result %+v, single %+v", i, results[i], single)
		}
	}
	if results[3].StatusName != "red" || results[0].StatusName != "amber" {
		t.Fatalf("statuses %q %q", results[0].StatusName, results[3].StatusName)
	}
	if !errors.Is(errs[4], ErrInvalidSignature) || results[4] != (Result{}) {
		t.Fatalf("bad token: %v %+v", errs[4], results[4])
	}
	if err := f.v.NewBatch().Verify(bg, toks, results[:2], errs); err == nil || errors.Is(err, ErrBatch) {
		t.Fatalf("short results slice: %v", err)
	}
}

func TestMemoryStoreAcrossSkews(t *testing.T) {
	store := NewMemoryStore(0, func() time.Time { return testNow })
	f := newFixture(t, nil)
	tight, _ := newV(f.dir, f.sig, f.root, &Options{Now: func() time.Time { return testNow }, Skew: -1, Spent: store})
	loose, _ := newV(f.dir, f.sig, f.root, &Options{Now: func() time.Time { return testNow }, Skew: time.Hour, Spent: store})
	raw := f.edTokens(t, 1, 1)[0]
	if _, err := tight.Verify(bg, raw); err != nil {
		t.Fatal(err)
	}
	if _, err := loose.Verify(bg, raw); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay through a verifier with another skew: %v", err)
	}
	// A token this store's clock sees as expired is still remembered.
	var id token.KeyID
	var n token.Nonce
	if err := store.Spend(bg, id, n, testNow.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := store.Spend(bg, id, n, testNow.Add(-time.Hour)); !errors.Is(err, ErrReplayed) {
		t.Fatalf("second spend of a stale token: %v", err)
	}
}
