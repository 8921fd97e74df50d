package issue

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/statustoken/statustoken/internal/keyset"
	"github.com/statustoken/statustoken/internal/rsabssa"
	"github.com/statustoken/statustoken/token"
	"golang.org/x/crypto/cryptobyte"
)

var (
	// ErrMalformedRequest: a token request is not exactly one valid
	// encoding.
	ErrMalformedRequest = errors.New("issue: malformed token request")
	// ErrUnknownKey: a request names a key the issuer does not issue with
	// now.
	ErrUnknownKey = errors.New("issue: request for an unknown or inactive key")
	// ErrStatusNotAssigned: the request's status is not the one the
	// issuer's policy assigns to the holder.
	ErrStatusNotAssigned = errors.New("issue: status not assigned to this holder")
	// ErrBadBlindedMessage: a blinded message is not below the modulus.
	ErrBadBlindedMessage = errors.New("issue: blinded message out of range")
	// ErrSigning: the private operation failed its own check; nothing was
	// returned.
	ErrSigning = errors.New("issue: signing failed")
	// ErrResponse: the holder refuses an issuer's response: malformed, for
	// another key than the holder's directory lists, or with any signature
	// that does not verify. No token from it is kept.
	ErrResponse = errors.New("issue: response refused")
)

const (
	wireVersion = 1
	// rsaSize is the length of a 2048-bit modulus, blinded message and
	// blind signature.
	rsaSize = 256
	// MaxRequestSize is the length of the largest valid token request.
	MaxRequestSize = 1 + 8 + 1 + MaxTokens*rsaSize
	// MaxResponseSize is the length of the largest valid token response.
	MaxResponseSize = 1 + 8 + 1 + MaxTokens*rsaSize
)

// blindWire is the common shape of requests and responses:
//
//	struct {
//	    uint8  version = 1;
//	    opaque key_id[8];            /* the rsabssa key, from the directory */
//	    uint8  count;                /* 1..100 */
//	    opaque element[count][256];  /* blinded messages, or blind signatures */
//	} TokenRequest, TokenResponse;
//
// A request carries nothing but the key and the blinded messages: no
// nonce, no identity, no free-form field.
type blindWire struct {
	keyID    token.KeyID
	elements [][]byte
}

func (w *blindWire) marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint8(wireVersion)
	b.AddBytes(w.keyID[:])
	b.AddUint8(uint8(len(w.elements)))
	for _, e := range w.elements {
		if len(e) != rsaSize {
			return nil, fmt.Errorf("issue: element of %d bytes", len(e))
		}
		b.AddBytes(e)
	}
	return b.Bytes()
}

func parseBlindWire(data []byte) (*blindWire, error) {
	if len(data) > MaxRequestSize {
		return nil, fmt.Errorf("%d bytes, limit %d", len(data), MaxRequestSize)
	}
	var (
		w       blindWire
		version uint8
		count   uint8
		id      []byte
	)
	s := cryptobyte.String(data)
	if !s.ReadUint8(&version) || !s.ReadBytes(&id, len(w.keyID)) || !s.ReadUint8(&count) {
		return nil, errors.New("truncated header")
	}
	if version != wireVersion {
		return nil, fmt.Errorf("unknown version %d", version)
	}
	if count < 1 || count > MaxTokens {
		return nil, fmt.Errorf("count %d outside 1..%d", count, MaxTokens)
	}
	if len(s) != int(count)*rsaSize {
		return nil, fmt.Errorf("%d bytes of elements, want %d", len(s), int(count)*rsaSize)
	}
	copy(w.keyID[:], id)
	w.elements = make([][]byte, count)
	for i := range w.elements {
		s.ReadBytes(&w.elements[i], rsaSize)
	}
	return &w, nil
}

// rsaKey returns the prepared private key for status and the epoch starting
// at notBefore, generating and storing it first when create is set.
func (is *Issuer) rsaKey(status token.Status, notBefore uint32, create bool) (rsaEntry, error) {
	ref := KeyRef{Status: status, NotBefore: notBefore, EpochLength: is.epoch}
	is.mu.Lock()
	e, ok := is.rsa[ref]
	is.mu.Unlock()
	if ok {
		return e, nil
	}
	sk, err := is.rsaKeys.Get(ref)
	if errors.Is(err, ErrKeyNotFound) && create {
		if sk, err = rsabssa.GenerateKey(rand.Reader); err == nil {
			if err = is.rsaKeys.Put(ref, sk); errors.Is(err, ErrKeyExists) {
				sk, err = is.rsaKeys.Get(ref)
			}
		}
	}
	if err != nil {
		return rsaEntry{}, err
	}
	k, err := rsabssa.NewPrivateKey(sk)
	if err != nil {
		return rsaEntry{}, fmt.Errorf("%w: key %v: %v", ErrKeyFile, ref, err)
	}
	e = rsaEntry{key: k, pub: k.PublicKeyBytes()}
	e.id = token.ComputeKeyID(e.pub)
	is.mu.Lock()
	defer is.mu.Unlock()
	if len(is.rsa) > 1024 {
		clear(is.rsa)
	}
	is.rsa[ref] = e
	return e, nil
}

