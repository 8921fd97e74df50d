package transparency_test

import (
	"crypto/ed25519"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/statustoken/statustoken/internal/logtest"
	"github.com/statustoken/statustoken/internal/transparency"
)

// TestForLog checks a second log under the same witnesses: its records
// at any index, however old with Included and fresh with IncludedAt, and
// never under the first log's key or origin.
func TestForLog(t *testing.T) {
	e := newEnv(t)
	dlog := logtest.NewLog("example.org/health/decisions")
	rec := []byte("decision record 0")
	dlog.Tree.Append(rec)
	dlog.Tree.Append([]byte("decision record 1"))
	old := testNow.AddDate(-1, 0, 0)
	proof := dlog.Proof(0, dlog.Checkpoint(e.witnesses[0].At(old), e.witnesses[1].At(old)))
	dp, err := e.policy.ForLog(dlog.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	if dp.Origin != "example.org/health/decisions" || e.policy.Origin != "example.org/health/directory" {
		t.Fatal("ForLog changed the wrong policy")
	}
	if _, err := dp.Included(rec, proof); err != nil {
		t.Fatalf("a year-old proof of a record that is not the newest: %v", err)
	}
	if _, err := dp.IncludedAt(rec, proof, testNow); transparency.KindOf(err) != transparency.Stale {
		t.Fatalf("IncludedAt a year later: %v", err)
	}
	fresh := dlog.Proof(0, dlog.Checkpoint(e.witnesses[0].At(testNow), e.witnesses[1].At(testNow)))
	if _, err := dp.IncludedAt(rec, fresh, testNow); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		record, proof []byte
		want          transparency.Kind
	}{
		"other record":        {[]byte("decision record 1"), proof, transparency.NotLogged},
		"one witness":         {rec, dlog.Proof(0, dlog.Checkpoint(e.witnesses[2].At(old))), transparency.Quorum},
		"directory log proof": {e.record, e.proof(testNow, 0, 1), transparency.Quorum},
		"garbage":             {rec, []byte("proof"), transparency.NotLogged},
	} {
		if _, err := dp.Included(tc.record, tc.proof); transparency.KindOf(err) != tc.want {
			t.Errorf("%s: %v, want kind %d", name, err, tc.want)
		}
	}
	// The first log's key or origin cannot be the second's.
	sameOrigin, err := note.NewEd25519VerifierKey(e.policy.Origin, logtest.Key("other").Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	for name, vkey := range map[string]string{
		"directory log": e.log.VerifierKey(),
		"same origin":   sameOrigin,
		"not a key":     "decisions+00000000+AQ==",
	} {
		if _, err := e.policy.ForLog(vkey); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
