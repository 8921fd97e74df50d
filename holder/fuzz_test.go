package holder

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"testing/cryptotest"

	"github.com/statustoken/statustoken/internal/format"
	"github.com/statustoken/statustoken/token"
)

// FuzzFinalize checks the holder's side: a response is accepted only if
// it is exactly the issuer's response to the holder's request, and then
// every token verifies under the directory's key; anything else is refused
// with ErrResponse and no token. The holder's randomness is fixed, so its
// request, and the one valid response, are the same in every run; with
// xorValid set the fuzzed bytes are XORed onto that response (all zeros is
// the valid response itself), so mutations start from it.
func FuzzFinalize(f *testing.F) {
	is := testIssuer(f, nil)
	h := testHolder(f, is)
	const count = 2
	var (
		once  sync.Once
		p0    *Pending
		valid []byte
		err   error
	)
	// pending returns a fresh copy of the one Pending that the fixed
	// randomness gives; Finalize changes nothing in a Pending but its used
	// flag, which the copy starts without.
	pending := func(t *testing.T) *Pending {
		once.Do(func() {
			cryptotest.SetGlobalRandom(t, 1)
			var req []byte
			if p0, req, err = h.Request(1, testNow, count); err == nil {
				valid, err = is.Respond(req, testNow, 1)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		return &Pending{h: p0.h, keyID: p0.keyID, tokens: p0.tokens, states: p0.states}
	}
	size := format.BlindSize(count)
	f.Add(make([]byte, size), true)
	f.Add(make([]byte, size-1), true)
	f.Add(make([]byte, size+1), true)
	f.Add(make([]byte, size-format.ElementSize), true)
	f.Add([]byte{}, false)
	f.Add(append([]byte{format.Version, 1, 2, 3, 4, 5, 6, 7, 8, count}, make([]byte, count*format.ElementSize)...), false)

	f.Fuzz(func(t *testing.T, data []byte, xorValid bool) {
		p := pending(t)
		resp := data
		if xorValid {
			resp = bytes.Clone(data)
			for i := range min(len(resp), len(valid)) {
				resp[i] ^= valid[i]
			}
		}
		toks, err := h.Finalize(p, resp)
		if err != nil {
			if toks != nil || !errors.Is(err, ErrResponse) {
				t.Fatalf("refusal gave %v and %d tokens", err, len(toks))
			}
			if bytes.Equal(resp, valid) {
				t.Fatalf("the valid response was refused: %v", err)
			}
		} else {
			if !bytes.Equal(resp, valid) {
				t.Fatal("accepted a response other than the issuer's")
			}
			if len(toks) != count {
				t.Fatalf("%d tokens for %d requested", len(toks), count)
			}
			for i, tok := range toks {
				k := h.keys.Lookup(tok.KeyID)
				if k == nil || !k.Matches(tok) || !k.VerifySignature(tokenMessage(t, tok), tok.Signature) {
					t.Fatal("accepted a token that does not verify under the directory's key")
				}
				if tok.Nonce != p.tokens[i].Nonce || tok.Suite != token.RSABSSA {
					t.Fatal("a token is not the one requested")
				}
			}
		}
		// Whatever the outcome, the Pending is used up.
		if toks, err := h.Finalize(p, valid); !errors.Is(err, ErrPending) || toks != nil {
			t.Fatalf("a second Finalize gave %v", err)
		}
	})
}
