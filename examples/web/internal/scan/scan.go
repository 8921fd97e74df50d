// Package scan is what the web scanner's WebAssembly module does, kept
// free of syscall/js so that it runs and is tested natively: it loads a
// published directory under a pinned trust policy, verifies scanned token
// texts with package verify (refusing a token seen before in the same
// session), and turns every outcome into a verdict in plain words.
//
// The verdicts:
//
//   - green: the token is valid; it shows the status name and the expiry.
//   - red: the token is refused, because of the token itself: not a
//     token, forged or damaged, expired, or from a key the directory does
//     not list (another issuer).
//   - amber: the token is refused, but the cause is probably not the
//     holder's: it was already accepted by this scanner in this session
//     (most often the same code scanned twice), the token's time does not
//     fit this device's clock (not yet valid, or too far ahead), or the
//     session's memory of used tokens is full. The operator decides what
//     to do; nobody gets a green screen for a token that was not accepted.
package scan

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

// Colours of a verdict.
const (
	Green = "green"
	Amber = "amber"
	Red   = "red"
)

// SessionLimit is the number of tokens one session remembers as used. At
// about 100 bytes each, a full session holds a few megabytes; a scanner
// that reaches it gets amber verdicts until the page is reloaded.
const SessionLimit = 1 << 16

// Verdict is what the page shows for one scanned token.
type Verdict struct {
	// Color is Green, Amber or Red.
	Color string
	// Code names the outcome for programs: "valid", "malformed",
	// "expired", "too-far-ahead", "not-yet-valid", "unknown-key",
	// "key-mismatch", "invalid-signature", "replayed", "store-full" or
	// "error".
	Code string
	// Title is the headline: "Valid", "Refused" or "Check".
	Title string
	// Reason says why, in plain words; empty for a valid token.
	Reason string
	// Status is the directory's name of the token's status; set only
	// for a valid token.
	Status string
	// Expiry is the end of a valid token's validity, or when an expired
	// token expired; zero otherwise.
	Expiry time.Time
	// EarlierScan is when this session accepted a replayed token; zero
	// otherwise.
	EarlierScan time.Time
}

// Info describes a loaded directory, for the page's status line.
type Info struct {
	Serial     uint64
	Keys       int
	Statuses   []string
	From, To   time.Time // the span of the directory's key epochs
	Checkpoint time.Time // the newest witness cosignature
	LogOrigin  string
	Root       string // the first 8 bytes of the pinned root key, in hex
	// ClockWarning is set when this device's clock lies outside every
	// key's epoch: every token would then be refused for its time.
	ClockWarning string
}

// Session is one scanner session: a directory, loaded once, and the
// tokens accepted since. It is safe for concurrent use.
type Session struct {
	v     *verify.Verifier
	store *sessionStore
	now   func() time.Time
}

// Open checks a published directory under trust at the time now (time.Now
// when nil) and returns a session that verifies tokens against it. Its
// errors are those of verify.New; LoadError words them for the page.
func Open(p token.Published, trust *token.Trust, now func() time.Time) (*Session, Info, error) {
	if now == nil {
		now = time.Now
	}
	store := newSessionStore(now)
	v, err := verify.New(p, trust, &verify.Options{Now: now, Spent: store, Workers: 1})
	if err != nil {
		return nil, Info{}, err
	}
	return &Session{v: v, store: store, now: now}, describe(v, trust, now()), nil
}

func describe(v *verify.Verifier, trust *token.Trust, now time.Time) Info {
	d := v.Directory()
	info := Info{Serial: d.Serial, Keys: len(d.Keys), LogOrigin: trust.LogOrigin()}
	for _, s := range d.Statuses {
		info.Statuses = append(info.Statuses, s.Name)
	}
	covered := false
	for i, k := range d.Keys {
		if i == 0 || k.NotBeforeTime().Before(info.From) {
			info.From = k.NotBeforeTime()
		}
		if k.ExpiryTime().After(info.To) {
			info.To = k.ExpiryTime()
		}
		if !now.Before(k.NotBeforeTime()) && now.Before(k.ExpiryTime()) {
			covered = true
		}
	}
	if !covered {
		info.ClockWarning = fmt.Sprintf("This device's clock (%s) is outside every key of the directory (%s to %s): check the clock, or load a current directory.",
			now.UTC().Format(time.RFC3339), info.From.Format(time.RFC3339), info.To.Format(time.RFC3339))
	}
	info.Checkpoint = v.Accepted().Checkpoint.Time()
	info.Root = hex.EncodeToString(trust.Root()[:8])
	return info
}

