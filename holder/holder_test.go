package holder

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"github.com/statustoken/statustoken/internal/misusetest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/statustoken/statustoken/internal/format"
	"github.com/statustoken/statustoken/internal/rsabssa"
	"github.com/statustoken/statustoken/internal/testkeys"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

func TestConstants(t *testing.T) {
	if MaxTokens != issue.MaxTokens {
		t.Errorf("MaxTokens %d, issue.MaxTokens %d", MaxTokens, issue.MaxTokens)
	}
	if MaxResponseSize != issue.MaxResponseSize {
		t.Errorf("MaxResponseSize %d, issue.MaxResponseSize %d", MaxResponseSize, issue.MaxResponseSize)
	}
}

// issuerView records every byte the issuer receives and sends.
type issuerView struct{ requests, responses [][]byte }

func blindIssue(t *testing.T, is *issue.Issuer, h *Holder, status token.Status, n int, view *issuerView) []*token.Token {
	t.Helper()
	p, req, resp := request(t, is, h, status, n)
	if view != nil {
		view.requests = append(view.requests, req)
		view.responses = append(view.responses, resp)
	}
	toks, err := h.Finalize(p, resp)
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != n {
		t.Fatalf("%d tokens for %d requested", len(toks), n)
	}
	return toks
}

func TestBlindIssuance(t *testing.T) {
	is := testIssuer(t, nil)
	h := testHolder(t, is)
	var view issuerView
	var toks []*token.Token
	for _, n := range []int{1, 7, MaxTokens} {
		toks = append(toks, blindIssue(t, is, h, 1, n, &view)...)
	}
	checkTokens(t, h.Directory(), 1, toks)
	checkTokens(t, h.Directory(), 2, blindIssue(t, is, h, 2, 3, nil))
	// Every token has its own nonce, and no two share a signature.
	nonces := map[token.Nonce]bool{}
	sigs := map[string]bool{}
	for _, tok := range toks {
		if nonces[tok.Nonce] || sigs[string(tok.Signature)] {
			t.Fatal("two tokens share a nonce or a signature")
		}
		nonces[tok.Nonce], sigs[string(tok.Signature)] = true, true
	}
	// The issuer's whole view holds no nonce and no signature, nor any
	// 8-byte run of either. (Key ID, status and expiry are shared by every
	// holder of the status and epoch, and are public in the directory.)
	all := bytes.Join(append(view.requests, view.responses...), nil)
	for _, tok := range toks {
		for _, secret := range [][]byte{tok.Nonce[:], tok.Signature} {
			for i := 0; i+8 <= len(secret); i++ {
				if bytes.Contains(all, secret[i:i+8]) {
					t.Fatalf("issuer view contains token bytes %x", secret[i:i+8])
				}
			}
		}
		raw, err := tok.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(all, raw[15:]) {
			t.Fatal("issuer view contains a token")
		}
	}
	// Tokens of the next epoch's key.
	p, req, err := h.Request(1, testNow.Add(24*time.Hour), 2)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := is.Respond(req, testNow, 1)
	if err != nil {
		t.Fatal(err)
	}
	next, err := h.Finalize(p, resp)
	if err != nil {
		t.Fatal(err)
	}
	checkTokens(t, h.Directory(), 1, next)
	if next[0].KeyID == toks[0].KeyID || next[0].Expiry != toks[0].Expiry+86400 {
		t.Fatal("tokens asked for the next epoch are of the current one")
	}
}

