package wallet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/directory"
	"github.com/statustoken/statustoken/examples/deploy/internal/wallet/wallettest"
	"github.com/statustoken/statustoken/examples/deploy/internal/witnesstest"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/issue/issuetest"
	"github.com/statustoken/statustoken/token"
)

// TestTransparencyRefusals gives a wallet that accepted serial 5
// directories that fail each check of the log, and checks the message of
// each refusal, that nothing is stored, and that no token is requested.
func TestTransparencyRefusals(t *testing.T) {
	f := wallettest.New(t)
	state := filepath.Join(t.TempDir(), "w")
	mustRequest(t, f, state, 1)
	f.GotAuth()
	accepted, _ := os.ReadFile(filepath.Join(state, CheckpointFile))
	f.Serial = 6
	now := time.Now()
	for _, c := range []struct {
		name    string
		publish func(data, sig []byte) token.Published
		want    string
	}{
		{"no proof", func(data, sig []byte) token.Published {
			return token.Published{Directory: data, Signature: sig}
		}, "not proven to be in the issuer's log (the issuer sent no log proof); it may be a split view"},
		{"garbage proof", func(data, sig []byte) token.Published {
			return token.Published{Directory: data, Signature: sig, Proof: []byte("hello\n")}
		}, "not proven to be in the issuer's log (proof does not start with"},
		{"one witness", func(data, sig []byte) token.Published {
			return f.Prove(data, sig, now, 2)
		}, "cosigned by 1 of the pinned witnesses, the trust policy needs 2; it may be a split view"},
		{"log only", func(data, sig []byte) token.Published {
			p := f.Prove(data, sig, now)
			// Strip the cosignatures: keep the log's own line only.
			i := strings.Index(string(p.Proof), "\n— w")
			p.Proof = append(p.Proof[:i+1:i+1], []byte{}...)
			return p
		}, "cosigned by 0 of the pinned witnesses, the trust policy needs 2"},
		{"another log key", func(data, sig []byte) token.Published {
			other := witnesstest.NewEnv(f.Env.Root)
			other.Witnesses = f.Env.Witnesses
			p, err := other.Publish(data, sig, now)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}, "not signed by the pinned log key"},
		{"stale", func(data, sig []byte) token.Published {
			return f.Prove(data, sig, now.Add(-49*time.Hour))
		}, "the log checkpoint was last cosigned at " + now.Add(-49*time.Hour).UTC().Format(time.RFC3339) + ", older than max-age 48h0m0s"},
		{"forked log", func(data, sig []byte) token.Published {
			// The authority's own log key and two compromised witnesses:
			// a log in which serial 6 follows nothing.
			fork, err := issue.NewLog(f.Env.LogKey, nil)
			if err != nil {
				t.Fatal(err)
			}
			forked := &witnesstest.Env{LogKey: f.Env.LogKey, Log: fork, Witnesses: f.Env.Witnesses, Root: f.Env.Root}
			p, err := forked.Publish(data, sig, now)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}, "this directory's log does not extend the one accepted before: possible split view"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f.Publish = c.publish
			defer func() { f.Publish = nil }()
			_, err := request(t, f, state, 1)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("%v, want a refusal with %q", err, c.want)
			}
			if len(f.GotAuth()) != 0 {
				t.Fatal("a token request was sent after a refused directory")
			}
			if have, _ := os.ReadFile(filepath.Join(state, CheckpointFile)); string(have) != string(accepted) {
				t.Fatal("the stored checkpoint changed")
			}
		})
	}
	// The honest serial 6 is accepted, and its checkpoint stored.
	mustRequest(t, f, state, 1)
	if have, _ := os.ReadFile(filepath.Join(state, CheckpointFile)); string(have) == string(accepted) {
		t.Fatal("the stored checkpoint did not change with serial 6")
	}
}

// TestStoredCheckpoint checks the restart state: the stored checkpoint
// must verify under the pinned policy, and the stored serial is a floor
// even after the stored proof went stale.
func TestStoredCheckpoint(t *testing.T) {
	f := wallettest.New(t)
	state := filepath.Join(t.TempDir(), "w")
	mustRequest(t, f, state, 1)
	// Another policy (other witnesses) does not accept the stored
	// checkpoint: the wallet says so rather than dropping it.
	other := witnesstest.NewEnv(f.Env.Root)
	otherTrust := filepath.Join(t.TempDir(), "trust.txt")
	os.WriteFile(otherTrust, issuetest.TrustPolicy(f.Env.Root, f.Env.Log.VerifierKey(), other.Witnesses, 48*time.Hour), 0o644)
	otherPinned, err := directory.LoadTrust(otherTrust)
	if err != nil {
		t.Fatal(err)
	}
	_, err = request(t, f, state, 1, func(o *RequestOptions) { o.Trust = otherPinned })
	if err == nil || !strings.Contains(err.Error(), "stored log checkpoint") || !strings.Contains(err.Error(), "remove that file") {
		t.Fatalf("stored checkpoint under another policy: %v", err)
	}
	// The wallet does not need its stored proof to be fresh: three days
	// later (the witnesses cosigning then) it takes serial 6.
	later := time.Now().Add(72 * time.Hour)
	data, sig, err := f.Is.Directory(later, 6)
	if err != nil {
		t.Fatal(err)
	}
	p := f.Prove(data, sig, later)
	pinned, err := directory.LoadTrust(f.Trust)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(state)
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{Now: func() time.Time { return later }}
	h, err := openHolder(e, s, p, pinned)
	if err != nil || h.Directory().Serial != 6 {
		t.Fatalf("three days later: %v", err)
	}
	// But not serial 4, though its proof is fresh.
	data, sig, _ = f.Is.Directory(later, 4)
	fork := witnesstest.NewEnv(f.Env.Root)
	fork.Witnesses = f.Env.Witnesses
	p, _ = fork.Publish(data, sig, later)
	if _, err := openHolder(e, s, p, pinned); err == nil || !strings.Contains(err.Error(), "older than serial 5") {
		t.Fatalf("serial 4 after a restart: %v", err)
	}
}