// Check verifies one scanned text (a token's QR text form) and returns
// its verdict. A valid token is recorded as used for this session. Times
// in reasons are in the local time zone (in the browser, the page's).
func (s *Session) Check(text string) Verdict {
	res, err := s.v.VerifyText(context.Background(), text)
	if err == nil {
		return Verdict{Color: Green, Code: "valid", Title: "Valid", Status: res.StatusName, Expiry: res.Expiry}
	}
	v := refusal(err)
	switch v.Code {
	case "expired":
		if t, perr := token.ParseText(text); perr == nil {
			v.Expiry = t.ExpiryTime()
			v.Reason = fmt.Sprintf("This code expired at %s. The holder needs a fresh code.", v.Expiry.Local().Format("15:04 on 2 Jan 2006"))
		}
	case "replayed":
		if t, perr := token.ParseText(text); perr == nil {
			if at, ok := s.store.acceptedAt(t.KeyID, t.Nonce); ok {
				v.EarlierScan = at
				v.Reason = fmt.Sprintf("This scanner already accepted this code at %s. Each code is valid once: ask the holder to show a fresh one.", at.Local().Format("15:04:05"))
			}
		}
	}
	return v
}

// refusal words a verification error.
func refusal(err error) Verdict {
	red := func(code, reason string) Verdict {
		return Verdict{Color: Red, Code: code, Title: "Refused", Reason: reason}
	}
	amber := func(code, reason string) Verdict {
		return Verdict{Color: Amber, Code: code, Title: "Check", Reason: reason}
	}
	switch {
	case errors.Is(err, token.ErrMalformed):
		return red("malformed", "This is not a health token, or it was not read completely. Scan again.")
	case errors.Is(err, verify.ErrExpired):
		return red("expired", "This code has expired. The holder needs a fresh code.")
	case errors.Is(err, verify.ErrUnknownKey):
		return red("unknown-key", "This code was not issued by the issuer this scanner trusts (or this scanner's directory is out of date: reload it, then scan again).")
	case errors.Is(err, verify.ErrKeyMismatch):
		return red("key-mismatch", "This code has been altered: its details do not match the issuer's key.")
	case errors.Is(err, verify.ErrInvalidSignature):
		return red("invalid-signature", "This code is forged or damaged: its signature does not verify.")
	case errors.Is(err, verify.ErrReplayed):
		return amber("replayed", "This scanner already accepted this code. Each code is valid once: ask the holder to show a fresh one.")
	case errors.Is(err, verify.ErrNotYetValid):
		return amber("not-yet-valid", "This code is not valid yet. This device's clock may be behind: check it.")
	case errors.Is(err, verify.ErrTooFarAhead):
		return amber("too-far-ahead", "This code is valid for longer than the issuer allows. This device's clock may be behind: check it.")
	case errors.Is(err, verify.ErrStoreFull):
		return amber("store-full", "This scanner's memory of used codes is full. Reload the page to start a new session.")
	}
	return red("error", "This code could not be checked: "+err.Error())
}

// LoadError words an error of Open (or of reading the trust policy) for
// the operator.
func LoadError(err error) string {
	var why string
	switch {
	case errors.Is(err, token.ErrMalformedTrust):
		why = "The trust policy is not valid"
	case errors.Is(err, token.ErrDirectorySignature):
		why = "The directory is not signed by the root key of the trust policy"
	case errors.Is(err, token.ErrMalformedDirectory), errors.Is(err, token.ErrInvalidDirectory):
		why = "The directory file is damaged or is not a statustoken directory"
	case errors.Is(err, token.ErrNotLogged):
		why = "The directory is not proven to be in the issuer's public log: it may have been made for this scanner alone. Do not use it"
	case errors.Is(err, token.ErrQuorum):
		why = "Not enough of the trusted witnesses cosigned the log: the directory may have been made for this scanner alone. Do not use it"
	case errors.Is(err, token.ErrStale):
		why = "The directory's proof is too old for the trust policy. Fetch a fresh directory and proof, or check this device's clock"
	case errors.Is(err, token.ErrRollback), errors.Is(err, token.ErrInconsistent):
		why = "The directory is older than, or conflicts with, one already accepted"
	default:
		why = "The directory could not be loaded"
	}
	return why + " (" + err.Error() + ")."
}