// TestResponseRefused checks that Finalize refuses, with ErrResponse and
// no token, every response but the issuer's: one signed under another key,
// naming another key, with one bad signature, or malformed. Each refusal
// uses up its Pending, so each case has its own request.
func TestResponseRefused(t *testing.T) {
	is := testIssuer(t, nil)
	h := testHolder(t, is)

	// A tagging key: valid RSA, not in the directory.
	tagKey, err := rsabssa.NewPrivateKey(testkeys.RSA(4))
	if err != nil {
		t.Fatal(err)
	}
	tagID := token.ComputeKeyID(tagKey.PublicKeyBytes())
	dk, _ := h.Directory().KeyAt(token.RSABSSA, 1, testNow)
	otherStatus, _ := h.Directory().KeyAt(token.RSABSSA, 2, testNow)
	cases := []struct {
		name string
		bad  func(req, good []byte) []byte
	}{
		// Signed with the tagging key but claiming the directory's key ID.
		{"tagging key, directory's ID", func(req, _ []byte) []byte { return signBlind(t, tagKey, dk.ID, req) }},
		// Naming the tagging key's own ID.
		{"tagging key, own ID", func(req, _ []byte) []byte { return signBlind(t, tagKey, tagID, req) }},
		// The right signatures, naming another key of the directory.
		{"other key's ID", func(_, good []byte) []byte {
			b := bytes.Clone(good)
			copy(b[1:9], otherStatus.ID[:])
			return b
		}},
		// One bad signature among good ones refuses the whole response.
		{"one bad signature", func(_, good []byte) []byte {
			b := bytes.Clone(good)
			b[len(b)-1] ^= 1
			return b
		}},
		{"first signature bad", func(_, good []byte) []byte {
			b := bytes.Clone(good)
			b[10+255] ^= 1
			return b
		}},
		{"signatures swapped", func(_, good []byte) []byte {
			b := bytes.Clone(good)
			copy(b[10:10+256], good[10+256:10+512])
			copy(b[10+256:10+512], good[10:10+256])
			return b
		}},
		{"signature = 0", func(_, good []byte) []byte {
			b := bytes.Clone(good)
			clear(b[10 : 10+256])
			return b
		}},
		{"signature = n", func(_, good []byte) []byte {
			b := bytes.Clone(good)
			pk, err := rsabssa.ParsePublicKey(dk.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			pk.RSA().N.FillBytes(b[10 : 10+256])
			return b
		}},
		// The request echoed back.
		{"request echoed", func(req, _ []byte) []byte { return req }},
		{"nil", func(_, _ []byte) []byte { return nil }},
		{"truncated", func(_, good []byte) []byte { return good[:len(good)-1] }},
		{"extended", func(_, good []byte) []byte { return append(bytes.Clone(good), 0) }},
		{"version 2", func(_, good []byte) []byte { b := bytes.Clone(good); b[0] = 2; return b }},
		// A well-formed response with a signature too few or too many.
		{"one signature short", func(_, good []byte) []byte {
			b := bytes.Clone(good[:len(good)-256])
			b[9]--
			return b
		}},
		{"one signature more", func(_, good []byte) []byte {
			b := append(bytes.Clone(good), good[10:10+256]...)
			b[9]++
			return b
		}},
	}
	for _, c := range cases {
		p, req, good := request(t, is, h, 1, 5)
		if toks, err := h.Finalize(p, c.bad(req, good)); !errors.Is(err, ErrResponse) || toks != nil {
			t.Errorf("%s: %v, %d tokens", c.name, err, len(toks))
		}
		// The refusal used up the Pending: not even the issuer's own
		// response finalizes it now.
		if toks, err := h.Finalize(p, good); !errors.Is(err, ErrPending) || toks != nil {
			t.Errorf("%s: Finalize after a refusal: %v", c.name, err)
		}
	}
	// The response to another request of the same key and count.
	p, _, _ := request(t, is, h, 1, 5)
	_, _, other := request(t, is, h, 1, 5)
	if toks, err := h.Finalize(p, other); !errors.Is(err, ErrResponse) || toks != nil {
		t.Errorf("response to another request: %v", err)
	}

	p, _, good := request(t, is, h, 1, 5)
	if _, err := h.Finalize(p, good); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Finalize(p, good); !errors.Is(err, ErrPending) {
		t.Fatalf("second Finalize: %v", err)
	}
	if _, err := h.Finalize(nil, good); !errors.Is(err, ErrPending) {
		t.Fatalf("nil Pending: %v", err)
	}
}

func TestRequestErrors(t *testing.T) {
	is := testIssuer(t, nil)
	h := testHolder(t, is)
	for _, n := range []int{-1, 0, MaxTokens + 1, 1 << 20} {
		if p, r, err := h.Request(1, testNow, n); !errors.Is(err, ErrCount) || p != nil || r != nil {
			t.Errorf("Request n=%d: %v", n, err)
		}
	}
	if _, _, err := h.Request(9, testNow, 1); !errors.Is(err, ErrNoKey) {
		t.Errorf("Request for an unknown status: %v", err)
	}
	// The directory lists the current and the next epoch only.
	for _, at := range []time.Time{testNow.Add(-24 * time.Hour), testNow.Add(48 * time.Hour), {}, time.Unix(1<<40, 0)} {
		if _, _, err := h.Request(1, at, 1); !errors.Is(err, ErrNoKey) {
			t.Errorf("Request at %v: %v", at, err)
		}
	}
	// A holder of an Ed25519 issuer's directory has no rsabssa key.
	ed := testIssuer(t, func(c *issue.Config) { c.Suites = []token.Suite{token.Ed25519} })
	if _, _, err := testHolder(t, ed).Request(1, testNow, 1); !errors.Is(err, ErrNoKey) {
		t.Errorf("Request of an ed25519 directory: %v", err)
	}
	// The largest request.
	_, req, err := h.Request(2, testNow, MaxTokens)
	if err != nil || len(req) != issue.MaxRequestSize {
		t.Fatalf("request of MaxTokens: %d bytes, %v", len(req), err)
	}
}

// TestAccept checks the holder's check of Ed25519 tokens.
func TestAccept(t *testing.T) {
	is := testIssuer(t, func(c *issue.Config) { c.Suites = []token.Suite{token.Ed25519} })
	h := testHolder(t, is)
	toks, err := is.IssueEd25519(2, testNow, MaxTokens)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Accept(toks); err != nil {
		t.Fatal(err)
	}
	next, err := is.IssueEd25519(1, testNow.Add(24*time.Hour), 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Accept(next); err != nil {
		t.Fatalf("token of the next epoch's key: %v", err)
	}
	clone := func(tok *token.Token) *token.Token {
		c := *tok
		c.Signature = bytes.Clone(tok.Signature)
		return &c
	}
	for name, mutate := range map[string]func(tok *token.Token){
		"signature":       func(tok *token.Token) { tok.Signature[0] ^= 1 },
		"nonce":           func(tok *token.Token) { tok.Nonce[0] ^= 1 },
		"status":          func(tok *token.Token) { tok.Status = 1 },
		"expiry":          func(tok *token.Token) { tok.Expiry += 86400 },
		"suite":           func(tok *token.Token) { tok.Suite = token.RSABSSA },
		"key ID":          func(tok *token.Token) { tok.KeyID[0] ^= 1 },
		"short sig":       func(tok *token.Token) { tok.Signature = tok.Signature[:63] },
		"no signature":    func(tok *token.Token) { tok.Signature = nil },
		"status 0":        func(tok *token.Token) { tok.Status = 0 },
		"unknown suite":   func(tok *token.Token) { tok.Suite = 9 },
		"non-canonical S": func(tok *token.Token) { tok.Signature[63] |= 0xf0 },
	} {
		bad := slices.Clone(toks)
		bad[5] = clone(bad[5])
		mutate(bad[5])
		if err := h.Accept(bad); !errors.Is(err, ErrResponse) {
			t.Errorf("tampered token (%s) accepted: %v", name, err)
		}
	}
	// A holder refuses Ed25519 tokens from a key outside its directory,
	// such as one kept for a targeted group.
	other, err := issue.NewIssuer(issue.Config{RootKey: testRootKey(), Seed: fixedBytes("other", 32),
		EpochLength: 24 * time.Hour, Statuses: testStatuses})
	if err != nil {
		t.Fatal(err)
	}
	tagged, _ := other.IssueEd25519(2, testNow, 1)
	if err := h.Accept(tagged); !errors.Is(err, ErrResponse) {
		t.Fatalf("token of a key outside the directory accepted: %v", err)
	}
	if err := h.Accept(append(slices.Clone(toks), tagged...)); !errors.Is(err, ErrResponse) {
		t.Fatalf("one token of a key outside the directory among good ones accepted: %v", err)
	}
	// A token is accepted only under the key its directory lists for its
	// status: a directory, still signed by the root key, that lists the
	// status 2 key for status 1 (and the status 1 key for status 2) makes
	// every token of either refused, though each signature verifies under
	// its key.
	h2 := testHolder(t, is)
	d := h2.Directory()
	for i := 0; i+1 < len(d.Keys); i += 2 {
		if d.Keys[i].Status != 1 || d.Keys[i+1].Status != 2 {
			t.Fatalf("directory keys %+v", d.Keys)
		}
		d.Keys[i], d.Keys[i+1] = d.Keys[i+1], d.Keys[i]
		d.Keys[i].Status, d.Keys[i+1].Status = 1, 2
	}
	d.Serial = 2
	data, sig := signDirectory(t, d)
	if err := updateH(h2, data, sig); err != nil {
		t.Fatal(err)
	}
	if err := h2.Accept(toks[:1]); !errors.Is(err, ErrResponse) {
		t.Fatalf("token under a key listed for another status accepted: %v", err)
	}
	// Accept checks against the holder's current directory: once the key
	// is withdrawn, its tokens are refused.
	data, sig = signedDirectory(t, is, testNow.Add(48*time.Hour), 2)
	if err := updateH(h, data, sig); err != nil {
		t.Fatal(err)
	}
	if err := h.Accept(toks[:1]); !errors.Is(err, ErrResponse) {
		t.Fatalf("token of a withdrawn key accepted: %v", err)
	}
}

// TestFinalizeWithdrawnKey checks that Finalize checks the tokens against
// the holder's current directory, not the one the request was made
// under: after an Update to a directory that no longer lists the
// request's key, the issuer's own response is refused.
func TestFinalizeWithdrawnKey(t *testing.T) {
	// One epoch per directory: the next day's directory lists none of
	// today's keys.
	is := testIssuer(t, func(c *issue.Config) { c.Epochs = 1 })
	h := testHolder(t, is)
	p, _, resp := request(t, is, h, 1, 3)
	keyID := p.keyID
	data, sig := signedDirectory(t, is, testNow.Add(24*time.Hour), 2)
	if err := updateH(h, data, sig); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.Directory().Lookup(keyID); ok {
		t.Fatal("the new directory still lists the request's key")
	}
	if toks, err := h.Finalize(p, resp); !errors.Is(err, ErrResponse) || toks != nil {
		t.Fatalf("Finalize under a withdrawn key: %v, %d tokens", err, len(toks))
	}
	// A request made under the new directory finalizes.
	p2, req2, err := h.Request(1, testNow.Add(24*time.Hour), 1)
	if err != nil {
		t.Fatal(err)
	}
	resp2, err := is.Respond(req2, testNow.Add(24*time.Hour), 1)
	if err != nil {
		t.Fatal(err)
	}
	toks, err := h.Finalize(p2, resp2)
	if err != nil {
		t.Fatal(err)
	}
	checkTokens(t, h.Directory(), 1, toks)
}

// TestFinalizeKeyReassigned checks that Finalize refuses tokens whose key
// the holder's current directory lists for another status: a newer
// directory, still signed by the root key, that swaps the two statuses'
// keys.
func TestFinalizeKeyReassigned(t *testing.T) {
	is := testIssuer(t, func(c *issue.Config) { c.Epochs = 1 })
	h := testHolder(t, is)
	p, _, resp := request(t, is, h, 1, 2)
	d := h.Directory()
	if len(d.Keys) != 2 || d.Keys[0].Status != 1 || d.Keys[1].Status != 2 {
		t.Fatalf("directory keys %+v", d.Keys)
	}
	d.Keys[0].Status, d.Keys[1].Status = 2, 1
	d.Keys[0], d.Keys[1] = d.Keys[1], d.Keys[0]
	d.Serial = 2
	data, sig := signDirectory(t, d)
	if err := updateH(h, data, sig); err != nil {
		t.Fatal(err)
	}
	if k, ok := h.Directory().Lookup(p.keyID); !ok || k.Status != 2 {
		t.Fatal("the request's key is not listed for status 2")
	}
	if toks, err := h.Finalize(p, resp); !errors.Is(err, ErrResponse) || toks != nil {
		t.Fatalf("Finalize under a key now listed for another status: %v, %d tokens", err, len(toks))
	}
}

// TestFinalizeAfterUpdate checks that an Update that keeps the request's
// key, as a directory of a later serial for the same epochs does, leaves
// a Pending usable.
func TestFinalizeAfterUpdate(t *testing.T) {
	is := testIssuer(t, nil)
	h := testHolder(t, is)
	p, _, resp := request(t, is, h, 1, 3)
	// Six hours later: the same two epochs.
	data, sig := signedDirectory(t, is, testNow.Add(6*time.Hour), 2)
	if err := updateH(h, data, sig); err != nil {
		t.Fatal(err)
	}
	toks, err := h.Finalize(p, resp)
	if err != nil {
		t.Fatal(err)
	}
	checkTokens(t, h.Directory(), 1, toks)
	// A request for the next epoch's key survives the update to the
	// next day's directory, which lists that epoch and the one after.
	p, req, err := h.Request(1, testNow.Add(24*time.Hour), 2)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = is.Respond(req, testNow, 1)
	if err != nil {
		t.Fatal(err)
	}
	data, sig = signedDirectory(t, is, testNow.Add(24*time.Hour), 3)
	if err := updateH(h, data, sig); err != nil {
		t.Fatal(err)
	}
	toks, err = h.Finalize(p, resp)
	if err != nil {
		t.Fatal(err)
	}
	checkTokens(t, h.Directory(), 1, toks)
}

// TestFinalizeOtherHolder checks that a Pending is finalized only by the
// Holder that made it, even by a Holder of the very same directory, and
// that another holder's attempt does not use it up.
func TestFinalizeOtherHolder(t *testing.T) {
	is := testIssuer(t, nil)
	data, sig := signedDirectory(t, is, testNow, 1)
	h1, err := newH(data, sig, is.RootPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	h2, err := newH(data, sig, is.RootPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	p1, _, resp1 := request(t, is, h1, 1, 2)
	if toks, err := h2.Finalize(p1, resp1); !errors.Is(err, ErrPending) || toks != nil {
		t.Fatalf("another holder finalized the Pending: %v, %d tokens", err, len(toks))
	}
	var nilHolder *Holder
	misusetest.Panics(t, "nil Holder's Finalize", func() { nilHolder.Finalize(p1, resp1) })
	misusetest.Panics(t, "zero Holder's Finalize", func() { (&Holder{}).Finalize(p1, resp1) })
	toks, err := h1.Finalize(p1, resp1)
	if err != nil {
		t.Fatalf("the Pending's own holder, after another's attempt: %v", err)
	}
	checkTokens(t, h1.Directory(), 1, toks)
	// And the other way round.
	p2, _, resp2 := request(t, is, h2, 2, 1)
	if _, err := h1.Finalize(p2, resp2); !errors.Is(err, ErrPending) {
		t.Fatalf("h1 finalized h2's Pending: %v", err)
	}
	if _, err := h2.Finalize(p2, resp2); err != nil {
		t.Fatal(err)
	}
}

// TestFinalizeOnce checks that a Pending finalizes at most once, also when
// several goroutines call Finalize on it at once with the right response:
// exactly one gets the tokens, every other ErrPending. Run it with -race.
func TestFinalizeOnce(t *testing.T) {
	is := testIssuer(t, nil)
	h := testHolder(t, is)
	const goroutines = 8
	for round := range 5 {
		p, _, resp := request(t, is, h, 1, 2)
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			toks  = make([][]*token.Token, goroutines)
			errs  = make([]error, goroutines)
		)
		for i := range goroutines {
			wg.Go(func() {
				<-start
				toks[i], errs[i] = h.Finalize(p, resp)
			})
		}
		close(start)
		wg.Wait()
		ok := 0
		for i := range goroutines {
			switch {
			case errs[i] == nil:
				ok++
				if len(toks[i]) != 2 {
					t.Fatalf("round %d: %d tokens", round, len(toks[i]))
				}
				checkTokens(t, h.Directory(), 1, toks[i])
			case errors.Is(errs[i], ErrPending):
				if toks[i] != nil {
					t.Fatalf("round %d: tokens with ErrPending", round)
				}
			default:
				t.Fatalf("round %d: %v", round, errs[i])
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d of %d concurrent Finalize calls succeeded, want 1", round, ok, goroutines)
		}
	}

	// A failed Finalize uses the Pending up too, also against concurrent
	// calls with the right response.
	p, _, resp := request(t, is, h, 1, 2)
	if _, err := h.Finalize(p, resp[:len(resp)-1]); !errors.Is(err, ErrResponse) {
		t.Fatalf("truncated response: %v", err)
	}
	if toks, err := h.Finalize(p, resp); !errors.Is(err, ErrPending) || toks != nil {
		t.Fatalf("Finalize after a failed Finalize: %v, %d tokens", err, len(toks))
	}
	p, _, resp = request(t, is, h, 1, 2)
	bad := bytes.Clone(resp)
	bad[len(bad)-1] ^= 1
	if _, err := h.Finalize(p, bad); !errors.Is(err, ErrResponse) {
		t.Fatalf("bad signature: %v", err)
	}
	if toks, err := h.Finalize(p, resp); !errors.Is(err, ErrPending) || toks != nil {
		t.Fatalf("Finalize after a refused signature: %v, %d tokens", err, len(toks))
	}
}

// TestUpdate checks that Update takes a newer directory signed by the
// root key given to New, and refuses everything else keeping the current
// one.
func TestUpdate(t *testing.T) {
	is := testIssuer(t, nil)
	data1, sig1 := signedDirectory(t, is, testNow, 1)
	root := is.RootPublicKey()
	h, err := newH(data1, sig1, root)
	if err != nil {
		t.Fatal(err)
	}
	// New keeps copies of its arguments.
	callerData := data1
	data1 = bytes.Clone(data1)
	callerData[0] ^= 0xff
	root[0] ^= 1

	// The same directory again is still the same bytes to the holder.
	if err := updateH(h, data1, sig1); err != nil {
		t.Fatalf("the same directory again, after the caller changed New's arguments: %v", err)
	}
	data2, sig2 := signedDirectory(t, is, testNow.Add(24*time.Hour), 2)
	if err := updateH(h, data2, sig2); err != nil {
		t.Fatalf("Update after the caller changed New's arguments: %v", err)
	}
	if d := h.Directory(); d.Serial != 2 {
		t.Fatalf("serial %d after Update", d.Serial)
	}
	// The holder now asks under the new directory: the key of the
	// epoch after testNow's next is listed.
	if _, _, err := h.Request(1, testNow.Add(48*time.Hour), 1); err != nil {
		t.Fatalf("Request under the new directory: %v", err)
	}
	// Update copies its argument too.
	data2c := bytes.Clone(data2)
	data2[0] ^= 0xff
	if err := updateH(h, data2c, sig2); err != nil {
		t.Fatalf("the same directory again, after the caller changed its bytes: %v", err)
	}

	// A directory signed by another root key, even with a higher serial:
	// Update keeps the root key given to New.
	other := testIssuer(t, func(c *issue.Config) { c.RootKey = ed25519.NewKeyFromSeed(fixedBytes("other root", 32)) })
	data3, sig3 := signedDirectory(t, other, testNow, 3)
	if err := updateH(h, data3, sig3); !errors.Is(err, token.ErrDirectorySignature) {
		t.Fatalf("directory of another root key: %v", err)
	}
	for name, c := range map[string]struct {
		data, sig []byte
		want      error
	}{
		"bad signature":    {data2c, append(bytes.Clone(sig2[:63]), sig2[63]^1), token.ErrDirectorySignature},
		"other signature":  {data2c, sig1, token.ErrDirectorySignature},
		"no signature":     {data2c, nil, token.ErrDirectorySignature},
		"malformed":        {nil, nil, token.ErrDirectorySignature},
		"huge":             {make([]byte, token.MaxDirectorySize+1), sig2, token.ErrMalformedDirectory},
		"non-canonical":    signedRaw(t, append(bytes.Clone(data2c), ' '), token.ErrMalformedDirectory),
		"invalid contents": signedRaw(t, bytes.Replace(data2c, []byte(`"version":1`), []byte(`"version":2`), 1), token.ErrInvalidDirectory),
	} {
		if err := updateH(h, c.data, c.sig); !errors.Is(err, c.want) {
			t.Errorf("Update, %s: %v, want %v", name, err, c.want)
		}
	}
	if d := h.Directory(); d.Serial != 2 {
		t.Fatalf("serial %d after refused updates", d.Serial)
	}
	current, _ := h.Directory().MarshalBinary()
	if !bytes.Equal(current, data2c) {
		t.Fatal("a refused Update changed the directory")
	}
}

// signedRaw signs data with the test root key, whatever it holds.
func signedRaw(t *testing.T, data []byte, want error) struct {
	data, sig []byte
	want      error
} {
	t.Helper()
	return struct {
		data, sig []byte
		want      error
	}{data, ed25519.Sign(testRootKey(), format.DirectoryMessage(data)), want}
}

// TestUpdateRollback checks that Update refuses a directory of a lower
// serial, or of the same serial with other bytes, with token.ErrRollback and
// keeps the current directory; the same directory again is accepted.
func TestUpdateRollback(t *testing.T) {
	is := testIssuer(t, nil)
	data5, sig5 := signedDirectory(t, is, testNow, 5)
	h, err := newH(data5, sig5, is.RootPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string) {
		t.Helper()
		got, err := h.Directory().MarshalBinary()
		if err != nil || !bytes.Equal(got, data5) {
			t.Fatalf("%s: the holder's directory changed", what)
		}
	}
	for _, serial := range []uint64{4, 1, 0} {
		data, sig := signedDirectory(t, is, testNow, serial)
		if err := updateH(h, data, sig); !errors.Is(err, token.ErrRollback) {
			t.Errorf("serial %d after 5: %v", serial, err)
		}
		check("lower serial")
	}
	// An older directory of a higher epoch but lower serial.
	data, sig := signedDirectory(t, is, testNow.Add(24*time.Hour), 4)
	if err := updateH(h, data, sig); !errors.Is(err, token.ErrRollback) {
		t.Errorf("newer epochs, lower serial: %v", err)
	}
	check("newer epochs, lower serial")
	// Serial 5 again, other contents: the next day's directory, and one
	// that differs only in its max lifetime.
	data, sig = signedDirectory(t, is, testNow.Add(24*time.Hour), 5)
	if err := updateH(h, data, sig); !errors.Is(err, token.ErrRollback) {
		t.Errorf("equal serial, other bytes: %v", err)
	}
	check("equal serial, other bytes")
	d := h.Directory()
	d.MaxLifetime = 2 * d.EpochLength
	data, sig = signDirectory(t, d)
	if err := updateH(h, data, sig); !errors.Is(err, token.ErrRollback) {
		t.Errorf("equal serial, other max lifetime: %v", err)
	}
	check("equal serial, other max lifetime")
	// Serial 5 again, the same bytes: accepted (a wallet refetching).
	if err := updateH(h, data5, sig5); err != nil {
		t.Errorf("equal serial, same bytes: %v", err)
	}
	check("equal serial, same bytes")
	// The rollback check holds after a successful update.
	data6, sig6 := signedDirectory(t, is, testNow, 6)
	if err := updateH(h, data6, sig6); err != nil {
		t.Fatal(err)
	}
	if err := updateH(h, data5, sig5); !errors.Is(err, token.ErrRollback) {
		t.Errorf("serial 5 after 6: %v", err)
	}
	if h.Directory().Serial != 6 {
		t.Fatal("rollback to serial 5")
	}
	// A refused Update leaves Request on the current directory.
	if _, _, err := h.Request(1, testNow, 1); err != nil {
		t.Fatal(err)
	}
	// The largest serial, then nothing below it.
	dmax := h.Directory()
	dmax.Serial = token.MaxSerial
	dataMax, sigMax := signDirectory(t, dmax)
	if err := updateH(h, dataMax, sigMax); err != nil {
		t.Fatal(err)
	}
	if err := updateH(h, data6, sig6); !errors.Is(err, token.ErrRollback) {
		t.Errorf("serial 6 after MaxSerial: %v", err)
	}
}

// TestDirectoryDeepCopy checks that Directory returns a deep copy: changing
// it, down to a key's PublicKey bytes, changes neither the holder's view
// nor a later copy.
func TestDirectoryDeepCopy(t *testing.T) {
	is := testIssuer(t, nil)
	data, sig := signedDirectory(t, is, testNow, 1)
	h, err := newH(data, sig, is.RootPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	d := h.Directory()
	pub := bytes.Clone(d.Keys[0].PublicKey)
	d.Serial = 99
	d.Statuses[0].Name = "changed"
	d.Keys[0].PublicKey[0] ^= 0xff
	d.Keys[0].PublicKey[len(d.Keys[0].PublicKey)-1] ^= 0xff
	d.Keys[1].Status = 9
	d.Keys[2].ID[0] ^= 1
	d.Keys = append(d.Keys[:1], d.Keys[3:]...)
	d.Statuses = append(d.Statuses, token.StatusName{Code: 3, Name: "blue"})

	d2 := h.Directory()
	got, err := d2.MarshalBinary()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("a second Directory differs from the holder's directory: %v", err)
	}
	if !bytes.Equal(d2.Keys[0].PublicKey, pub) {
		t.Fatal("a key's PublicKey bytes are shared")
	}
	// The copies share nothing with each other either.
	d2.Keys[0].PublicKey[0] ^= 0xff
	if d3 := h.Directory(); !bytes.Equal(d3.Keys[0].PublicKey, pub) {
		t.Fatal("two copies share PublicKey bytes")
	}
	// The holder's own checks still use its directory.
	p, _, resp := request(t, is, h, 1, 1)
	toks, err := h.Finalize(p, resp)
	if err != nil {
		t.Fatal(err)
	}
	checkTokens(t, h.Directory(), 1, toks)
	if _, _, err := h.Request(2, testNow, 1); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentUse runs every method of one Holder from several
// goroutines at once, for the race detector.
func TestConcurrentUse(t *testing.T) {
	is := testIssuer(t, nil)
	h := testHolder(t, is)
	// Each directory is logged, and its proof made, before the goroutines
	// start, in serial order: whatever order the updates then run in, a
	// lower serial comes with an older checkpoint and is a rollback.
	var dirs []token.Published
	for serial := uint64(2); serial < 10; serial++ {
		data, sig := signedDirectory(t, is, testNow, serial)
		dirs = append(dirs, published(data, sig, is.RootPublicKey()))
	}
	pendings := make([]*Pending, 8)
	resps := make([][]byte, 8)
	for i := range pendings {
		pendings[i], _, resps[i] = request(t, is, h, 1, 1)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if err := h.Update(dirs[i]); err != nil && !errors.Is(err, token.ErrRollback) {
				t.Errorf("Update: %v", err)
			}
		})
		wg.Go(func() {
			if _, err := h.Finalize(pendings[i], resps[i]); err != nil {
				t.Errorf("Finalize: %v", err)
			}
		})
		wg.Go(func() {
			if _, _, err := h.Request(2, testNow, 1); err != nil {
				t.Errorf("Request: %v", err)
			}
			if d := h.Directory(); d == nil || d.Serial < 1 {
				t.Error("Directory")
			}
			if err := h.Accept(nil); err != nil {
				t.Errorf("Accept: %v", err)
			}
		})
	}
	wg.Wait()
	if s := h.Directory().Serial; s != 9 {
		t.Fatalf("serial %d after concurrent updates up to 9", s)
	}
}

// TestTransparency: a wallet refuses a split view, a directory that is
// not in the log or whose checkpoint too few witnesses cosigned, and
// keeps its checkpoint across a restart.
func TestTransparency(t *testing.T) {
	is := testIssuer(t, nil)
	data1, sig1 := signedDirectory(t, is, testNow, 1)
	data2, sig2 := signedDirectory(t, is, testNow, 2)
	env, trust := envFor(is.RootPublicKey())
	h, err := newH(data1, sig1, is.RootPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	// A second serial 2, not logged: refused, and the wallet keeps serial 1.
	d, err := token.ParseDirectory(data2)
	if err != nil {
		t.Fatal(err)
	}
	d.Keys[0].PublicKey = testkeysPublic(t, 4)
	d.Keys[0].ID = token.ComputeKeyID(d.Keys[0].PublicKey)
	split, splitSig := signDirectory(t, d)
	honest2 := published(data2, sig2, is.RootPublicKey())
	if err := h.Update(token.Published{Directory: split, Signature: splitSig, Proof: honest2.Proof}); !errors.Is(err, token.ErrNotLogged) {
		t.Fatalf("split directory with the honest proof: %v", err)
	}
	i := env.Log.Append(2, split)
	onlyLog := env.Log.Proof(i, env.Log.Checkpoint())
	if err := h.Update(token.Published{Directory: split, Signature: splitSig, Proof: onlyLog}); !errors.Is(err, token.ErrQuorum) {
		t.Fatalf("split directory under a checkpoint no witness cosigned: %v", err)
	}
	if h.Directory().Serial != 1 {
		t.Fatalf("serial %d after refused updates", h.Directory().Serial)
	}
	if err := h.Update(honest2); err != nil {
		t.Fatal(err)
	}
	saved := h.Accepted()
	if saved.Checkpoint == nil {
		t.Fatal("no checkpoint")
	}
	// Restarted with the saved checkpoint: the serial 1 proof, under an
	// older tree, is refused.
	old := published(data1, sig1, is.RootPublicKey())
	if _, err := New(old, trust, &Options{Accepted: saved}); !errors.Is(err, token.ErrRollback) {
		t.Fatalf("restart, serial 1: %v", err)
	}
	if _, err := New(honest2, trust, &Options{Accepted: saved}); err != nil {
		t.Fatalf("restart, the same directory: %v", err)
	}
	stale := &Options{Now: func() time.Time { return envTime.Add(72 * time.Hour) }}
	if _, err := New(honest2, trust, stale); !errors.Is(err, token.ErrStale) {
		t.Fatalf("a proof three days old: %v", err)
	}
}

func testkeysPublic(t *testing.T, i int) []byte {
	t.Helper()
	k, err := rsabssa.NewPrivateKey(testkeys.RSA(i))
	if err != nil {
		t.Fatal(err)
	}
	return k.PublicKeyBytes()
}
