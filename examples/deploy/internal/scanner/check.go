package scanner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

// item is one token to verify: a line of input, in text form, or the
// error that refused it before verification.
type item struct {
	line int // 0 for a single token
	text string
	err  error
}

// outcome is one token's answer.
type outcome struct {
	line int
	res  verify.Result
	err  error
	// replay is the word of the replay check (ReplaySpentStore...): how
	// a valid token was checked, or which check refused a token; empty
	// when the token was refused before its replay check.
	replay string
	// storeDown: the shared store was unavailable for this token (it was
	// refused, fail closed, or accepted by FailOpen).
	storeDown bool
	// expiry is the token's expiry when known, for refusals about time.
	expiry time.Time
}

func (o *outcome) valid() bool { return o.err == nil }

// malformedInput refuses an input as malformed, for a reason the
// scanner itself found or for the form it could not decode. It wraps
// token.ErrMalformed, and the library's error when there is one.
type malformedInput struct {
	why string // in the scanner's words
	err error  // the library's error, or nil
}

func (e *malformedInput) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return token.ErrMalformed.Error() + ": " + e.why
}

func (e *malformedInput) Unwrap() []error {
	if e.err == nil {
		return []error{token.ErrMalformed}
	}
	return []error{token.ErrMalformed, e.err}
}

// errSeenHere refuses a token this scanner accepted before.
var errSeenHere = fmt.Errorf("%w (by this scanner)", verify.ErrReplayed)

// byteOrderMark is U+FEFF in UTF-8.
const byteOrderMark = "\uFEFF"

// newItem makes the item for one line or argument: the token in its text
// form, base64url converted.
func newItem(line int, s string) item {
	text, err := textForm(s)
	return item{line: line, text: text, err: err}
}

// textForm returns the token in s, without surrounding whitespace, in its
// text form: s itself when it is one, the text form of a base64url token
// otherwise. Only base64url is decoded here; a text form is decoded by
// the batch itself.
func textForm(s string) (string, error) {
	// A byte-order mark, which some editors write at the start of a
	// UTF-8 file, is not part of the token.
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), byteOrderMark))
	if len(s) > MaxInput {
		return "", &malformedInput{why: "input longer than any token"}
	}
	if strings.HasPrefix(s, token.TextPrefix) {
		return s, nil
	}
	t, err := token.ParseBase64(s)
	if err != nil {
		why := "neither the " + token.TextPrefix + " text form nor the base64url form of a token"
		if strings.ContainsAny(s, "./\\") {
			// Neither form has these characters; file names do.
			why = "a file name? To verify a file of tokens, use -batch FILE"
		}
		return "", &malformedInput{why: why, err: err}
	}
	text, err := t.MarshalText()
	if err != nil {
		return "", err
	}
	return string(text), nil
}

