package scanner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
	"github.com/statustoken/statustoken/examples/deploy/redisstore"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

// jsonResult is the JSON form of one answer.
type jsonResult struct {
	Line        int    `json:"line,omitempty"`
	Valid       bool   `json:"valid"`
	Status      string `json:"status,omitempty"`
	StatusCode  int    `json:"status_code,omitempty"`
	Suite       string `json:"suite,omitempty"`
	KeyID       string `json:"key_id,omitempty"`
	Expiry      string `json:"expiry,omitempty"`
	ReplayCheck string `json:"replay_check,omitempty"`
	Reason      string `json:"reason,omitempty"`
	Error       string `json:"error,omitempty"`
}

// timeLayout is how the text answers show times, in UTC.
const timeLayout = "2006-01-02 15:04 MST"

// print writes one answer: a line of text, or a JSON object.
func (s *Scanner) print(w io.Writer, o *outcome) error {
	if s.cfg.JSON {
		j := jsonResult{Line: o.line, Valid: o.valid(), ReplayCheck: o.replay}
		if o.valid() {
			j.Status, j.StatusCode, j.Suite = o.res.StatusName, int(o.res.Status), o.res.Suite.String()
			j.KeyID, j.Expiry = o.res.KeyID.String(), o.res.Expiry.UTC().Format(time.RFC3339)
		} else {
			j.Reason, j.Error = reason(o.err), s.message(o)
			if !o.expiry.IsZero() {
				j.Expiry = o.expiry.UTC().Format(time.RFC3339)
			}
		}
		b, err := json.Marshal(j)
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	prefix := ""
	if o.line > 0 {
		prefix = fmt.Sprintf("line %d: ", o.line)
	}
	if !o.valid() {
		_, err := io.WriteString(w, Wrap(prefix+"REFUSED: "+s.message(o)))
		return err
	}
	// The replay check starts a line of its own; the suite is in JSON.
	_, err := io.WriteString(w, Wrap(fmt.Sprintf("%sVALID: %s (key %s, until %s);", prefix,
		o.res.StatusName, o.res.KeyID, o.res.Expiry.UTC().Format(timeLayout)))+
		Wrap("  replay check: "+s.replayText(o)))
	return err
}

// Width is the number of columns that the text answers, messages and
// help fit in.
const Width = 80

// Wrap breaks a one-line message at spaces into lines of at most Width
// columns, each ending in a newline, the lines after the first indented
// by two spaces: a program that reads the answers line by line finds each
// one's start at a line that does not start with a space. A word longer
// than a line is left whole.
func Wrap(msg string) string {
	if rest, ok := strings.CutPrefix(msg, "  "); ok {
		return WrapIndent(rest, "  ", "  ")
	}
	return WrapIndent(msg, "", "  ")
}

// WrapIndent breaks msg as Wrap does, starting the first line with
// first and the others with rest.
func WrapIndent(msg, first, rest string) string {
	var b strings.Builder
	b.WriteString(first)
	col := utf8.RuneCountInString(first)
	for i, word := range strings.Split(msg, " ") {
		n := utf8.RuneCountInString(word)
		switch {
		case i == 0:
		case col+1+n > Width:
			b.WriteString("\n" + rest)
			col = utf8.RuneCountInString(rest)
		default:
			b.WriteByte(' ')
			col++
		}
		b.WriteString(word)
		col += n
	}
	b.WriteByte('\n')
	return b.String()
}

// replayText is the replay check word of a valid token, with what it
// means here.
func (s *Scanner) replayText(o *outcome) string {
	switch {
	case o.replay == ReplaySpentStore:
		return ReplaySpentStore
	case o.storeDown:
		return o.replay + " (store unavailable; accepted by -fail-open)"
	case o.replay == ReplayThisScanner:
		return ReplayThisScanner + " (no -redis: a second use here is refused)"
	}
	return ReplayNotChecked + " (one token, no -redis: nothing to check)"
}

// reason is the JSON reason of a refusal.
func reason(err error) string {
	for _, c := range []struct {
		err  error
		name string
	}{
		{token.ErrMalformed, "malformed"},
		{verify.ErrExpired, "expired"},
		{verify.ErrTooFarAhead, "too_far_ahead"},
		{verify.ErrKeyMismatch, "key_mismatch"},
		{verify.ErrUnknownKey, "unknown_key"},
		{verify.ErrNotYetValid, "not_yet_valid"},
		{verify.ErrInvalidSignature, "invalid_signature"},
		{verify.ErrReplayed, "replayed"},
		{verify.ErrStoreUnavailable, "store_unavailable"},
		{verify.ErrStoreFull, "store_full"},
		{verify.ErrRandomness, "randomness"},
	} {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	return "store_error"
}

// storeError reports whether err came from the spent-token store refusing
// to record a token (an error reply), rather than from the token.
func storeError(err error) bool {
	return err != nil && reason(err) == "store_error"
}

// message says why a token was refused, for people.
func (s *Scanner) message(o *outcome) string {
	err := o.err
	switch reason(err) {
	case "malformed":
		var mi *malformedInput
		if errors.As(err, &mi) {
			return "malformed: not a statustoken v1 token (" + mi.why + ")"
		}
		return "malformed: not a statustoken v1 token (not the " + token.TextPrefix + " text form of one)"
	case "expired":
		if o.expiry.IsZero() {
			return "expired"
		}
		return fmt.Sprintf("expired at %s (%s ago)", o.expiry.UTC().Format(timeLayout), since(s.cfg.Now().Sub(o.expiry)))
	case "too_far_ahead":
		msg := "expiry further ahead than the directory allows"
		if !o.expiry.IsZero() {
			msg = fmt.Sprintf("expiry %s is further ahead than the directory allows", o.expiry.UTC().Format(timeLayout))
		}
		return msg + ": check this scanner's clock"
	case "key_mismatch":
		return "forged: the token's fields do not match its key"
	case "unknown_key":
		return `unknown key: not in this directory (another issuer's token, a withdrawn key, or run "scanner update")`
	case "not_yet_valid":
		return "not valid yet: its key's epoch has not started: check this scanner's clock"
	case "invalid_signature":
		return "invalid signature: the token is forged or damaged"
	case "replayed":
		switch {
		case errors.Is(err, errSeenHere), o.replay == ReplayThisScanner:
			return "already used: this scanner saw this token before (replay check: this-scanner)"
		}
		return "already used: the shared spent-token store has it (replay check: spent-store)"
	case "randomness":
		return "the scanner's random source failed, so no token of this batch was accepted: scan again"
	case "store_unavailable":
		return fmt.Sprintf("fail closed: the spent-token store is unavailable (%s); -fail-open would accept the token", s.storeCause(err))
	case "store_full":
		if s.spent != nil {
			return "this scanner's spent-token file is full, so the token is refused: use -redis"
		}
		return "this scanner's memory of used tokens is full, so the token is refused: use -redis, or restart the scanner"
	}
	var re redis.Error
	if errors.As(err, &re) {
		return "the spent-token store refused to record the token (Redis answered: " + re.Error() + ")"
	}
	return "the spent-token store refused to record the token (" + err.Error() + ")"
}

// storeCause says why the shared store was unavailable.
func (s *Scanner) storeCause(err error) string {
	where := "Redis"
	if s.redis != nil {
		where = "Redis at " + s.redis.Addr()
	}
	switch {
	case err == nil:
		return where + ": no answer"
	case timedOut(err):
		return fmt.Sprintf("%s: no answer within %v", where, s.cfg.RedisTimeout)
	case errors.Is(err, context.Canceled):
		return where + ": interrupted"
	case errors.Is(err, syscall.ECONNREFUSED):
		return where + ": connection refused"
	}
	var ue *redisstore.UnavailableError
	if errors.As(err, &ue) {
		return where + ": " + ue.Err.Error()
	}
	return where + ": " + err.Error()
}

// timedOut reports whether err says that the store did not answer in
// time.
func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// since says how long ago d was, roughly: "40 s", "12 min", "3 h",
// "2 days".
func since(d time.Duration) string {
	switch {
	case d < 0:
		return "0 s"
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d/time.Hour))
	}
	return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
}

// plural returns "1 token", "2 tokens".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Summary counts the answers of a batch or a gate.
type Summary struct {
	Valid, Refused int
}

// String returns "2 valid, 1 refused".
func (s Summary) String() string { return fmt.Sprintf("%d valid, %d refused", s.Valid, s.Refused) }