// rsaEntry is a prepared RSABSSA key with its public encoding and key ID,
// computed once.
type rsaEntry struct {
	key *rsabssa.PrivateKey
	pub []byte
	id  token.KeyID
}

// activeRSAKey finds the issuer's rsabssa key with ID id among the epochs
// a directory published at now lists.
func (is *Issuer) activeRSAKey(id token.KeyID, now time.Time) (*rsabssa.PrivateKey, token.Status, error) {
	start, err := is.epochStart(now)
	if err != nil {
		return nil, 0, err
	}
	for e := range is.epochs {
		nb := start + uint32(e)*is.epoch
		for _, st := range is.statuses {
			e, err := is.rsaKey(st.Code, nb, false)
			if errors.Is(err, ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return nil, 0, err
			}
			if e.id == id {
				return e.key, st.Code, nil
			}
		}
	}
	return nil, 0, fmt.Errorf("%w: %v", ErrUnknownKey, id)
}

// Respond answers a holder's blind token request (RFC 9474 BlindSign for
// every blinded message). It parses the request strictly, finds its key
// among the keys of the current and upcoming epochs, asks assigned for the
// status the issuer's own policy gives this holder and refuses any other,
// then signs each blinded message with a constant-time CRT private
// operation whose result is checked (s^e = m) before anything is returned.
//
// The issuer learns only the key (so the status and epoch) and the count:
// blinded messages are uniformly random to it, and it never sees a token.
//
// A request is at most MaxRequestSize bytes; a longer one is refused as
// malformed without being read. A nil assigned assigns no status, so every
// request is refused with ErrStatusNotAssigned.
func (is *Issuer) Respond(request []byte, now time.Time, assigned func() (token.Status, error)) ([]byte, error) {
	if err := is.ready(); err != nil {
		return nil, err
	}
	if !is.publishes(token.RSABSSA) {
		return nil, fmt.Errorf("%w: the issuer does not publish rsabssa keys", ErrUnknownKey)
	}
	w, err := parseBlindWire(request)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedRequest, err)
	}
	k, status, err := is.activeRSAKey(w.keyID, now)
	if err != nil {
		return nil, err
	}
	if assigned == nil {
		return nil, fmt.Errorf("%w: no policy", ErrStatusNotAssigned)
	}
	want, err := assigned()
	if err != nil {
		return nil, err
	}
	if want != status {
		return nil, fmt.Errorf("%w: requested %d", ErrStatusNotAssigned, status)
	}
	resp := blindWire{keyID: w.keyID, elements: make([][]byte, len(w.elements))}
	for i, m := range w.elements {
		s, err := k.BlindSign(m)
		switch {
		case errors.Is(err, rsabssa.ErrInvalidBlindedMessage):
			return nil, fmt.Errorf("%w: element %d", ErrBadBlindedMessage, i)
		case err != nil:
			return nil, ErrSigning
		}
		resp.elements[i] = s
	}
	return resp.marshal()
}

func (is *Issuer) publishes(s token.Suite) bool { return slices.Contains(is.suites, s) }

// Holder is a wallet's side of issuance. It trusts only the directory it
// fetched and checked itself: every token it accepts verifies under the key
// that directory lists for the token's status and epoch.
type Holder struct {
	dir  *token.Directory
	keys *keyset.Set
}

// NewHolder checks the directory's signature under the pinned root key and
// every directory rule (token.OpenDirectory).
func NewHolder(directory, signature []byte, root ed25519.PublicKey) (*Holder, error) {
	d, err := token.OpenDirectory(directory, signature, root)
	if err != nil {
		return nil, err
	}
	keys, err := keyset.New(d)
	if err != nil {
		return nil, err
	}
	return &Holder{dir: d, keys: keys}, nil
}

// Pending is an issuance in progress: the holder's secret nonces and
// blinding states. It never leaves the wallet.
type Pending struct {
	key    *keyset.Key
	tokens []token.Token
	states []rsabssa.State
	used   bool
}

