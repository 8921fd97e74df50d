package scan

import (
	"errors"
	"fmt"
	"testing"

	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

// TestRefusal: every sentinel of verification gets its own code and
// colour, also when wrapped, and an unknown error is a red refusal.
func TestRefusal(t *testing.T) {
	for _, c := range []struct {
		err   error
		code  string
		color string
	}{
		{token.ErrMalformed, "malformed", Red},
		{verify.ErrExpired, "expired", Red},
		{verify.ErrUnknownKey, "unknown-key", Red},
		{verify.ErrKeyMismatch, "key-mismatch", Red},
		{verify.ErrInvalidSignature, "invalid-signature", Red},
		{verify.ErrReplayed, "replayed", Amber},
		{verify.ErrNotYetValid, "not-yet-valid", Amber},
		{verify.ErrTooFarAhead, "too-far-ahead", Amber},
		{verify.ErrStoreFull, "store-full", Amber},
		{verify.ErrStoreUnavailable, "error", Red},
		{errors.New("something else"), "error", Red},
	} {
		for _, err := range []error{c.err, fmt.Errorf("context: %w", c.err)} {
			v := refusal(err)
			if v.Code != c.code || v.Color != c.color || v.Reason == "" || v.Status != "" {
				t.Errorf("%v: %+v, want %s %s", err, v, c.color, c.code)
			}
			want := map[string]string{Red: "Refused", Amber: "Check"}[c.color]
			if v.Title != want {
				t.Errorf("%v: title %q, want %q", err, v.Title, want)
			}
		}
	}
}