// check verifies items as one batch and returns their outcomes, in
// order.
func (s *Scanner) check(ctx context.Context, items []item) []outcome {
	start := time.Now()
	s.texts, s.idx = s.texts[:0], s.idx[:0]
	for i, it := range items {
		if it.err == nil {
			s.texts, s.idx = append(s.texts, it.text), append(s.idx, i)
		}
	}
	s.results = grow(s.results, len(s.texts))
	s.errs = grow(s.errs, len(s.texts))
	if s.watch != nil {
		s.watch.take()
	}
	if len(s.texts) > 0 {
		s.batch.VerifyText(ctx, s.texts, s.results, s.errs)
	}
	outs := make([]outcome, len(items))
	for i, it := range items {
		outs[i] = outcome{line: it.line, err: it.err}
	}
	for j, i := range s.idx {
		outs[i].res, outs[i].err = s.results[j], s.errs[j]
	}
	s.classify(items, outs)
	clear(s.texts)
	clear(s.errs)

	if s.onBatch != nil {
		s.onBatch(len(items))
	}
	valid := 0
	for i := range outs {
		if outs[i].valid() {
			valid++
		}
	}
	s.log.Debug("batch verified", "tokens", len(items), "valid", valid, "refused", len(items)-valid, "took", time.Since(start).Round(time.Microsecond))
	s.warnStoreDown(outs)
	return outs
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// tokenKey identifies a token for the replay check.
type tokenKey struct {
	id    token.KeyID
	nonce token.Nonce
}

// classify gives each outcome its replay check word, records the tokens
// accepted against Redis in the local store (refusing those it saw
// before), and finds the expiry of tokens refused about time.
func (s *Scanner) classify(items []item, outs []outcome) {
	// keys parses the tokens' key IDs and nonces, once, when needed.
	var keys map[int]tokenKey
	keyOf := func(i int) (tokenKey, bool) {
		if keys == nil {
			keys = make(map[int]tokenKey)
		}
		if k, ok := keys[i]; ok {
			return k, true
		}
		t, err := token.ParseText(items[i].text)
		if err != nil {
			return tokenKey{}, false
		}
		k := tokenKey{t.KeyID, t.Nonce}
		keys[i] = k
		return k, true
	}
	// first maps a token that reached the replay check to its first
	// index in the batch, to tell a repeat within the batch from a token
	// the shared store had.
	var first map[tokenKey]int
	repeated := func(i int) bool {
		if first == nil {
			first = make(map[tokenKey]int)
			for j := range outs {
				if !reachedStore(outs[j].err) {
					continue
				}
				if k, ok := keyOf(j); ok {
					if _, seen := first[k]; !seen {
						first[k] = j
					}
				}
			}
		}
		k, ok := keyOf(i)
		return ok && first[k] < i
	}
	for i := range outs {
		o := &outs[i]
		switch {
		case o.err == nil:
			s.classifyValid(o, func() (tokenKey, bool) { return keyOf(i) })
		case errors.Is(o.err, verify.ErrReplayed):
			o.replay = ReplayThisScanner
			if s.redis != nil && !repeated(i) {
				o.replay = ReplaySpentStore
				// Spent elsewhere: remember it here too, for when Redis
				// is down.
				if k, ok := keyOf(i); ok && s.local != nil {
					s.local.Spend(context.Background(), k.id, k.nonce, s.until(items[i].text))
				}
			}
		case errors.Is(o.err, verify.ErrStoreFull):
			o.replay = ReplayThisScanner
		case errors.Is(o.err, verify.ErrStoreUnavailable):
			o.replay, o.storeDown = ReplaySpentStore, true
		case storeError(o.err):
			o.replay = ReplaySpentStore
		case errors.Is(o.err, verify.ErrExpired), errors.Is(o.err, verify.ErrTooFarAhead), errors.Is(o.err, verify.ErrNotYetValid):
			if t, err := token.ParseText(items[i].text); err == nil {
				o.expiry = t.ExpiryTime()
			}
		}
	}
}

// classifyValid sets the replay word of a valid token and, with Redis,
// records it in the local store.
func (s *Scanner) classifyValid(o *outcome, key func() (tokenKey, bool)) {
	if s.redis == nil {
		// The local store, if any, was the verifier's own.
		o.replay = ReplayNotChecked
		if o.res.Replay == verify.ReplayChecked {
			o.replay = ReplayThisScanner
		}
		return
	}
	o.storeDown = o.res.Replay == verify.ReplayStoreDown
	if s.local != nil {
		k, ok := key()
		var err error
		if !ok {
			// Cannot happen for a token that verified.
			err = fmt.Errorf("%w: unreadable after verification", token.ErrMalformed)
		} else {
			err = s.local.Spend(context.Background(), k.id, k.nonce, o.res.Expiry.Add(s.skew))
		}
		if err != nil {
			o.res, o.replay = verify.Result{}, ReplayThisScanner
			o.err = err
			if errors.Is(err, verify.ErrReplayed) {
				o.err = errSeenHere
			}
			return
		}
	}
	switch {
	case o.res.Replay == verify.ReplayChecked:
		o.replay = ReplaySpentStore
	case s.local != nil:
		o.replay = ReplayThisScanner
	default:
		o.replay = ReplayNotChecked
	}
}

// until is when the local store may forget a token: its expiry plus the
// skew.
func (s *Scanner) until(text string) time.Time {
	t, err := token.ParseText(text)
	if err != nil {
		return s.cfg.Now().Add(24 * time.Hour)
	}
	return t.ExpiryTime().Add(s.skew)
}

// reachedStore reports whether a token with this verification error got
// as far as the replay check.
func reachedStore(err error) bool {
	return err == nil || errors.Is(err, verify.ErrReplayed) || errors.Is(err, verify.ErrStoreUnavailable) ||
		errors.Is(err, verify.ErrStoreFull) || storeError(err)
}

// warnStoreDown logs one warning for a batch in which the shared store was
// unavailable.
func (s *Scanner) warnStoreDown(outs []outcome) {
	if s.redis == nil {
		return
	}
	cause := s.watch.take()
	refused, accepted := 0, 0
	for i := range outs {
		switch {
		case !outs[i].storeDown:
		case outs[i].valid():
			accepted++
		default:
			refused++
			if cause == nil {
				cause = outs[i].err
			}
		}
	}
	if refused+accepted == 0 {
		return
	}
	why := s.storeCause(cause)
	what := "unavailable"
	if timedOut(cause) {
		what = "timed out"
	}
	var did string
	if accepted > 0 {
		did = fmt.Sprintf("%s accepted with replay check %s (-fail-open)", plural(accepted, "token"), ReplayThisScanner)
		if s.local == nil {
			did = fmt.Sprintf("%s accepted without replay check (-fail-open)", plural(accepted, "token"))
		}
	}
	if refused > 0 {
		if did != "" {
			did += ", "
		}
		did += fmt.Sprintf("%s refused (fail closed)", plural(refused, "token"))
	}
	s.log.Warn(fmt.Sprintf("spent-token store %s (%s): %s", what, why, did), "store", s.redis.Addr())
}