// Request builds a blind request for n tokens (1..MaxTokens) of status,
// under the directory's rsabssa key for the epoch containing at. Each
// token gets a fresh random nonce; only blinded messages are sent.
func (h *Holder) Request(status token.Status, at time.Time, n int) (*Pending, []byte, error) {
	if n < 1 || n > MaxTokens {
		return nil, nil, fmt.Errorf("%w: %d", ErrCount, n)
	}
	if h == nil {
		return nil, nil, fmt.Errorf("%w: no directory", ErrNoKey)
	}
	dk, ok := h.dir.KeyAt(token.RSABSSA, status, at)
	if !ok {
		return nil, nil, fmt.Errorf("%w: rsabssa status %d at %v", ErrNoKey, status, at.UTC())
	}
	k := h.keys.Lookup(dk.ID)
	p := &Pending{key: k, tokens: make([]token.Token, n), states: make([]rsabssa.State, n)}
	w := blindWire{keyID: k.ID, elements: make([][]byte, n)}
	for i := range p.tokens {
		t := &p.tokens[i]
		*t = token.Token{Suite: token.RSABSSA, Status: k.Status, Expiry: k.Expiry, KeyID: k.ID}
		rand.Read(t.Nonce[:])
		blinded, st, err := rsabssa.Blind(k.RSA, rand.Reader, t.Message())
		if err != nil {
			return nil, nil, fmt.Errorf("issue: blinding failed: %w", err)
		}
		w.elements[i], p.states[i] = blinded, st
	}
	req, err := w.marshal()
	if err != nil {
		return nil, nil, err
	}
	return p, req, nil
}

// Finalize turns the issuer's response into tokens. Every signature must
// verify under the key the holder's own directory lists; if the response
// is malformed, names another key, has another count, or any signature
// fails, the whole response is refused with ErrResponse and nothing from
// it is returned. A Pending finalizes once. A response is at most
// MaxResponseSize bytes; a longer one is refused without being read.
func (h *Holder) Finalize(p *Pending, response []byte) ([]*token.Token, error) {
	if p == nil || p.used || p.key == nil {
		return nil, fmt.Errorf("%w: no pending request, or already finalized", ErrResponse)
	}
	w, err := parseBlindWire(response)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrResponse, err)
	}
	if w.keyID != p.key.ID {
		return nil, fmt.Errorf("%w: signed with key %v, not the directory's %v", ErrResponse, w.keyID, p.key.ID)
	}
	if len(w.elements) != len(p.tokens) {
		return nil, fmt.Errorf("%w: %d signatures for %d requests", ErrResponse, len(w.elements), len(p.tokens))
	}
	out := make([]*token.Token, len(p.tokens))
	for i := range p.tokens {
		sig, err := rsabssa.Finalize(p.states[i], w.elements[i])
		if err != nil {
			return nil, fmt.Errorf("%w: signature %d does not verify", ErrResponse, i)
		}
		t := p.tokens[i]
		t.Signature = sig
		if !p.key.VerifySignature(t.Message(), sig) {
			return nil, fmt.Errorf("%w: signature %d does not verify", ErrResponse, i)
		}
		out[i] = &t
	}
	p.used = true
	return out, nil
}

// Accept checks tokens received from an Ed25519 issuer the way Finalize
// checks blind responses: each must be a valid token whose key is in the
// holder's directory, whose fields equal the key's entry, and whose
// signature verifies. If any fails, all are refused with ErrResponse.
func (h *Holder) Accept(toks []*token.Token) error {
	for i, t := range toks {
		raw, err := t.Marshal()
		if err != nil {
			return fmt.Errorf("%w: token %d: %v", ErrResponse, i, err)
		}
		var k *keyset.Key
		if h != nil && h.keys != nil {
			k = h.keys.Lookup(t.KeyID)
		}
		if k == nil || !k.Matches(t) {
			return fmt.Errorf("%w: token %d: key %v is not the directory's key for its status and expiry", ErrResponse, i, t.KeyID)
		}
		msg, _, _ := token.MessageOf(nil, raw)
		if !k.VerifySignature(msg, t.Signature) {
			return fmt.Errorf("%w: token %d: signature does not verify", ErrResponse, i)
		}
	}
	return nil
}

// Directory returns the holder's checked directory, or nil for a Holder
// not made by NewHolder.
func (h *Holder) Directory() *token.Directory {
	if h == nil {
		return nil
	}
	return h.dir
}
