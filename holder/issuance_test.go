package holder

import (
	"errors"
	"testing"
	"time"

	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

// TestIssueMaxAge: a wallet requests tokens only while its directory's
// checkpoint is younger than the trust policy's issue-max-age; after an
// update under a fresh checkpoint it requests again. Without the line,
// max-age is the bound.
func TestIssueMaxAge(t *testing.T) {
	is := testIssuer(t, nil)
	data, sig := signedDirectory(t, is, testNow, 1)
	e, _ := envFor(is.RootPublicKey())
	trust, err := token.ParseTrust(append(e.Policy(), "issue-max-age 2h\n"...))
	if err != nil {
		t.Fatal(err)
	}
	if trust.IssueMaxAge() != 2*time.Hour || trust.MaxAge() != 48*time.Hour {
		t.Fatalf("issue-max-age %v, max-age %v", trust.IssueMaxAge(), trust.MaxAge())
	}
	now := testNow
	h, err := New(published(data, sig, is.RootPublicKey()), trust, &Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if h.Accepted().Checkpoint.Time() != testNow {
		t.Fatalf("quorum time %v, want %v", h.Accepted().Checkpoint.Time(), testNow)
	}
	now = testNow.Add(2 * time.Hour)
	if _, _, err := h.Request(1, now, 1); err != nil {
		t.Fatalf("at issue-max-age: %v", err)
	}
	now = testNow.Add(2*time.Hour + time.Second)
	if _, _, err := h.Request(1, now, 1); !errors.Is(err, ErrUpdateFirst) {
		t.Fatalf("a second past issue-max-age: %v", err)
	}
	// The same directory still loads (max-age is 48 hours) and still
	// verifies tokens; only requests wait for an update.
	if _, err := New(published(data, sig, is.RootPublicKey()), trust, &Options{Now: func() time.Time { return now }}); err != nil {
		t.Fatalf("loading within max-age: %v", err)
	}
	// An update under a checkpoint cosigned now makes requests possible.
	fresh := logs.Env(is.RootPublicKey())
	data2, sig2 := signedDirectory(t, is, testNow, 2)
	i := fresh.Log.Append(2, data2)
	c := fresh.Log.Checkpoint(fresh.Witnesses[0].At(now), fresh.Witnesses[2].At(now))
	if err := h.Update(token.Published{Directory: data2, Signature: sig2, Proof: fresh.Log.Proof(i, c)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.Request(1, now, 1); err != nil {
		t.Fatalf("after an update: %v", err)
	}
	// A clock that returns the zero time requests nothing.
	now = time.Time{}
	if _, _, err := h.Request(1, testNow, 1); !errors.Is(err, ErrUpdateFirst) {
		t.Fatalf("zero clock: %v", err)
	}

	// Without issue-max-age, max-age bounds requests too.
	now = testNow.Add(47 * time.Hour)
	h2, err := New(published(data2, sig2, is.RootPublicKey()), trustOf(t, is.RootPublicKey()), &Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := h2.Request(1, testNow, 1); err != nil {
		t.Fatalf("without issue-max-age, 47 hours: %v", err)
	}
	now = testNow.Add(48*time.Hour + time.Second)
	if _, _, err := h2.Request(1, testNow, 1); !errors.Is(err, ErrUpdateFirst) {
		t.Fatalf("without issue-max-age, past max-age: %v", err)
	}
}

// TestStatusRenamed: a directory that renames a status the holder
// accepted is refused, also after a restart with the persisted state.
func TestStatusRenamed(t *testing.T) {
	is := testIssuer(t, nil)
	h := testHolder(t, is)
	acc := h.Accepted()
	if len(acc.Statuses) != len(testStatuses) {
		t.Fatalf("accepted statuses %+v", acc.Statuses)
	}
	swapped := testIssuer(t, func(c *issue.Config) {
		c.Statuses = []token.StatusName{{Code: 1, Name: testStatuses[1].Name}, {Code: 2, Name: testStatuses[0].Name}}
	})
	data, sig := signedDirectory(t, swapped, testNow, 2)
	err := updateH(h, data, sig)
	var le *token.LoadError
	if !errors.Is(err, token.ErrStatusRenamed) || !errors.As(err, &le) || le.Serial != 2 || le.AcceptedSerial != 1 {
		t.Fatalf("swapped statuses: %v", err)
	}
	text, err := acc.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	trust := trustOf(t, is.RootPublicKey())
	restored, err := token.ParseAccepted(text, trust)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(published(data, sig, is.RootPublicKey()), trust, &Options{Accepted: restored}); !errors.Is(err, token.ErrStatusRenamed) {
		t.Fatalf("swapped statuses after a restart: %v", err)
	}
}

func trustOf(t *testing.T, root []byte) *token.Trust {
	t.Helper()
	e, _ := envFor(root)
	tr, err := token.ParseTrust(e.Policy())
	if err != nil {
		t.Fatal(err)
	}
	return tr
}
