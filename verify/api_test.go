package verify

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/edwards25519"
	"github.com/statustoken/statustoken/internal/format"
	"github.com/statustoken/statustoken/token"
)

// hungStore is a spent-token store whose every call blocks until its
// context ends, like a network store whose server has stopped answering.
type hungStore struct {
	calls atomic.Int32
	// onCall, when set, is called on every call before it blocks.
	onCall func()
}

func (h *hungStore) Spend(ctx context.Context, _ token.KeyID, _ token.Nonce, _ time.Time) error {
	h.calls.Add(1)
	if h.onCall != nil {
		h.onCall()
	}
	<-ctx.Done()
	return ctx.Err()
}

// TestHungStoreOneTimeoutPerBatch: a batch whose store hangs waits for the
// store once, until the context's deadline, and not once per token.
func TestHungStoreOneTimeoutPerBatch(t *testing.T) {
	for _, c := range []struct{ failOpen, option bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		failOpen := c.failOpen
		const timeout = 500 * time.Millisecond
		store := new(hungStore)
		opts := &Options{Spent: store, SpentFailOpen: failOpen, Skew: -1}
		if c.option {
			// The deadline comes from Options.SpentTimeout instead.
			opts.SpentTimeout = timeout
		}
		f := newFixture(t, opts)
		toks := f.edTokens(t, 1, 42)
		results := make([]Result, len(toks))
		errs := make([]error, len(toks))
		// The batch's signatures may take any time on a busy machine, so
		// no deadline starts before them: with the option, the verifier
		// starts it once they are checked; without, the caller's context
		// ends while the store hangs on its first call. That the store
		// is asked once, and not once per token, proves that the batch
		// waits for it once.
		ctx, cancel := context.WithCancel(bg)
		if !c.option {
			store.onCall = cancel
		}
		err := f.v.NewBatch().Verify(ctx, toks, results, errs)
		cancel()
		if n := store.calls.Load(); n != 1 {
			t.Errorf("fail-open %v: the hung store was called %d times, want once", failOpen, n)
		}
		for i := range toks {
			switch {
			case failOpen && (errs[i] != nil || results[i].Replay != ReplayStoreDown):
				t.Fatalf("fail open, token %d: %v %+v", i, errs[i], results[i])
			case !failOpen && !errors.Is(errs[i], ErrStoreUnavailable):
				t.Fatalf("fail closed, token %d: %v", i, errs[i])
			}
		}
		if failOpen != (err == nil) {
			t.Errorf("fail-open %v: batch error %v", failOpen, err)
		}
		// A single verification honours the deadline too.
		one := f.edTokens(t, 1, 1)[0]
		ctx, cancel = context.WithTimeout(bg, 20*time.Millisecond)
		_, err = f.v.Verify(ctx, one)
		cancel()
		if failOpen != (err == nil) || (!failOpen && !errors.Is(err, ErrStoreUnavailable)) {
			t.Errorf("fail-open %v: single verification with a hung store: %v", failOpen, err)
		}
	}
}

// TestRepeatsWithinBatch: with a spent store, a token repeated within one
// batch is accepted once, whatever the store does.
func TestRepeatsWithinBatch(t *testing.T) {
	stores := map[string]struct {
		s        SpentStore
		failOpen bool
	}{
		"memory":           {NewMemoryStore(0, func() time.Time { return testNow }), false},
		"down, fail open":  {downStore{}, true},
		"hung, fail open":  {new(hungStore), true},
		"down, fail close": {downStore{}, false},
	}
	for name, c := range stores {
		f := newFixture(t, &Options{Spent: c.s, SpentFailOpen: c.failOpen, Skew: -1})
		six := append(f.edTokens(t, 1, 4), f.rsaTokens(t, 2, 2)...)
		var toks [][]byte
		for range 7 {
			toks = append(toks, six...)
		}
		ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
		errs := make([]error, len(toks))
		f.v.NewBatch().Verify(ctx, toks, nil, errs)
		cancel()
		accepted := 0
		for i, err := range errs {
			switch {
			case err == nil:
				accepted++
				if i >= len(six) {
					t.Errorf("%s: repeat %d accepted", name, i)
				}
			case i >= len(six) && !errors.Is(err, ErrReplayed):
				t.Errorf("%s: repeat %d: %v, want ErrReplayed", name, i, err)
			}
		}
		want := len(six)
		if !c.failOpen && name != "memory" {
			want = 0
		}
		if accepted != want {
			t.Errorf("%s: %d of %d accepted, want %d", name, accepted, len(toks), want)
		}
	}
}

