package verify

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/statustoken/statustoken/token"
)

// loadVectorFile reads the committed token vectors.
func loadVectorFile(tb testing.TB) (vf vectorFile, root, sig []byte, toks [][]byte) {
	data, err := os.ReadFile(vectorsFile)
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(data, &vf); err != nil {
		tb.Fatal(err)
	}
	root, _ = hex.DecodeString(vf.RootPublicKey)
	sig, _ = hex.DecodeString(vf.DirectorySignature)
	for _, c := range vf.Tokens {
		raw, err := hex.DecodeString(c.Token)
		if err != nil {
			tb.Fatal(err)
		}
		toks = append(toks, raw)
	}
	return vf, root, sig, toks
}

// resultClass names the sentinel err wraps; any other error is named by
// its text, so that two results compare equal only if they are the same.
func resultClass(err error) string {
	if err == nil {
		return "valid"
	}
	for _, s := range []error{token.ErrMalformed, ErrExpired, ErrNotYetValid, ErrTooFarAhead, ErrUnknownKey,
		ErrKeyMismatch, ErrInvalidSignature, ErrReplayed, ErrStoreFull} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return "other: " + err.Error()
}

// switchStore is a SpentStore whose backing store can be replaced.
type switchStore struct{ m *MemoryStore }

func (s *switchStore) Spend(ctx context.Context, id token.KeyID, nonce token.Nonce, until time.Time) error {
	return s.m.Spend(ctx, id, nonce, until)
}

