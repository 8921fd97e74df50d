// Package holder is a wallet's side of statustoken: a [Holder], made by
// [New] from a published key directory and the pinned trust policy
// ([token.Trust]: the root key, the log and its witnesses), requests
// blind tokens, checks every token it receives against its own directory,
// and keeps that directory current.
//
// With the rsabssa suite (RFC 9474 blind RSA) the wallet calls
// [Holder.Request] for a batch of tokens, sends the request to the issuer,
// and turns the issuer's response into tokens with [Holder.Finalize]. The
// issuer sees only blinded messages: it cannot recognise the tokens later.
// Tokens of the ed25519 suite, signed by the issuer directly, are checked
// with [Holder.Accept]. Under a directory with a decision policy, check
// the receipt of every answer first ([Holder.CheckReceipt]), its record's
// log proof when it comes ([Holder.CheckDecisionProof]), and write an
// appeal bundle with [Holder.Appeal]. Show each token once, in its text form
// ([token.Token.MarshalText]) as a QR code.
//
// # Errors
//
// Every error wraps one of: [ErrNoKey], [ErrCount], [ErrResponse],
// [ErrPending], [ErrUpdateFirst], and, from loading a directory,
// [token.ErrMalformedDirectory], [token.ErrInvalidDirectory],
// [token.ErrDirectorySignature], or a [*token.LoadError] wrapping
// [token.ErrRollback], [token.ErrStatusRenamed], [token.ErrNotLogged],
// [token.ErrNotNewest], [token.ErrQuorum], [token.ErrStale] or
// [token.ErrInconsistent]; from receipts and appeals, the decision errors
// of package token ([token.ErrMalformedReceipt], [token.ErrReceiptSignature],
// [token.ErrReceiptDirectory], [token.ErrReceiptReason],
// [token.ErrReceiptMismatch], [token.ErrDecisionNotLogged],
// [token.ErrOpening], [token.ErrMalformedAppeal], and for an appeal's
// directory the errors of token.OpenDirectory); or, only if the system's random source fails
// while blinding, an error that says so. A Holder not made by New, or a
// nil trust policy, is a programming error: the methods panic.
//
// # Security considerations
//
// Pin the trust policy in the wallet itself; never take it from the same
// place as the directory. The policy's witnesses are what make a split
// view (one directory for most people, another with an extra key for a
// targeted group) detectable: a directory is accepted only if a quorum of
// them saw it in the one log. A key that the wallet's own
// directory does not list for a token's status and epoch is an attack (it
// could mark the holder): Finalize and Accept refuse every token of such a
// response. Keep the Holder between directory updates, so that it refuses
// a directory older than one it has seen. A Pending holds the secrets that
// link a request to its tokens: never send or log it.
package holder

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/statustoken/statustoken/internal/format"
	"github.com/statustoken/statustoken/internal/keyset"
	"github.com/statustoken/statustoken/internal/rsabssa"
	"github.com/statustoken/statustoken/internal/tokenmsg"
	"github.com/statustoken/statustoken/token"
)

// Errors of the holder, each for a case a wallet handles in its own way.
var (
	// ErrNoKey: the holder's directory lists no rsabssa key for the status
	// and time asked for. Fetch a newer directory, or ask for another
	// status or time.
	ErrNoKey = errors.New("holder: no rsabssa key for this status and time in the directory")
	// ErrCount: the number of tokens asked for is outside 1..MaxTokens,
	// or not the directory's tokens_per_request when it sets one.
	ErrCount = errors.New("holder: token count out of range")
	// ErrResponse: the issuer's response or tokens are refused: malformed,
	// of another key or count than requested, under a key the holder's
	// current directory does not list for the tokens' status and epoch,
	// or with any signature that does not verify. No token from it is
	// kept; the issuer misbehaved or the response was damaged.
	ErrResponse = errors.New("holder: response refused")
	// ErrPending: a Pending was already finalized, or was made by another
	// Holder. Make a new request.
	ErrPending = errors.New("holder: pending request already finalized or not this holder's")
	// ErrUpdateFirst: the log checkpoint of the holder's directory is
	// older than the trust policy's issue-max-age, so a request under it
	// could use a key that a newer directory withdrew. Fetch the current
	// directory (Update), then request.
	ErrUpdateFirst = errors.New("holder: directory too old to request tokens; update it first")
)

var errBlind = errors.New("holder: blinding failed: the random source failed")

// MaxTokens bounds the tokens of one request.
const MaxTokens = format.MaxTokens

// MaxResponseSize is the length of the largest valid issuer response.
const MaxResponseSize = format.MaxBlindSize

// Holder is a wallet's view of the issuer: the pinned trust policy and
// the newest directory it has checked. Every token it accepts verifies
// under the key that directory lists for the token's status and epoch.
// It is safe for concurrent use.
type Holder struct {
	trust *token.Trust
	now   func() time.Time

	update sync.Mutex // serializes updates

	mu   sync.Mutex
	dir  *token.Directory
	pub  token.Published
	acc  token.Accepted
	keys *keyset.Set
}