// failingReader fails every read.
type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

// TestRandomnessFailure: if the random source fails, a batch accepts no
// token and says why, instead of looping or accepting.
func TestRandomnessFailure(t *testing.T) {
	f := newFixture(t, nil)
	toks := append(f.edTokens(t, 1, 64), f.rsaTokens(t, 1, 1)...)
	defer func(r io.Reader) { rand.Reader = r }(rand.Reader)
	for _, r := range []io.Reader{failingReader{}, bytes.NewReader(make([]byte, 1<<20))} {
		rand.Reader = r
		results := make([]Result, len(toks))
		errs := make([]error, len(toks))
		err := f.v.NewBatch().Verify(bg, toks, results, errs)
		if !errors.Is(err, ErrRandomness) {
			t.Fatalf("batch with a failed random source: %v", err)
		}
		for i := range toks {
			if !errors.Is(errs[i], ErrRandomness) || results[i] != (Result{}) {
				t.Fatalf("token %d: %v %+v", i, errs[i], results[i])
			}
		}
	}
}

// TestUpdateKeepsRoot: the root key is fixed at New. A directory signed
// by another root is refused by Update, however valid it is.
func TestUpdateKeepsRoot(t *testing.T) {
	f := newFixture(t, nil)
	other := ed25519.NewKeyFromSeed(fixedBytes("other root", 32))
	d, err := token.ParseDirectory(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	d.Serial = 2
	data, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	sig := ed25519.Sign(other, format.DirectoryMessage(data))
	if _, err := updateV(f.v, data, sig); !errors.Is(err, token.ErrDirectorySignature) {
		t.Fatalf("Update to a directory under another root: %v", err)
	}
	// The same directory under the pinned root is accepted.
	v2, err := newV(data, sig, other.Public().(ed25519.PublicKey), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := updateV(v2, f.dir, f.sig); !errors.Is(err, token.ErrDirectorySignature) {
		t.Fatalf("Update back to the first root: %v", err)
	}
}

// TestDirectoryDeepCopy: nothing reachable from Directory() is shared
// with the Verifier.
func TestDirectoryDeepCopy(t *testing.T) {
	f := newFixture(t, nil)
	raw := f.edTokens(t, 1, 1)[0]
	d := f.v.Directory()
	want := f.v.Directory()
	for i := range d.Keys {
		for j := range d.Keys[i].PublicKey {
			d.Keys[i].PublicKey[j] ^= 0xff
		}
		d.Keys[i].Expiry++
	}
	d.Statuses[0].Name = "changed"
	got := f.v.Directory()
	for i := range got.Keys {
		if !bytes.Equal(got.Keys[i].PublicKey, want.Keys[i].PublicKey) || got.Keys[i].Expiry != want.Keys[i].Expiry {
			t.Fatalf("key %d changed through a copy", i)
		}
	}
	if got.Statuses[0].Name != want.Statuses[0].Name {
		t.Fatal("status name changed through a copy")
	}
	if r, err := f.v.Verify(bg, raw); err != nil || r.StatusName != "green" {
		t.Fatalf("verification after mutating a copy: %v %+v", err, r)
	}
}

// texts returns the text forms of binary tokens.
func texts(t testing.TB, raws [][]byte) []string {
	t.Helper()
	out := make([]string, len(raws))
	for i, raw := range raws {
		tok, err := token.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		b, err := tok.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = string(b)
	}
	return out
}

// TestVerifyTextMatchesBinary: the text entry points give exactly the
// binary ones' results, for valid, tampered and malformed tokens.
func TestVerifyTextMatchesBinary(t *testing.T) {
	f := newFixture(t, &Options{Skew: -1})
	raws := append(f.edTokens(t, 1, 20), f.rsaTokens(t, 3, 2)...)
	txt := texts(t, raws)
	bad := bytes.Clone(raws[3])
	bad[len(bad)-1] ^= 1
	raws = append(raws, bad)
	txt = append(txt, texts(t, [][]byte{bad})...)
	raws = append(raws, []byte("not a token"))
	txt = append(txt, "HT1:not base45!")
	raws = append(raws, nil)
	txt = append(txt, "")

	binRes := make([]Result, len(raws))
	binErr := make([]error, len(raws))
	txtRes := make([]Result, len(raws))
	txtErr := make([]error, len(raws))
	f.v.NewBatch().Verify(bg, raws, binRes, binErr)
	f.v.NewBatch().VerifyText(bg, txt, txtRes, txtErr)
	for i := range raws {
		single, serr := f.v.VerifyText(bg, txt[i])
		if binRes[i] != txtRes[i] || single != txtRes[i] {
			t.Errorf("token %d: results %+v (binary), %+v (text batch), %+v (text)", i, binRes[i], txtRes[i], single)
		}
		if sentinel(binErr[i]) != sentinel(txtErr[i]) || sentinel(serr) != sentinel(txtErr[i]) {
			t.Errorf("token %d: errors %v (binary), %v (text batch), %v (text)", i, binErr[i], txtErr[i], serr)
		}
	}
}

// sentinel returns the package error that err wraps.
func sentinel(err error) error {
	for _, s := range []error{token.ErrMalformed, ErrExpired, ErrNotYetValid, ErrTooFarAhead, ErrUnknownKey,
		ErrKeyMismatch, ErrInvalidSignature, ErrReplayed, ErrStoreUnavailable, ErrStoreFull, ErrRandomness} {
		if errors.Is(err, s) {
			return s
		}
	}
	return err
}

// TestTextAllocations: text verification, single and batch, decodes into
// reused buffers and allocates nothing per token in steady state.
func TestTextAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	f := newFixture(t, nil)
	txt := texts(t, f.edTokens(t, 1, 256))
	b := f.v.NewBatch()
	errs := make([]error, len(txt))
	results := make([]Result, len(txt))
	b.VerifyText(bg, txt, results, errs)
	if allocs := testing.AllocsPerRun(10, func() {
		if err := b.VerifyText(bg, txt, results, errs); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Fatalf("Batch.VerifyText of 256 tokens: %v allocations per run, want 0", allocs)
	}
	if allocs := testing.AllocsPerRun(20, func() { f.v.VerifyText(bg, txt[0]) }); allocs != 0 {
		t.Fatalf("VerifyText: %v allocations, want 0", allocs)
	}
}

// TestErrorTexts: every error verification returns starts with a public
// package's name and names no internal package.
func TestErrorTexts(t *testing.T) {
	f := newFixture(t, &Options{Spent: downStore{}, Skew: -1})
	raw := f.edTokens(t, 1, 1)[0]
	inputs := [][]byte{nil, {1}, {1, 9}, {2, 1}, raw[:50], append(bytes.Clone(raw), 0)}
	zeroStatus := bytes.Clone(raw)
	zeroStatus[2] = 0
	badS := bytes.Clone(raw)
	copy(badS[format.HeaderSize+32:], bytes.Repeat([]byte{0xff}, 32))
	inputs = append(inputs, zeroStatus, badS, raw)
	var errs []error
	for _, in := range inputs {
		_, err := f.v.Verify(bg, in)
		errs = append(errs, err)
	}
	for _, s := range []string{"", "HT1:", "HT1:a", "HT1:GGW", "XX1:00", string(make([]byte, token.MaxTextSize+1))} {
		_, err := f.v.VerifyText(bg, s)
		errs = append(errs, err)
	}
	_, err := newV(nil, nil, make([]byte, 32), nil)
	errs = append(errs, err)
	_, err = newV(f.dir, f.sig, nil, nil)
	errs = append(errs, err)
	for _, err := range errs {
		if err == nil {
			t.Fatal("bad input accepted")
		}
		checkErrorText(t, err)
	}
}

func checkErrorText(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	if !(hasPrefix(msg, "verify: ") || hasPrefix(msg, "token: ")) {
		t.Errorf("error %q does not start with its package name", msg)
	}
	for _, internal := range []string{"base45", "edsig", "rsabssa", "format", "keyset", "internal"} {
		if bytes.Contains([]byte(msg), []byte(internal)) {
			t.Errorf("error %q names %s", msg, internal)
		}
	}
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// TestTransparency: a directory is accepted only with a fresh, cosigned
// proof of its record that extends the checkpoint accepted before, also
// across a restart (Options.Checkpoint).
func TestTransparency(t *testing.T) {
	f := newFixture(t, nil)
	env, trust := envFor(f.root)
	d, err := token.ParseDirectory(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	d.Serial = 7
	dir7, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	sig7 := f.issuerSign(t, dir7)
	p7 := published(dir7, sig7, f.root)
	opts := &Options{Now: func() time.Time { return testNow }}

	// The split view: a signed directory that is not in the log.
	split := token.Published{Directory: dir7, Signature: sig7, Proof: published(f.dir, f.sig, f.root).Proof}
	if _, err := New(split, trust, opts); !errors.Is(err, token.ErrNotLogged) {
		t.Fatalf("a directory that is not in the log: %v", err)
	}
	// Cosigned by one witness only.
	i := env.Log.Append(7, dir7)
	one := env.Log.Proof(i, env.Log.Checkpoint(env.Witnesses[2].At(envTime)))
	if _, err := New(token.Published{Directory: dir7, Signature: sig7, Proof: one}, trust, opts); !errors.Is(err, token.ErrQuorum) {
		t.Fatalf("one cosignature of two needed: %v", err)
	}
	// Stale, at a scanner whose clock is three days on.
	late := &Options{Now: func() time.Time { return envTime.Add(72 * time.Hour) }}
	if _, err := New(p7, trust, late); !errors.Is(err, token.ErrStale) {
		t.Fatalf("a proof cosigned three days before: %v", err)
	}

	v7, err := New(p7, trust, opts)
	if err != nil {
		t.Fatal(err)
	}
	cp := v7.Accepted().Checkpoint
	if cp == nil || cp.Size() < 2 {
		t.Fatalf("checkpoint %v", cp)
	}
	d.Serial = 8
	dir8, _ := d.MarshalBinary()
	sig8 := f.issuerSign(t, dir8)
	p8 := published(dir8, sig8, f.root)
	v8, err := v7.Update(p8)
	if err != nil {
		t.Fatalf("a newer directory: %v", err)
	}
	// Back to serial 7's proof, under a smaller tree: refused even where
	// the serial would pass.
	if _, err := v7.Update(p7); err != nil {
		t.Fatalf("the same directory again: %v", err)
	}
	if _, err := v8.Update(p7); !errors.Is(err, token.ErrRollback) {
		t.Fatalf("serial 7 after 8: %v", err)
	}
	// After a restart, the persisted checkpoint must be extended.
	text, err := v8.Accepted().MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	saved, err := token.ParseAccepted(text, trust)
	if err != nil {
		t.Fatal(err)
	}
	if saved.Serial != 8 || saved.Directory != v8.Accepted().Directory || saved.Checkpoint.Size() != v8.Accepted().Checkpoint.Size() || len(saved.Statuses) != len(d.Statuses) {
		t.Fatalf("accepted state after a round trip: %+v", saved)
	}
	if _, err := New(p7, trust, &Options{Now: opts.Now, Accepted: token.Accepted{Checkpoint: saved.Checkpoint}}); !errors.Is(err, token.ErrInconsistent) {
		t.Fatalf("after a restart, a proof under an older tree: %v", err)
	}
	if _, err := New(p8, trust, &Options{Now: opts.Now, Accepted: saved}); err != nil {
		t.Fatalf("after a restart, the same directory: %v", err)
	}
	if _, err := New(published(f.dir, f.sig, f.root), trust, &Options{Now: opts.Now, Accepted: saved}); !errors.Is(err, token.ErrRollback) {
		t.Fatalf("after a restart, serial 1: %v", err)
	}
}

// TestRestartSameSerial: after a restart with the accepted state, a
// different directory with the accepted serial is refused.
func TestRestartSameSerial(t *testing.T) {
	f := newFixture(t, nil)
	_, trust := envFor(f.root)
	acc := f.v.Accepted()
	if acc.Serial != 1 || acc.Directory == ([32]byte{}) || acc.Checkpoint == nil {
		t.Fatalf("accepted %+v", acc)
	}
	d, err := token.ParseDirectory(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	d.MaxLifetime = d.EpochLength // other bytes, same serial
	other, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	p := published(other, f.issuerSign(t, other), f.root)
	opts := &Options{Now: func() time.Time { return testNow }, Accepted: acc}
	if _, err := New(p, trust, opts); !errors.Is(err, token.ErrRollback) {
		t.Fatalf("another directory with the accepted serial: %v", err)
	}
	opts.Accepted.Directory = [32]byte{}
	if _, err := New(p, trust, opts); err != nil {
		t.Fatalf("without the hash, the same serial passes: %v", err)
	}
}

// constantReader gives the byte 0x55 forever: a broken random source whose
// output is known in advance.
type constantReader struct{}

func (constantReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 0x55
	}
	return len(p), nil
}

// TestPredictableRandomnessCancellingForgeries: with crypto/rand replaced
// by a constant source, two forgeries under one key made to cancel for
// equal batch weights, (R1, s1+d) and (R2, s2−d) from two valid tokens,
// are both refused by a batch, as single verification refuses them.
func TestPredictableRandomnessCancellingForgeries(t *testing.T) {
	f := newFixture(t, nil)
	crand := rand.Reader
	defer func() { rand.Reader = crand }()
	for _, n := range []int{2, 64} {
		toks := f.edTokens(t, 1, n)
		d, err := edwards25519.NewScalar().SetUniformBytes(fixedBytes("cancelling forgeries", 64))
		if err != nil {
			t.Fatal(err)
		}
		forged := []int{0, n - 1}
		for j, i := range forged {
			sig := toks[i][format.HeaderSize:]
			s, err := edwards25519.NewScalar().SetCanonicalBytes(sig[32:])
			if err != nil {
				t.Fatal(err)
			}
			if j == 0 {
				s.Add(s, d)
			} else {
				s.Subtract(s, d)
			}
			copy(sig[32:], s.Bytes())
		}
		rand.Reader = constantReader{}
		errs := make([]error, n)
		err = f.v.NewBatch().Verify(bg, toks, nil, errs)
		rand.Reader = crand
		if !errors.Is(err, ErrBatch) {
			t.Errorf("n=%d: batch error %v, want ErrBatch", n, err)
		}
		for i, raw := range toks {
			_, single := f.v.Verify(bg, raw)
			if !errors.Is(errs[i], single) && errs[i] != single {
				t.Errorf("n=%d: token %d: batch %v, single %v", n, i, errs[i], single)
			}
		}
		for _, i := range forged {
			if !errors.Is(errs[i], ErrInvalidSignature) {
				t.Errorf("n=%d: forged token %d: batch %v, want ErrInvalidSignature", n, i, errs[i])
			}
		}
	}
}

// releasingStore is a store that is down and records what it was asked
// to release.
type releasingStore struct {
	downStore
	mu       sync.Mutex
	released []token.Nonce
}

func (r *releasingStore) Release(_ token.KeyID, nonce token.Nonce) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.released = append(r.released, nonce)
}

// TestReleaseRefusedSpends: a SpentReleaser is told to take back every
// spend that the store could not answer and the verifier refused (fail
// closed), once per token, and never a spend it accepted (fail open) or
// did not ask for (the batch's deadline had passed).
func TestReleaseRefusedSpends(t *testing.T) {
	for _, failOpen := range []bool{false, true} {
		store := new(releasingStore)
		f := newFixture(t, &Options{Spent: store, SpentFailOpen: failOpen, Skew: -1})
		toks := f.edTokens(t, 1, 5)
		f.v.Verify(bg, toks[0])
		errs := make([]error, 4)
		f.v.NewBatch().Verify(bg, toks[1:], nil, errs)
		want := 5
		if failOpen {
			want = 0
		}
		if len(store.released) != want {
			t.Errorf("fail open %v: %d released, want %d", failOpen, len(store.released), want)
		}
		for i, n := range store.released {
			if tok, _ := token.Parse(toks[i]); tok.Nonce != n {
				t.Errorf("release %d: nonce %x, want the token's", i, n)
			}
		}
	}
	store := new(releasingStore)
	f := newFixture(t, &Options{Spent: store, Skew: -1})
	ctx, cancel := context.WithCancel(bg)
	cancel()
	errs := make([]error, 3)
	f.v.NewBatch().Verify(ctx, f.edTokens(t, 1, 3), nil, errs)
	if !errors.Is(errs[0], ErrStoreUnavailable) || len(store.released) != 0 {
		t.Errorf("store not asked: %v, %d released", errs[0], len(store.released))
	}
}
