package verify

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/internal/misusetest"
	"github.com/statustoken/statustoken/token"
)

// TestMisuse calls every exported function and method of the package with
// zero values, nil, empty and oversized inputs: none may panic, and each
// refuses what it cannot use with one of its errors.
func TestMisuse(t *testing.T) {
	f := newFixture(t, nil)
	valid := f.edTokens(t, 1, 1)[0]
	huge := make([]byte, 10*token.MaxDirectorySize)
	inputs := map[string][]byte{"nil": nil, "empty": {}, "zeros": make([]byte, token.MaxSize), "huge": huge}

	for name, in := range inputs {
		misusetest.NoPanic(t, "New "+name, func() {
			for _, opts := range []*Options{nil, {}} {
				if v, err := newV(in, in, in, opts); v != nil ||
					(!errors.Is(err, token.ErrDirectorySignature) && !errors.Is(err, token.ErrMalformedDirectory) &&
						!errors.Is(err, token.ErrMalformedTrust)) {
					t.Errorf("newV(%s): %v", name, err)
				}
			}
		})
	}

	// A Verifier or Batch not made by New and NewBatch is a programming
	// error: every method panics, as the standard library's do on a nil
	// receiver, rather than answer as if a token were at fault.
	var nilVerifier *Verifier
	for vname, v := range map[string]*Verifier{"nil": nilVerifier, "zero": {}} {
		for name, call := range map[string]func(){
			"Verify":       func() { v.Verify(bg, valid) },
			"VerifyText":   func() { v.VerifyText(bg, "HT1:") },
			"NewBatch":     func() { v.NewBatch() },
			"Update":       func() { v.Update(published(f.dir, f.sig, f.root)) },
			"Accepted":     func() { v.Accepted() },
			"Directory":    func() { v.Directory() },
			"Batch.Verify": func() { (&Batch{v: v}).Verify(bg, [][]byte{valid}, nil, make([]error, 1)) },
		} {
			misusetest.Panics(t, vname+" Verifier."+name, call)
		}
	}
	misusetest.Panics(t, "zero Batch.Verify", func() { new(Batch).Verify(bg, nil, nil, nil) })
	misusetest.Panics(t, "zero Batch.VerifyText", func() { new(Batch).VerifyText(bg, nil, nil, nil) })

	// Batch.Verify with the wrong number of error slots checks nothing and
	// leaves no slot nil, so a caller reading only errs accepts nothing.
	misusetest.NoPanic(t, "Batch.Verify slots", func() {
		b := f.v.NewBatch()
		for _, n := range []int{0, 1, 3} {
			errs := make([]error, n)
			err := b.Verify(bg, [][]byte{valid, valid}, nil, errs)
			if err == nil || errors.Is(err, ErrBatch) {
				t.Errorf("%d slots for 2 tokens: %v", n, err)
			}
			for i, e := range errs {
				if e != err {
					t.Errorf("%d slots for 2 tokens: slot %d is %v", n, i, e)
				}
			}
		}
		if err := f.v.NewBatch().Verify(bg, [][]byte{valid}, nil, nil); err == nil {
			t.Error("VerifyBatch with no slots: no error")
		}
		for _, n := range []int{1, 3} {
			errs := make([]error, 2)
			err := b.Verify(bg, [][]byte{valid, valid}, make([]Result, n), errs)
			if err == nil || errors.Is(err, ErrBatch) || errs[0] != err || errs[1] != err {
				t.Errorf("%d result slots for 2 tokens: %v %v", n, err, errs)
			}
		}
	})

	misusetest.NoPanic(t, "oversized batch entries", func() {
		toks := [][]byte{huge, huge[:token.MaxSize+1], valid}
		errs := make([]error, len(toks))
		if err := f.v.NewBatch().Verify(bg, toks, nil, errs); !errors.Is(err, ErrBatch) ||
			!errors.Is(errs[0], token.ErrMalformed) || !errors.Is(errs[1], token.ErrMalformed) || errs[2] != nil {
			t.Errorf("oversized batch entries: %v %v", err, errs)
		}
		if _, err := f.v.VerifyText(bg, strings.Repeat("0", 10*token.MaxTextSize)); !errors.Is(err, token.ErrMalformed) {
			t.Errorf("oversized text: %v", err)
		}
	})

	misusetest.NoPanic(t, "zero MemoryStore", func() {
		var m MemoryStore
		until := time.Now().Add(time.Hour)
		if err := m.Spend(bg, token.KeyID{}, token.Nonce{}, until); err != nil {
			t.Errorf("zero MemoryStore.Spend: %v", err)
		}
		if err := m.Spend(bg, token.KeyID{}, token.Nonce{}, until); !errors.Is(err, ErrReplayed) {
			t.Errorf("zero MemoryStore.Spend again: %v", err)
		}
		if err := m.Spend(bg, token.KeyID{}, token.Nonce{}, time.Time{}); !errors.Is(err, ErrReplayed) {
			t.Errorf("zero MemoryStore.Spend of a past time, same nonce: %v", err)
		}
		if err := m.Spend(bg, token.KeyID{}, token.Nonce{1}, time.Time{}); err != nil {
			t.Errorf("zero MemoryStore.Spend of a past time: %v", err)
		}
		if m.Len() != 2 {
			t.Errorf("zero MemoryStore.Len = %d", m.Len())
		}
	})
	misusetest.NoPanic(t, "NewMemoryStore", func() {
		for _, limit := range []int{-1, 0, 1} {
			m := NewMemoryStore(limit, nil)
			if err := m.Spend(bg, token.KeyID{}, token.Nonce{}, time.Now().Add(time.Hour)); err != nil || m.Len() != 1 {
				t.Errorf("NewMemoryStore(%d, nil): %v", limit, err)
			}
		}
	})
}