// Options configure a Holder. The zero value is ready to use.
type Options struct {
	// Now returns the current time, for the freshness of the log's
	// checkpoints; time.Now when nil.
	Now func() time.Time
	// Accepted is what the wallet accepted before a restart, from
	// Holder.Accepted (persisted with its MarshalText and read back with
	// token.ParseAccepted): every directory must extend it (token.Open).
	// The zero value accepts any first directory.
	Accepted token.Accepted
}

// New checks a published directory against the pinned trust policy, as
// token.Open does (the root signature, every directory rule, and the
// proof that the directory is the newest in the log, cosigned by a
// quorum of the pinned witnesses within the freshness bound, extending
// Options.Accepted), and returns a Holder that trusts that directory
// and keeps the policy for every later update. It panics if trust was
// not made by token.ParseTrust.
func New(p token.Published, trust *token.Trust, opts *Options) (*Holder, error) {
	h := &Holder{trust: trust, now: time.Now}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Now != nil {
		h.now = o.Now
	}
	d, acc, keys, err := h.open(p, o.Accepted)
	if err != nil {
		return nil, err
	}
	h.dir, h.pub, h.acc, h.keys = d, clonePublished(p), acc, keys
	return h, nil
}

func (h *Holder) open(p token.Published, prev token.Accepted) (*token.Directory, token.Accepted, *keyset.Set, error) {
	d, acc, err := token.Open(p, h.trust, prev, h.now())
	if err != nil {
		return nil, prev, nil, err
	}
	keys, err := keyset.New(d)
	if err != nil {
		return nil, prev, nil, err
	}
	return d, acc, keys, nil
}

// Update replaces the holder's directory with a newer published one,
// checked as New checks it under the trust policy given to New. The new
// serial must be higher than the current one, or equal with identical
// bytes (token.ErrRollback), and its log checkpoint must extend the
// current one (token.ErrInconsistent); otherwise Update keeps the current
// directory. Tokens already finalized are not affected, but a Pending
// made before the update is finalized against the new directory. Updates
// are applied one at a time.
func (h *Holder) Update(p token.Published) error {
	h.check()
	h.update.Lock()
	defer h.update.Unlock()
	h.mu.Lock()
	prev := h.acc
	h.mu.Unlock()
	d, acc, keys, err := h.open(p, prev)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dir, h.pub, h.acc, h.keys = d, clonePublished(p), acc, keys
	return nil
}

// Accepted returns what the holder has accepted: its directory's serial
// and SHA-256, the status names and its log checkpoint, to persist and
// pass as Options.Accepted after a restart.
func (h *Holder) Accepted() token.Accepted {
	h.check()
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.acc
}

// check panics for a Holder not made by New, which is a programming
// error.
func (h *Holder) check() {
	if h == nil || h.trust == nil {
		panic("holder: Holder not made by New")
	}
}

// Directory returns a deep copy of the holder's current directory.
func (h *Holder) Directory() *token.Directory {
	h.check()
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dir.Clone()
}

// current returns the holder's directory and keys.
func (h *Holder) current() (*token.Directory, *keyset.Set, token.Accepted) {
	h.check()
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dir, h.keys, h.acc
}

// Pending is an issuance in progress: the holder's secret nonces and
// blinding states. It never leaves the wallet, and is finalized at most
// once.
type Pending struct {
	h      *Holder
	keyID  token.KeyID
	tokens []token.Token
	states []rsabssa.State
	used   atomic.Bool
}

