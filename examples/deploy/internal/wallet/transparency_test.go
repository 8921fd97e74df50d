package wallet

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/directory"
	"github.com/statustoken/statustoken/examples/deploy/internal/wallet/wallettest"
	"github.com/statustoken/statustoken/examples/deploy/internal/witnesstest"
	"github.com/statustoken/statustoken/holder"
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
	accepted, _ := os.ReadFile(filepath.Join(state, AcceptedFile))
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
			if have, _ := os.ReadFile(filepath.Join(state, AcceptedFile)); string(have) != string(accepted) {
				t.Fatal("the stored accepted state changed")
			}
		})
	}
	// The honest serial 6 is accepted, and its accepted state stored.
	mustRequest(t, f, state, 1)
	if have, _ := os.ReadFile(filepath.Join(state, AcceptedFile)); string(have) == string(accepted) {
		t.Fatal("the stored accepted state did not change with serial 6")
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
	otherPolicy, err := directory.LoadTrust(otherTrust)
	if err != nil {
		t.Fatal(err)
	}
	_, err = request(t, f, state, 1, func(o *RequestOptions) { o.Trust = otherPolicy })
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
	trust, err := directory.LoadTrust(f.Trust)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(state)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e := &Env{Now: func() time.Time { return later }}
	h, err := openHolder(e, s, p, trust)
	if err != nil || h.Directory().Serial != 6 {
		t.Fatalf("three days later: %v", err)
	}
	// But not serial 4, though its proof is fresh.
	data, sig, _ = f.Is.Directory(later, 4)
	fork := witnesstest.NewEnv(f.Env.Root)
	fork.Witnesses = f.Env.Witnesses
	p, _ = fork.Publish(data, sig, later)
	if _, err := openHolder(e, s, p, trust); err == nil || !strings.Contains(err.Error(), "older than serial 5") {
		t.Fatalf("serial 4 after a restart: %v", err)
	}
}

// TestLegacyState: the state of an older wallet, with the files
// directory.json and checkpoint but no accepted file, is read as the
// accepted state, and replaced by an accepted file with the next
// directory.
func TestLegacyState(t *testing.T) {
	f := wallettest.New(t)
	state := filepath.Join(t.TempDir(), "w")
	f.Serial = 4
	mustRequest(t, f, state, 1)
	f.Serial = 5
	mustRequest(t, f, state, 1)
	trust := f.TrustPolicy()
	s, err := Open(state)
	if err != nil {
		t.Fatal(err)
	}
	acc, err := s.accepted(trust)
	if err != nil || acc.Serial != 5 {
		t.Fatalf("accepted state: %+v %v", acc, err)
	}
	// As an older wallet left it: the checkpoint alone.
	cp, _ := acc.Checkpoint.MarshalText()
	os.WriteFile(filepath.Join(state, LegacyCheckpointFile), cp, 0o600)
	os.Remove(filepath.Join(state, AcceptedFile))
	legacy, err := s.accepted(trust)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := legacy.MarshalText()
	if want, _ := acc.MarshalText(); string(got) != string(want) {
		t.Fatalf("legacy state read as %s, want %s", got, want)
	}
	s.Close()
	// It refuses an older serial (logged, under a fresh checkpoint), and
	// a log that does not extend its checkpoint.
	f.Serial = 4
	if _, err := request(t, f, state, 1); !errors.Is(err, token.ErrRollback) || !strings.Contains(err.Error(), "older than serial 5 accepted before") {
		t.Fatalf("serial 4 under the legacy state: %v", err)
	}
	f.Serial = 6
	f.Publish = func(data, sig []byte) token.Published {
		fork, err := issue.NewLog(f.Env.LogKey, nil)
		if err != nil {
			t.Fatal(err)
		}
		forked := &witnesstest.Env{LogKey: f.Env.LogKey, Log: fork, Witnesses: f.Env.Witnesses, Root: f.Env.Root}
		p, err := forked.Publish(data, sig, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if _, err := request(t, f, state, 1); !errors.Is(err, token.ErrInconsistent) {
		t.Fatalf("forked log under the legacy state: %v", err)
	}
	f.Publish = nil
	mustRequest(t, f, state, 1)
	if _, err := os.Stat(filepath.Join(state, LegacyCheckpointFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the legacy checkpoint file is kept: %v", err)
	}
	text, err := os.ReadFile(filepath.Join(state, AcceptedFile))
	if err != nil {
		t.Fatal(err)
	}
	if acc, err := token.ParseAccepted(text, trust); err != nil || acc.Serial != 6 {
		t.Fatalf("accepted state written: %+v %v", acc, err)
	}
}

// TestUpdateFirst: an issuer whose proof is older than the trust
// policy's issue-max-age (but within its max-age) is asked for its
// directory once more before the wallet requests tokens; a proof still
// that old refuses the request, and no token is asked for.
func TestUpdateFirst(t *testing.T) {
	f := wallettest.New(t)
	policy := append(f.Env.Policy(wallettest.MaxAge), "issue-max-age 1h\n"...)
	trustFile := filepath.Join(t.TempDir(), "trust.txt")
	os.WriteFile(trustFile, policy, 0o644)
	trust, err := directory.LoadTrust(trustFile)
	if err != nil || trust.IssueMaxAge() != time.Hour {
		t.Fatalf("policy with issue-max-age: %v", err)
	}
	withPolicy := func(o *RequestOptions) { o.Trust = trust }
	state := filepath.Join(t.TempDir(), "w")
	now := time.Now()
	old := now.Add(-90 * time.Minute)
	fetches := 0
	f.Publish = func(data, sig []byte) token.Published {
		fetches++
		if fetches == 1 {
			return f.Prove(data, sig, old)
		}
		return f.Prove(data, sig, now)
	}
	if _, err := request(t, f, state, 1, withPolicy); err != nil {
		t.Fatal(err)
	}
	if fetches != 2 || len(f.GotAuth()) != 1 {
		t.Fatalf("%d directory fetches and a token request, want 2 and one", fetches)
	}
	text, _ := os.ReadFile(filepath.Join(state, AcceptedFile))
	if acc, err := token.ParseAccepted(text, trust); err != nil || acc.Checkpoint.Time().Unix() != now.Unix() {
		t.Fatalf("accepted state after the second fetch: %v", err)
	}

	// The issuer keeps serving an old proof.
	f.Serial = 6
	fetches = 0
	f.Publish = func(data, sig []byte) token.Published {
		fetches++
		return f.Prove(data, sig, old)
	}
	_, err = request(t, f, state, 1, withPolicy)
	if !errors.Is(err, holder.ErrUpdateFirst) || fetches != 2 ||
		!strings.Contains(err.Error(), "last cosigned by a quorum of its witnesses at "+old.UTC().Format(time.RFC3339)+", longer ago than issue-max-age 1h0m0s") {
		t.Fatalf("proof older than issue-max-age: %v (%d fetches)", err, fetches)
	}
	if len(f.GotAuth()) != 0 {
		t.Fatal("a token request was sent under a directory older than issue-max-age")
	}
}
