package directory

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/witnesstest"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

func TestExplain(t *testing.T) {
	_, root, _ := ed25519.GenerateKey(rand.Reader)
	is, err := issue.NewIssuer(issue.Config{RootKey: root, Seed: make([]byte, issue.SeedSize), EpochLength: time.Hour,
		Statuses: []token.StatusName{{Code: 1, Name: "green"}}})
	if err != nil {
		t.Fatal(err)
	}
	env := witnesstest.NewEnv(is.RootPublicKey())
	name := filepath.Join(t.TempDir(), "trust.txt")
	os.WriteFile(name, env.Policy(time.Hour), 0o644)
	trust, err := LoadTrust(name)
	if err != nil {
		t.Fatal(err)
	}
	if trust.MinCosigners() != 2 || len(trust.Witnesses()) != 3 {
		t.Fatalf("policy read as: need %d, witnesses %v", trust.MinCosigners(), trust.Witnesses())
	}
	now := time.Now()
	data, sig, _ := is.Directory(now, 3)
	open := func(p token.Published, prev token.Accepted) error {
		_, _, err := token.Open(p, trust, prev, now)
		return Explain(err, trust, p)
	}
	old := now.Add(-2 * time.Hour).Truncate(time.Second)
	stale, _ := env.Publish(data, sig, old, 0, 1, 2)
	one, _ := env.Prove(0, data, sig, now, 2)
	good, _ := env.Prove(0, data, sig, now)
	_, accepted, err := token.Open(good, trust, token.Accepted{}, now)
	if err != nil {
		t.Fatal(err)
	}
	// Serial 4 renames status 1; serial 5 is logged after it, so that
	// serial 4 is no longer the newest record.
	renamer, err := issue.NewIssuer(issue.Config{RootKey: root, Seed: make([]byte, issue.SeedSize), EpochLength: time.Hour,
		Statuses: []token.StatusName{{Code: 1, Name: "red"}}})
	if err != nil {
		t.Fatal(err)
	}
	data4, sig4, _ := renamer.Directory(now, 4)
	renamed, _ := env.Publish(data4, sig4, now)
	data5, sig5, _ := is.Directory(now, 5)
	env.Publish(data5, sig5, now)
	older, _ := env.Prove(1, data4, sig4, now)
	forked := witnesstest.NewEnv(is.RootPublicKey())
	forked.Witnesses = env.Witnesses
	forked.Log, _ = issue.NewLog(env.LogKey, nil)
	fork, _ := forked.Publish(data5, sig5, now)
	for _, c := range []struct {
		name     string
		p        token.Published
		prev     token.Accepted
		sentinel error
		want     string
	}{
		{"stale", stale, token.Accepted{}, token.ErrStale, "last cosigned at " + old.UTC().Format(time.RFC3339) + ", older than max-age 1h0m0s"},
		{"one witness", one, token.Accepted{}, token.ErrQuorum, "cosigned by 1 of the pinned witnesses, the trust policy needs 2; it may be a split view"},
		{"no proof", token.Published{Directory: data, Signature: sig}, token.Accepted{}, token.ErrNotLogged, "the issuer sent no log proof"},
		{"rollback", good, token.Accepted{Serial: 4}, token.ErrRollback, "the issuer sent serial 3, older than serial 4 accepted before"},
		{"same serial", good, token.Accepted{Serial: 3, Directory: [32]byte{1}}, token.ErrRollback, "the issuer sent other contents under serial 3, accepted before"},
		{"renamed", renamed, accepted, token.ErrStatusRenamed, `the directory (serial 4) renames a status accepted before (status 1 is named "red", accepted before as "green")`},
		{"not newest", older, token.Accepted{}, token.ErrNotNewest, "the issuer sent serial 4, which its log shows is not its newest directory (the directory is record 1 of a tree of 3"},
		{"forked", fork, accepted, token.ErrInconsistent, "this directory's log does not extend the one accepted before: possible split view (two different trees of size 1)"},
		{"bad signature", token.Published{Directory: data, Signature: make([]byte, 64), Proof: good.Proof}, token.Accepted{}, token.ErrDirectorySignature, "not signed by the pinned root key"},
	} {
		err := open(c.p, c.prev)
		var r *Refusal
		var le *token.LoadError
		if !errors.Is(err, c.sentinel) || !errors.As(err, &r) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %v with %q", c.name, err, c.sentinel, c.want)
		}
		if c.sentinel != token.ErrDirectorySignature && !errors.As(err, &le) {
			t.Errorf("%s: %v does not wrap a *token.LoadError", c.name, err)
		}
	}
	if err := open(good, token.Accepted{}); err != nil {
		t.Fatal(err)
	}
	if err := Explain(nil, trust, good); err != nil {
		t.Fatal(err)
	}
	plain := errors.New("something else")
	if err := Explain(plain, trust, good); err != plain {
		t.Fatalf("an error of no sentinel: %v", err)
	}

	// A policy whose quorum is not one group of witnesses: w1 and w2
	// are as many as it needs, but not the ones it needs.
	text := strings.Replace(string(env.Policy(time.Hour)), "group witnesses 2 w1.example w2.example w3.example\nquorum witnesses",
		"group either any w1.example w2.example\ngroup both all either w3.example\nquorum both", 1)
	nested, err := token.ParseTrust([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	good, _ = env.Prove(2, data5, sig5, now)
	_, _, err = token.Open(good, nested, token.Accepted{}, now)
	if err := Explain(err, nested, good); !errors.Is(err, token.ErrQuorum) ||
		!strings.Contains(err.Error(), "cosigned by w1.example and w2.example of the 3 pinned witnesses, which is not a quorum of the trust policy") {
		t.Fatalf("nested policy: %v", err)
	}

	// A malformed policy names the file and the line.
	bad := filepath.Join(t.TempDir(), "bad.txt")
	os.WriteFile(bad, []byte(strings.Replace(string(env.Policy(time.Hour)), "group witnesses 2", "group witnesses 1", 1)), 0o644)
	_, err = LoadTrust(bad)
	var le *token.LoadError
	if !errors.Is(err, token.ErrMalformedTrust) || !errors.As(err, &le) || le.Keyword != "quorum" ||
		!strings.Contains(err.Error(), "malformed trust policy "+bad+": line 7: quorum \"witnesses\" can be met by 1 of the 3 witnesses, not a majority") {
		t.Fatalf("minority quorum: %v", err)
	}
	if _, err := LoadTrust(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("missing trust file accepted")
	}
}

// TestLegacyAccepted reads the state of a wallet or scanner that kept
// the last directory and log checkpoint accepted, before token.Accepted.
func TestLegacyAccepted(t *testing.T) {
	_, root, _ := ed25519.GenerateKey(rand.Reader)
	is, err := issue.NewIssuer(issue.Config{RootKey: root, Seed: make([]byte, issue.SeedSize), EpochLength: time.Hour,
		Statuses: []token.StatusName{{Code: 1, Name: "green"}}})
	if err != nil {
		t.Fatal(err)
	}
	env := witnesstest.NewEnv(is.RootPublicKey())
	trust, err := token.ParseTrust(env.Policy(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	d5, s5, _ := is.Directory(now, 5)
	p5, _ := env.Publish(d5, s5, now)
	_, want, err := token.Open(p5, trust, token.Accepted{}, now)
	if err != nil {
		t.Fatal(err)
	}
	cp, _ := want.Checkpoint.MarshalText()
	acc, err := LegacyAccepted(d5, cp, trust)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := acc.MarshalText()
	if wantText, _ := want.MarshalText(); string(got) != string(wantText) {
		t.Fatalf("legacy state %s, want %s", got, wantText)
	}
	// Without a checkpoint: the serial, hash and status names.
	if acc, err := LegacyAccepted(d5, nil, trust); err != nil || acc.Serial != 5 || acc.Directory != want.Directory ||
		len(acc.Statuses) != 1 || acc.Statuses[0].Name != "green" || acc.Checkpoint != nil {
		t.Fatalf("without a checkpoint: %+v %v", acc, err)
	}
	// The state refuses another directory of serial 5, as the hash of
	// the old directory file says (the log takes no second serial 5: it
	// comes with the proof of the first).
	d5later, s5later, err := is.Directory(now.Add(2*time.Hour), 5)
	if err != nil {
		t.Fatal(err)
	}
	p := token.Published{Directory: d5later, Signature: s5later, Proof: p5.Proof}
	if _, _, err := token.Open(p, trust, acc, now); !errors.Is(err, token.ErrRollback) {
		t.Fatalf("same serial, other bytes: %v", err)
	}
	other := witnesstest.NewEnv(is.RootPublicKey())
	otherTrust, _ := token.ParseTrust(other.Policy(time.Hour))
	var le *token.LoadError
	if _, err := LegacyAccepted(d5, cp, otherTrust); !errors.As(err, &le) || le.Err != token.ErrQuorum {
		t.Fatalf("checkpoint under another policy: %v", err)
	}
	if _, err := LegacyAccepted([]byte("{}"), nil, trust); !errors.Is(err, token.ErrMalformedDirectory) {
		t.Fatalf("unreadable directory: %v", err)
	}
}
