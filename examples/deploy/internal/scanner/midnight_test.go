package scanner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/witnesstest"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

// TestMidnightOneVerdict scans one token of the epoch that ended at
// midnight at 00:02 UTC, at a scanner still on the directory of 23:50 and
// at one updated at 00:01: both accept it, within the skew, and at 00:06
// both refuse it as expired.
func TestMidnightOneVerdict(t *testing.T) {
	is := newIssuer(t, token.Ed25519, token.RSABSSA)
	log := witnesstest.NewEnv(is.RootPublicKey())
	midnight := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	root := t.TempDir()
	trust := filepath.Join(root, "trust.txt")
	if err := os.WriteFile(trust, log.Policy(48*time.Hour), 0o644); err != nil {
		t.Fatal(err)
	}
	// save publishes the issuer's directory of time at in its own
	// folder and returns a scanner configuration for it.
	save := func(name string, at time.Time, serial uint64) Config {
		data, sig, err := is.Directory(at, serial)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := log.Publish(data, sig, at)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(root, name)
		os.Mkdir(dir, 0o755)
		cfg := Config{
			TrustFile:     trust,
			DirectoryFile: filepath.Join(dir, "directory.json"),
			SignatureFile: filepath.Join(dir, "directory.sig"),
			ProofFile:     filepath.Join(dir, "directory.proof"),
			AcceptedFile:  filepath.Join(dir, "directory.accepted"),
			Skew:          verify.DefaultSkew,
			Single:        true,
		}
		for f, b := range map[string][]byte{cfg.DirectoryFile: data, cfg.SignatureFile: sig, cfg.ProofFile: pub.Proof} {
			if err := os.WriteFile(f, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return cfg
	}
	old := save("old", midnight.Add(-10*time.Minute), 1)
	updated := save("updated", midnight.Add(time.Minute), 2)
	toks, err := is.IssueEd25519(1, midnight.Add(-20*time.Minute), 1)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := toks[0].MarshalText()
	verdict := func(cfg Config, at time.Time) string {
		cfg.Now = func() time.Time { return at }
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		_, out := scan(t, s, string(text))
		return strings.TrimSpace(out)
	}
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{midnight.Add(2 * time.Minute), "VALID: green"},
		{midnight.Add(6 * time.Minute), "REFUSED: expired"},
	} {
		a, b := verdict(old, c.at), verdict(updated, c.at)
		if !strings.HasPrefix(a, c.want) || !strings.HasPrefix(b, c.want) {
			t.Errorf("at %s: old directory %q, updated directory %q; want both %q",
				c.at.Format("15:04"), a, b, c.want)
		}
	}
}
