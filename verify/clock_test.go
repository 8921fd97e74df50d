package verify

import (
	"errors"
	"testing"
	"time"

	"github.com/statustoken/statustoken/token"
)

// TestZeroClock: a clock that returns the zero time cannot check a
// directory's freshness, so the directory is refused as stale rather
// than loaded unchecked.
func TestZeroClock(t *testing.T) {
	f := newFixture(t, nil)
	zero := &Options{Now: func() time.Time { return time.Time{} }}
	_, err := newV(f.dir, f.sig, f.root, zero)
	var le *token.LoadError
	if !errors.Is(err, token.ErrStale) || !errors.As(err, &le) {
		t.Fatalf("zero clock: %v", err)
	}
}
