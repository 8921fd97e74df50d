package transparency_test

import (
	"bytes"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/statustoken/statustoken/internal/transparency"
)

// FuzzParseProof: a proof that parses re-encodes to the same bytes, and
// checking any input returns an error of a known kind or succeeds only
// for a proof of the record.
func FuzzParseProof(f *testing.F) {
	e := newEnv(f)
	f.Add(e.proof(testNow, 0, 1))
	f.Add(e.proof(testNow, 2))
	f.Add([]byte("c2sp.org/tlog-proof@v1\nindex 0\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := transparency.ParseProof(b)
		if err == nil && !bytes.Equal(p.Format(), b) {
			t.Fatalf("parsed proof re-encodes differently")
		}
		if err != nil && transparency.KindOf(err) != transparency.NotLogged {
			t.Fatalf("parse error of kind %d: %v", transparency.KindOf(err), err)
		}
		if _, err := e.policy.Verify(e.record, b, testNow); err != nil && transparency.KindOf(err) == 0 {
			t.Fatalf("verify error without a kind: %v", err)
		}
	})
}

// FuzzParsePolicy: parsing never panics, fails with MalformedPolicy, and
// a parsed policy keeps its text.
func FuzzParsePolicy(f *testing.F) {
	e := newEnv(f)
	root := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	f.Add(e.log.Policy(root, e.witnesses, 2, 48*time.Hour))
	f.Add(e.log.Policy(root, e.witnesses[:1], 1, time.Hour))
	f.Add([]byte("root AAAA\nquorum none\n"))
	f.Add(append(e.log.Policy(root, e.witnesses, 2, 48*time.Hour), "issue-max-age 2h\n"...))
	var nested []byte
	for _, l := range bytes.SplitAfter(e.log.Policy(root, e.witnesses, 2, 48*time.Hour), []byte("\n")) {
		if !bytes.HasPrefix(l, []byte("group")) && !bytes.HasPrefix(l, []byte("quorum")) {
			nested = append(nested, l...)
		}
	}
	f.Add(append(nested, "group a 1 w1.example w2.example\ngroup b all a w3.example\nquorum b\n"...))
	cp := e.log.Checkpoint(e.witnesses[0].At(testNow), e.witnesses[2].At(testNow))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := transparency.ParsePolicy(b)
		if err != nil {
			if transparency.KindOf(err) != transparency.MalformedPolicy {
				t.Fatalf("error of kind %d: %v", transparency.KindOf(err), err)
			}
			return
		}
		if !bytes.Equal(p.Text(), b) || len(p.Root) != ed25519.PublicKeySize || p.MaxAge < transparency.MinMaxAge ||
			p.IssueMaxAge > p.MaxAge || 2*p.Minimum() <= len(p.Witnesses()) {
			t.Fatalf("parsed policy %+v", p)
		}
		// Evaluating any parsed policy on a checkpoint ends, with an
		// error of a known kind or a checkpoint.
		if _, err := p.OpenCheckpoint(cp, testNow); err != nil && transparency.KindOf(err) == 0 {
			t.Fatalf("checkpoint error without a kind: %v", err)
		}
	})
}

// FuzzOpenCheckpoint: reading any checkpoint note never panics, fails
// with a kind of its own, and a checkpoint accepted at a time is also
// accepted as persisted, with a quorum time no later than the newest
// counted cosignature.
func FuzzOpenCheckpoint(f *testing.F) {
	e := newEnv(f)
	f.Add(e.log.Checkpoint(e.witnesses[0].At(testNow), e.witnesses[1].At(testNow)))
	f.Add(e.log.Checkpoint(e.witnesses[0].At(testNow.Add(-72*time.Hour)), e.witnesses[1].At(testNow), e.witnesses[0].At(testNow)))
	f.Add(e.log.Checkpoint(e.witnesses[2].At(testNow.AddDate(1, 0, 0))))
	f.Add([]byte("example.org/health/directory\n2\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— x AAAAAA==\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := e.policy.OpenCheckpoint(b, testNow)
		if err != nil {
			switch transparency.KindOf(err) {
			case transparency.NotLogged, transparency.Quorum, transparency.Stale:
			default:
				t.Fatalf("error of kind %d: %v", transparency.KindOf(err), err)
			}
			return
		}
		if len(c.Seen.Cosignatures) == 0 || !c.Seen.LogSigned {
			t.Fatalf("accepted without signatures: %+v", c.Seen)
		}
		newest := c.Seen.Cosignatures[0].Time
		for _, s := range c.Seen.Cosignatures {
			if s.Time.After(newest) {
				newest = s.Time
			}
		}
		if c.Time().After(newest) || c.Time().After(testNow.Add(transparency.MaxFuture)) {
			t.Fatalf("quorum time %v after the newest cosignature %v", c.Time(), newest)
		}
		p, err := e.policy.OpenPersisted(b)
		if err != nil || p.Tree != c.Tree {
			t.Fatalf("accepted at a time, refused as persisted: %v", err)
		}
	})
}
