package verify

import (
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
	for _, s := range []error{ErrMalformed, ErrExpired, ErrNotYetValid, ErrTooFarAhead, ErrUnknownKey,
		ErrKeyMismatch, ErrInvalidSignature, ErrReplayed, ErrStoreFull} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return "other: " + err.Error()
}

// FuzzVerifyDifferential checks that batch verification gives every token
// the result single verification gives it. The batch is built from the
// committed vector tokens and two fuzzed tokens a and b (seeded from the
// vectors), as layout says:
//
//   - layout[0] picks the time: the vectors' time, the last second of its
//     epoch, the next epoch or the previous one;
//   - layout[1] picks a spent-token store (bit 0), one or two rsabssa
//     workers (bit 1), a pooled or a reused Batch (bit 2), and where the
//     batch is split into two calls (the other bits);
//   - every following pair of bytes adds one token: the first byte picks a,
//     b or a vector token, the second mutates it (0: none; below 0x80: flip
//     one bit; else: overwrite one byte).
//
// With a spent-token store, single verification runs in batch order, so a
// token's second appearance is a replay in both.
func FuzzVerifyDifferential(f *testing.F) {
	vf, root, sig, pool := loadVectorFile(f)
	dir := []byte(vf.Directory)
	valid := pool[0]
	for i, tok := range pool {
		layout := []byte{byte(i % 4), byte(i * 5)}
		for j := range pool {
			layout = append(layout, byte(2+j), 0)
		}
		layout = append(layout, 0, 0, 1, 0, 0, byte(i+1), 1, 0x80|byte(i))
		f.Add(tok, valid, layout)
		f.Add(valid, tok, []byte{0, 1, 0, 0, 1, 0, 0, 0, 1, 0})
	}

	const maxEntries = 256
	f.Fuzz(func(t *testing.T, a, b, layout []byte) {
		if len(layout) < 2 {
			return
		}
		epoch := int64(86400)
		now := vf.Now + []int64{0, epoch - vf.Now%epoch - 1, epoch, -epoch}[layout[0]%4]
		withStore, twoWorkers, reuse := layout[1]&1 != 0, layout[1]&2 != 0, layout[1]&4 != 0
		var toks [][]byte
		for e := layout[2:]; len(e) >= 2 && len(toks) < maxEntries; e = e[2:] {
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
		if len(toks) == 0 {
			return
		}
		split := int(layout[1]>>3) % (len(toks) + 1)

		clock := func() time.Time { return time.Unix(now, 0) }
		newVerifier := func() *Verifier {
			opts := &Options{Now: clock, Skew: -1, Workers: 1}
			if withStore {
				opts.Spent = NewMemoryStore(0, clock)
			}
			if twoWorkers {
				opts.Workers = 2
			}
			v, err := New(dir, sig, root, opts)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}

		single := newVerifier()
		want := make([]string, len(toks))
		for i, tok := range toks {
			_, err := single.Verify(tok)
			want[i] = resultClass(err)
		}

		batched := newVerifier()
		errs := make([]error, len(toks))
		var batchErr [2]error
		if reuse {
			bt := batched.NewBatch()
			batchErr[0] = bt.Verify(toks[:split], errs[:split])
			batchErr[1] = bt.Verify(toks[split:], errs[split:])
		} else {
			batchErr[0] = batched.VerifyBatch(toks[:split], errs[:split])
			batchErr[1] = batched.VerifyBatch(toks[split:], errs[split:])
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
				if _, err := single.VerifyText(string(text)); resultClass(err) != want[i] {
					t.Fatalf("token %d: VerifyText gave %v, Verify %q", i, err, want[i])
				}
			}
		}
	})
}