// FuzzVerifyDifferential checks that batch verification gives every token
// the result single verification gives it: the same error, and the same
// Result when Batch.VerifyResults describes it. The batch is built from the
// committed vector tokens and two fuzzed tokens a and b (seeded from the
// vectors), as layout says:
//
//   - layout[0] picks the time (bits 0-1): the vectors' time, the last
//     second of its epoch, the next epoch or the previous one; and how many
//     times the tokens below are repeated (bits 2-4, one to eight times),
//     up to 128 tokens;
//   - layout[1] picks a spent-token store (bit 0), one or two rsabssa
//     workers (bit 1), a pooled Batch or one Batch reused, whose first call
//     also returns results (bit 2), and where the batch is split into two
//     calls (the other bits);
//   - every following pair of bytes adds one token: the first byte picks a,
//     b or a vector token, the second mutates it (0: none; below 0x80: flip
//     one bit; else: overwrite one byte); the bit or byte depends on the
//     token's position, so repeated tokens differ.
//
// With a spent-token store, single verification runs in batch order, so a
// token's second appearance is a replay in both.
func FuzzVerifyDifferential(f *testing.F) {
	vf, root, sig, pool := loadVectorFile(f)
	dir := []byte(vf.Directory)
	// Seeds: each vector token beside a valid one, in short batches (the
	// fuzzer lengthens them; short inputs keep its minimization quick).
	valid := pool[0]
	for i, tok := range pool {
		f.Add(tok, valid, []byte{byte(i % 4), byte(i * 5), 0, 0, 1, 0, 0, byte(i + 1), 1, 0x80 | byte(i), byte(2 + i), 0})
		f.Add(valid, tok, []byte{0, 1, 0, 0, 1, 0, 0, 0, 1, 0})
	}
	// Every vector token in one batch, as TestTokenVectors checks them.
	all := []byte{0, 4}
	for j := range pool {
		all = append(all, byte(2+j), 0)
	}
	f.Add(valid, valid, all)
	// A mixed batch repeated eight times, with a bad signature late in it.
	for i, c := range vf.Tokens {
		if c.Name == "signature-of-another-token" {
			f.Add(valid, pool[i], []byte{7 << 2, 6, 0, 0, 2, 0, 3, 0, 4, 0, 0, 1, 1, 0})
		}
	}

	// The verifiers are built once: each run sets the clock and gives the
	// store-backed ones fresh stores.
	var (
		now   int64
		clock = func() time.Time { return time.Unix(now, 0) }
		// stores[0] backs the single verifier, stores[1] the batch ones.
		stores    [2]switchStore
		verifiers = map[[3]bool]*Verifier{} // single?, store?, two workers?
	)
	now = testNow.Unix() // the directory's proof is checked at load time
	for _, single := range []bool{false, true} {
		for _, withStore := range []bool{false, true} {
			for _, two := range []bool{false, true} {
				opts := &Options{Now: clock, Skew: -1, Workers: 1}
				if two {
					opts.Workers = 2
				}
				if withStore && single {
					opts.Spent = &stores[0]
				} else if withStore {
					opts.Spent = &stores[1]
				}
				v, err := newV(dir, sig, root, opts)
				if err != nil {
					f.Fatal(err)
				}
				verifiers[[3]bool{single, withStore, two}] = v
			}
		}
	}

	const maxEntries = 128
	f.Fuzz(func(t *testing.T, a, b, layout []byte) {
		if len(layout) < 2 {
			return
		}
		epoch := int64(86400)
		now = vf.Now + []int64{0, epoch - vf.Now%epoch - 1, epoch, -epoch}[layout[0]%4]
		withStore, twoWorkers, reuse := layout[1]&1 != 0, layout[1]&2 != 0, layout[1]&4 != 0
		var toks [][]byte
		reps := 1 + int(layout[0]>>2)%8
		for range reps {
			toks = appendEntries(toks, layout[2:], a, b, pool, maxEntries)
		}
		if len(toks) == 0 {
			return
		}
		split := int(layout[1]>>3) % (len(toks) + 1)
		for i := range stores {
			stores[i].m = NewMemoryStore(0, clock)
		}

		single := verifiers[[3]bool{true, withStore, false}]
		want := make([]string, len(toks))
		wantRes := make([]Result, len(toks))
		for i, tok := range toks {
			r, err := single.Verify(bg, tok)
			want[i], wantRes[i] = resultClass(err), r
		}

		batched := verifiers[[3]bool{false, withStore, twoWorkers}]
		errs := make([]error, len(toks))
		var batchErr [2]error
		if reuse {
			// One Batch for both calls, the first with results.
			res := make([]Result, split)
			bt := batched.NewBatch()
			batchErr[0] = bt.Verify(bg, toks[:split], res, errs[:split])
			batchErr[1] = bt.Verify(bg, toks[split:], nil, errs[split:])
			for i := range res {
				if res[i] != wantRes[i] {
					t.Fatalf("token %d: batch result %+v, single %+v", i, res[i], wantRes[i])
				}
			}
		} else {
			batchErr[0] = batched.NewBatch().Verify(bg, toks[:split], nil, errs[:split])
			batchErr[1] = batched.NewBatch().Verify(bg, toks[split:], nil, errs[split:])
		}
		for i := range toks {
			if got := resultClass(errs[i]); got != want[i] {
				t.Fatalf("token %d of %d (%x): batch gave %q, single %q", i, len(toks), toks[i], got, want[i])
			}
		}
		for half, r := range [2][2]int{{0, split}, {split, len(toks)}} {
			bad := false
			for _, e := range errs[r[0]:r[1]] {
				bad = bad || e != nil
			}
			if bad != errors.Is(batchErr[half], ErrBatch) || bad != (batchErr[half] != nil) {
				t.Fatalf("batch call %d returned %v with per-token errors %v", half, batchErr[half], errs[r[0]:r[1]])
			}
		}

		// The text form gives the binary form's result.
		if !withStore {
			for i, tok := range toks {
				pt, err := token.Parse(tok)
				if err != nil {
					continue
				}
				text, err := pt.MarshalText()
				if err != nil {
					t.Fatal(err)
				}
				if _, err := single.VerifyText(bg, string(text)); resultClass(err) != want[i] {
					t.Fatalf("token %d: VerifyText gave %v, Verify %q", i, err, want[i])
				}
			}
		}
	})
}

// appendEntries appends to toks the tokens that entries describes, two
// bytes per token, up to max tokens in all (see FuzzVerifyDifferential).
func appendEntries(toks [][]byte, entries, a, b []byte, pool [][]byte, max int) [][]byte {
	for e := entries; len(e) >= 2 && len(toks) < max; e = e[2:] {
		var tok []byte
		switch sel := int(e[0]); sel {
		case 0:
			tok = a
		case 1:
			tok = b
		default:
			tok = pool[(sel-2)%len(pool)]
		}
		tok = append([]byte(nil), tok...)
		switch m := int(e[1]); {
		case m == 0 || len(tok) == 0:
		case m < 0x80:
			bit := (m*131 + len(toks)*17) % (8 * len(tok))
			tok[bit/8] ^= 1 << (bit % 8)
		default:
			tok[(m*7+len(toks))%len(tok)] = byte(m)
		}
		toks = append(toks, tok)
	}
	return toks
}