// Request builds a blind request for n tokens (1..MaxTokens, exactly the
// directory's tokens_per_request when it sets one) of status,
// under the directory's rsabssa key for the epoch containing at. Each
// token gets a fresh random nonce; only blinded messages are sent.
//
// The directory must be fresh for issuance: its checkpoint's quorum time
// no older than the trust policy's issue-max-age at the holder's clock,
// else ErrUpdateFirst.
func (h *Holder) Request(status token.Status, at time.Time, n int) (*Pending, []byte, error) {
	h.check()
	if n < 1 || n > MaxTokens {
		return nil, nil, fmt.Errorf("%w: %d, want 1 to %d", ErrCount, n, MaxTokens)
	}
	dir, keys, acc := h.current()
	if dir.TokensPerRequest != 0 && n != dir.TokensPerRequest {
		return nil, nil, fmt.Errorf("%w: %d, the directory fixes %d tokens per request", ErrCount, n, dir.TokensPerRequest)
	}
	now := h.now()
	if cp := acc.Checkpoint.Time(); now.IsZero() || cp.Unix() < now.Unix()-int64(h.trust.IssueMaxAge()/time.Second) {
		return nil, nil, fmt.Errorf("%w: checkpoint from %s, issue-max-age %v", ErrUpdateFirst, cp.Format(time.RFC3339), h.trust.IssueMaxAge())
	}
	dk, ok := dir.KeyAt(token.RSABSSA, status, at)
	if !ok {
		return nil, nil, fmt.Errorf("%w: status %d at %v", ErrNoKey, status, at.UTC().Format(time.RFC3339))
	}
	k := keys.Lookup(dk.ID)
	p := &Pending{h: h, keyID: k.ID, tokens: make([]token.Token, n), states: make([]rsabssa.State, n)}
	req := format.AppendBlindHeader(make([]byte, 0, format.BlindSize(n)), (*[8]byte)(&k.ID), n)
	var msg [tokenmsg.Size]byte
	for i := range p.tokens {
		t := &p.tokens[i]
		*t = token.Token{Suite: token.RSABSSA, Status: k.Status, Expiry: k.Expiry, KeyID: k.ID}
		rand.Read(t.Nonce[:])
		m := tokenmsg.Append(msg[:0], t)
		blinded, st, err := rsabssa.Blind(k.RSA, rand.Reader, m)
		if err != nil {
			return nil, nil, errBlind
		}
		req = append(req, blinded...)
		p.states[i] = st
	}
	return p, req, nil
}

// Finalize turns the issuer's response to p into tokens. Every signature
// must verify under the key that the holder's current directory lists for
// the tokens' status and epoch; if that key has been withdrawn since the
// request, or the response is malformed, names another key, has another
// count, or any signature fails, the whole response is refused with
// ErrResponse and nothing from it is returned.
//
// A Pending is consumed by the first call to Finalize, whatever its
// outcome, also when called from several goroutines: every later call
// returns ErrPending, as does a Pending made by another Holder. A response
// is at most MaxResponseSize bytes; a longer one is refused without being
// read.
func (h *Holder) Finalize(p *Pending, response []byte) ([]*token.Token, error) {
	h.check()
	if p == nil || p.h != h {
		return nil, fmt.Errorf("%w: not a request of this holder", ErrPending)
	}
	if !p.used.CompareAndSwap(false, true) {
		return nil, fmt.Errorf("%w: already finalized", ErrPending)
	}
	id, count, elems, err := format.ParseBlind(response)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrResponse, err)
	}
	if id != p.keyID {
		return nil, fmt.Errorf("%w: signed with key %v, not the requested %v", ErrResponse, token.KeyID(id), p.keyID)
	}
	if count != len(p.tokens) {
		return nil, fmt.Errorf("%w: %d signatures for %d requests", ErrResponse, count, len(p.tokens))
	}
	_, keys, _ := h.current()
	k := keys.Lookup(p.keyID)
	if k == nil || !k.Matches(&p.tokens[0]) {
		return nil, fmt.Errorf("%w: key %v is not in the holder's current directory", ErrResponse, p.keyID)
	}
	out := make([]*token.Token, count)
	toks := make([]token.Token, count)
	var msg [tokenmsg.Size]byte
	for i := range count {
		sig, err := rsabssa.Finalize(p.states[i], elems[i*format.ElementSize:(i+1)*format.ElementSize])
		if err != nil {
			return nil, fmt.Errorf("%w: signature %d does not verify", ErrResponse, i)
		}
		t := &toks[i]
		*t = p.tokens[i]
		t.Signature = sig
		// Finalize verified sig under the key the request was blinded
		// for; check it under the directory's key, as scanners will.
		if !k.VerifySignature(tokenmsg.Append(msg[:0], t), sig) {
			return nil, fmt.Errorf("%w: signature %d does not verify", ErrResponse, i)
		}
		out[i] = t
	}
	return out, nil
}

// Accept checks tokens received from an Ed25519 issuer the way Finalize
// checks blind responses: each must be a valid token whose key is in the
// holder's current directory, whose fields equal the key's entry, and
// whose signature verifies. If any fails, all are refused with
// ErrResponse.
func (h *Holder) Accept(toks []*token.Token) error {
	_, keys, _ := h.current()
	var raw [token.MaxSize]byte
	var msg [tokenmsg.Size]byte
	for i, t := range toks {
		if _, err := t.AppendBinary(raw[:0]); err != nil {
			return fmt.Errorf("%w: token %d: %v", ErrResponse, i, err)
		}
		var k *keyset.Key
		if keys != nil {
			k = keys.Lookup(t.KeyID)
		}
		if k == nil || !k.Matches(t) {
			return fmt.Errorf("%w: token %d: key %v is not the directory's key for its status and expiry", ErrResponse, i, t.KeyID)
		}
		if !k.VerifySignature(tokenmsg.Append(msg[:0], t), t.Signature) {
			return fmt.Errorf("%w: token %d: signature does not verify", ErrResponse, i)
		}
	}
	return nil
}