// Kinds of files an operator gives the page.
const (
	KindDirectory = "directory"
	KindSignature = "signature"
	KindProof     = "proof"
	KindTrust     = "trust"
	KindUnknown   = "unknown"
)

// Classify tells a directory, its signature, its proof and a trust policy
// apart by their contents (file names vary), and returns the bytes to use:
// a signature in base64 text (as in the Statustoken-Directory-Signature
// header) is decoded to its 64 bytes.
func Classify(data []byte) (kind string, use []byte) {
	s := string(data)
	switch {
	case strings.HasPrefix(s, `{"version":`):
		return KindDirectory, data
	case strings.HasPrefix(s, "c2sp.org/tlog-proof@v1\n"):
		return KindProof, data
	case len(data) == token.DirectorySignatureSize:
		return KindSignature, data
	}
	if b, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSpace(s)); err == nil && len(b) == token.DirectorySignatureSize {
		return KindSignature, b
	}
	for _, line := range strings.Split(s, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "root" {
			return KindTrust, data
		}
	}
	return KindUnknown, nil
}

// DecodeHeader decodes a base64 header value (the signature or the proof
// served with the directory); ok is false for a missing or invalid one.
func DecodeHeader(v string) ([]byte, bool) {
	if v == "" {
		return nil, false
	}
	b, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSpace(v))
	return b, err == nil && len(b) > 0
}

// sessionStore is the session's spent-token store: a verify.MemoryStore,
// and when each token was accepted, to tell the operator on a replay.
type sessionStore struct {
	mem *verify.MemoryStore
	now func() time.Time

	mu    sync.Mutex
	first map[spentKey]spentAt
}

type spentKey struct {
	id    token.KeyID
	nonce token.Nonce
}

type spentAt struct{ at, until time.Time }

func newSessionStore(now func() time.Time) *sessionStore {
	return &sessionStore{mem: verify.NewMemoryStore(SessionLimit, now), now: now, first: make(map[spentKey]spentAt)}
}

// Spend implements verify.SpentStore.
func (s *sessionStore) Spend(ctx context.Context, id token.KeyID, nonce token.Nonce, until time.Time) error {
	if err := s.mem.Spend(ctx, id, nonce, until); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.first) >= SessionLimit {
		for k, v := range s.first {
			if !v.until.After(now) {
				delete(s.first, k)
			}
		}
	}
	if len(s.first) < SessionLimit {
		s.first[spentKey{id, nonce}] = spentAt{at: now, until: until}
	}
	return nil
}

func (s *sessionStore) acceptedAt(id token.KeyID, nonce token.Nonce) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.first[spentKey{id, nonce}]
	return v.at, ok
}

// Bench verifies a fixed set of tokens over and over, without a spent
// store, to time verification alone: the page's benchmark and the native
// one that it is compared with run this same code.
type Bench struct {
	v   *verify.Verifier
	raw [][]byte
}

// NewBench loads p under trust, as Open does, and decodes texts, the
// tokens to verify.
func NewBench(p token.Published, trust *token.Trust, texts []string) (*Bench, error) {
	v, err := verify.New(p, trust, &verify.Options{Workers: 1})
	if err != nil {
		return nil, err
	}
	b := &Bench{v: v}
	for _, t := range texts {
		tok, err := token.ParseText(t)
		if err != nil {
			return nil, err
		}
		raw, err := tok.MarshalBinary()
		if err != nil {
			return nil, err
		}
		b.raw = append(b.raw, raw)
	}
	return b, nil
}

// Len returns the number of tokens of one round.
func (b *Bench) Len() int { return len(b.raw) }

// Run verifies every token rounds times with Verifier.Verify and returns
// how many verifications succeeded (rounds × Len when all are valid).
func (b *Bench) Run(rounds int) int {
	ok := 0
	ctx := context.Background()
	for range rounds {
		for _, raw := range b.raw {
			if _, err := b.v.Verify(ctx, raw); err == nil {
				ok++
			}
		}
	}
	return ok
}
