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
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := transparency.ParsePolicy(b)
		if err != nil {
			if transparency.KindOf(err) != transparency.MalformedPolicy {
				t.Fatalf("error of kind %d: %v", transparency.KindOf(err), err)
			}
			return
		}
		if !bytes.Equal(p.Text(), b) || len(p.Root) != ed25519.PublicKeySize || p.MaxAge < transparency.MinMaxAge {
			t.Fatalf("parsed policy %+v", p)
		}
	})
}
