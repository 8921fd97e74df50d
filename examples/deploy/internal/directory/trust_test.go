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
	pinned, err := LoadTrust(name)
	if err != nil {
		t.Fatal(err)
	}
	if pinned.need != 2 || len(pinned.witnesses) != 3 || pinned.log == nil {
		t.Fatalf("policy read as: need %d, %d witnesses", pinned.need, len(pinned.witnesses))
	}
	now := time.Now()
	data, sig, _ := is.Directory(now, 3)
	open := func(p token.Published, prev uint64) error {
		_, _, err := token.Open(p, pinned.Trust, token.Accepted{Serial: prev}, now)
		return pinned.Explain(err, p, prev)
	}
	old := now.Add(-2 * time.Hour).Truncate(time.Second)
	stale, _ := env.Publish(data, sig, old, 0, 1, 2)
	one, _ := env.Prove(0, data, sig, now, 2)
	good, _ := env.Prove(0, data, sig, now)
	for _, c := range []struct {
		name     string
		p        token.Published
		prev     uint64
		sentinel error
		want     string
	}{
		{"stale", stale, 0, token.ErrStale, "last cosigned at " + old.UTC().Format(time.RFC3339) + ", older than max-age 1h0m0s"},
		{"one witness", one, 0, token.ErrQuorum, "cosigned by 1 of the pinned witnesses, the trust policy needs 2"},
		{"no proof", token.Published{Directory: data, Signature: sig}, 0, token.ErrNotLogged, "the issuer sent no log proof"},
		{"rollback", good, 4, token.ErrRollback, "the issuer sent serial 3, older than serial 4 accepted before"},
		{"bad signature", token.Published{Directory: data, Signature: make([]byte, 64), Proof: good.Proof}, 0, token.ErrDirectorySignature, "not signed by the pinned root key"},
	} {
		err := open(c.p, c.prev)
		var r *Refusal
		if !errors.Is(err, c.sentinel) || !errors.As(err, &r) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %v with %q", c.name, err, c.sentinel, c.want)
		}
	}
	if err := open(good, 0); err != nil {
		t.Fatal(err)
	}
	if err := pinned.Explain(nil, good, 0); err != nil {
		t.Fatal(err)
	}
	plain := errors.New("something else")
	if err := pinned.Explain(plain, good, 0); err != plain {
		t.Fatalf("an error of no sentinel: %v", err)
	}

	// A policy whose quorum is not one group of witnesses: the library's
	// words.
	text := strings.Replace(string(env.Policy(time.Hour)), "quorum witnesses", "group both 2 witnesses w1.example\nquorum both", 1)
	nested, err := ParseTrust([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = token.Open(one, nested.Trust, token.Accepted{}, now)
	if err := nested.Explain(err, one, 0); !errors.Is(err, token.ErrQuorum) || !strings.Contains(err.Error(), "not cosigned by a quorum") {
		t.Fatalf("nested policy: %v", err)
	}
	if _, err := LoadTrust(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("missing trust file accepted")
	}
}

func TestCheckSameSerial(t *testing.T) {
	_, root, _ := ed25519.GenerateKey(rand.Reader)
	is, err := issue.NewIssuer(issue.Config{RootKey: root, Seed: make([]byte, issue.SeedSize), EpochLength: time.Hour,
		Statuses: []token.StatusName{{Code: 1, Name: "green"}}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	d5, _, _ := is.Directory(now, 5)
	d6, _, _ := is.Directory(now, 6)
	d5later, _, _ := is.Directory(now.Add(2*time.Hour), 5)
	for _, ok := range [][2][]byte{{nil, d5}, {d5, d5}, {d5, d6}, {d6, d5}} {
		if err := CheckSameSerial(ok[0], ok[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := CheckSameSerial(d5, d5later); !errors.Is(err, token.ErrRollback) {
		t.Fatalf("same serial, other bytes: %v", err)
	}
}
