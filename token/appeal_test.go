package token_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/statustoken/statustoken/internal/logtest"
	"github.com/statustoken/statustoken/token"
)

// appealOf returns the appeal bundle of a refusal decided by the
// fixture's issuer and logged, with the directory's proof from the day
// of the decision.
func appealOf(t testing.TB, f *decFixture, o *token.Opening) ([]byte, *token.Appeal) {
	t.Helper()
	receipt, record, err := f.is.Decide(issueDecision([]byte("request"), o, token.Refused, 2, nil), decNow)
	if err != nil {
		t.Fatal(err)
	}
	a := &token.Appeal{Receipt: receipt, DecisionProof: f.log(t, record, decNow), Directory: f.pub, Opening: *o}
	return marshal(t, a), a
}

func TestCheckAppeal(t *testing.T) {
	f := newDecFixture(t)
	o := testOpening("appeal")
	b, a := appealOf(t, f, o)
	// Later decisions and directories grow both logs: the proofs of the
	// day still hold, and the bundle needs no freshness.
	f.log(t, bytes.Repeat([]byte{1}, token.RecordSize), decNow.AddDate(0, 2, 0))
	f.env.Log.Append(2, []byte("a later directory"))
	got, err := token.CheckAppeal(b, f.trust)
	if err != nil {
		t.Fatal(err)
	}
	if got.OutcomeName != "refused" || got.ReasonText != "Administrative" || got.EvidenceRequired || got.Receipt.Evidence ||
		!bytes.Equal(got.Statement, o.Statement) || got.Directory.Serial != 1 || got.Receipt.EpochTime() != time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC) ||
		got.DecisionCheckpoint.Origin() != decisionOrigin || got.DirectoryCheckpoint.Origin() != logtest.Origin {
		t.Fatalf("finding %+v", got)
	}
	parsed, err := token.ParseAppeal(b)
	if err != nil || !bytes.Equal(marshal(t, parsed), b) {
		t.Fatalf("bundle does not round-trip: %v", err)
	}
	for n := range len(b) + 1 {
		if n == len(b) {
			continue
		}
		if _, err := token.ParseAppeal(append(bytes.Clone(b), 0)[:n]); !errors.Is(err, token.ErrMalformedAppeal) {
			t.Fatalf("bundle of %d bytes: %v", n, err)
		}
	}
	bad := func(name string, want error, mutate func(a *token.Appeal)) {
		t.Helper()
		c := *a
		c.Receipt, c.DecisionProof = bytes.Clone(a.Receipt), bytes.Clone(a.DecisionProof)
		c.Opening.Statement = bytes.Clone(a.Opening.Statement)
		mutate(&c)
		data, err := c.MarshalBinary()
		if err == nil {
			_, err = token.CheckAppeal(data, f.trust)
		}
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}
	bad("other-statement", token.ErrOpening, func(a *token.Appeal) { a.Opening.Statement = []byte("someone else") })
	bad("other-salt", token.ErrOpening, func(a *token.Appeal) { a.Opening.Salt[0] ^= 1 })
	bad("receipt-signature", token.ErrReceiptSignature, func(a *token.Appeal) { a.Receipt[token.ReceiptSize-40] ^= 1 })
	bad("receipt-malformed", token.ErrMalformedReceipt, func(a *token.Appeal) { a.Receipt[0] = 2 })
	bad("decision-not-in-log", token.ErrDecisionNotLogged, func(a *token.Appeal) {
		other, rec, _ := f.is.Decide(issueDecision([]byte("request"), o, token.Refused, 2, nil), decNow)
		_ = rec // never logged
		a.Receipt = other
	})
	bad("decision-proof-garbage", token.ErrDecisionNotLogged, func(a *token.Appeal) { a.DecisionProof = []byte("proof") })
	bad("decision-log-uncosigned", token.ErrQuorum, func(a *token.Appeal) {
		a.DecisionProof = f.dlog.Proof(0, f.checkpoint(decNow, 2))
	})
	bad("decision-proof-under-directory-log", token.ErrQuorum, func(a *token.Appeal) { a.DecisionProof = a.Directory.Proof })
	bad("directory-signature", token.ErrDirectorySignature, func(a *token.Appeal) {
		a.Directory.Signature = bytes.Clone(a.Directory.Signature)
		a.Directory.Signature[0] ^= 1
	})
	bad("directory-not-logged", token.ErrNotLogged, func(a *token.Appeal) {
		a.Directory.Proof = f.env.Log.Proof(f.env.Log.Tree.Size()-1, f.env.Log.Checkpoint(f.env.Witnesses[0].At(decNow), f.env.Witnesses[1].At(decNow)))
	})
	bad("statement-too-long", token.ErrMalformedAppeal, func(a *token.Appeal) { a.Opening.Statement = make([]byte, token.MaxStatementSize+1) })
	if _, err := token.CheckAppeal(append(bytes.Clone(b), 0), f.trust); !errors.Is(err, token.ErrMalformedAppeal) {
		t.Errorf("trailing byte: %v", err)
	}
	bad("no-proof-other-statement", token.ErrOpening, func(a *token.Appeal) {
		a.DecisionProof, a.Opening.Statement = nil, []byte("someone else")
	})
	bad("no-proof-receipt-signature", token.ErrReceiptSignature, func(a *token.Appeal) {
		a.DecisionProof = nil
		a.Receipt[token.ReceiptSize-40] ^= 1
	})
	bad("no-proof-directory-not-logged", token.ErrNotLogged, func(a *token.Appeal) {
		a.DecisionProof = nil
		a.Directory.Proof = f.env.Log.Proof(f.env.Log.Tree.Size()-1, f.env.Log.Checkpoint(f.env.Witnesses[0].At(decNow), f.env.Witnesses[1].At(decNow)))
	})
	if _, err := token.CheckAppeal(make([]byte, token.MaxAppealSize+1), f.trust); !errors.Is(err, token.ErrMalformedAppeal) {
		t.Errorf("oversized: %v", err)
	}
}

// TestCheckAppealNotLogged: a bundle without a decision proof, for a
// receipt the issuer signed and never logged, is checked up to the
// decision log, and its Finding comes with ErrDecisionNotLogged.
func TestCheckAppealNotLogged(t *testing.T) {
	f := newDecFixture(t)
	o := testOpening("unlogged")
	receipt, _, err := f.is.Decide(issueDecision([]byte("request"), o, token.Refused, 2, nil), decNow)
	if err != nil {
		t.Fatal(err)
	}
	b := marshal(t, &token.Appeal{Receipt: receipt, Directory: f.pub, Opening: *o})
	got, err := token.CheckAppeal(b, f.trust)
	var le *token.LoadError
	if !errors.Is(err, token.ErrDecisionNotLogged) || !errors.As(err, &le) || le.Serial != 1 {
		t.Fatalf("CheckAppeal: %v, want a *LoadError wrapping ErrDecisionNotLogged", err)
	}
	if got == nil || got.OutcomeName != "refused" || got.ReasonText != "Administrative" || !bytes.Equal(got.Statement, o.Statement) ||
		got.Directory.Serial != 1 || got.DecisionCheckpoint != nil || got.DirectoryCheckpoint == nil ||
		!bytes.Equal(must(got.Record.MarshalBinary()), must(token.RecordOf(got.Receipt).MarshalBinary())) {
		t.Fatalf("finding %+v", got)
	}
	parsed, err := token.ParseAppeal(b)
	if err != nil || len(parsed.DecisionProof) != 0 || !bytes.Equal(marshal(t, parsed), b) {
		t.Fatalf("bundle without a proof does not round-trip: %v", err)
	}
}

func TestCheckDecisionProof(t *testing.T) {
	f := newDecFixture(t)
	_, a := appealOf(t, f, testOpening("w"))
	r, err := token.ParseReceipt(a.Receipt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := token.CheckDecisionProof(r, a.DecisionProof, f.dir, f.trust, decNow.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := token.CheckDecisionProof(r, a.DecisionProof, f.dir, f.trust, decNow.Add(49*time.Hour)); !errors.Is(err, token.ErrStale) {
		t.Fatalf("49 hours later: %v, want ErrStale", err)
	}
	if _, err := token.CheckDecisionProof(r, a.DecisionProof, f.dir, f.trust, time.Time{}); !errors.Is(err, token.ErrStale) {
		t.Fatalf("zero time: %v, want ErrStale", err)
	}
	r.Nonce[0] ^= 1
	if _, err := token.CheckDecisionProof(r, a.DecisionProof, f.dir, f.trust, decNow); !errors.Is(err, token.ErrDecisionNotLogged) {
		t.Fatalf("another receipt: %v", err)
	}
	// A decision log named like the directory log is refused.
	d := f.dir.Clone()
	d.DecisionLog = f.env.Log.VerifierKey()
	if _, err := token.CheckDecisionProof(r, a.DecisionProof, d, f.trust, decNow); !errors.Is(err, token.ErrReceiptDirectory) {
		t.Fatalf("decision log is the directory log: %v", err)
	}
}

// TestDecisionPrivacy checks that receipts and records carry nothing
// that links them to a token or to the holder's opening.
func TestDecisionPrivacy(t *testing.T) {
	f := newDecFixture(t)
	// A request of ten random-looking blinded messages.
	req := make([]byte, 0, 10*256)
	for i := range 10 * 8 {
		h := sha256.Sum256([]byte{byte(i), 'b'})
		req = append(req, h[:]...)
	}
	o1 := &token.Opening{Salt: sha256.Sum256([]byte("s1")), Statement: []byte("Zhang San")}
	o2 := &token.Opening{Salt: sha256.Sum256([]byte("s2")), Statement: []byte("Zhang San")}
	receipt, record, err := f.is.Decide(issueDecision(req, o1, 2, 2, nil), decNow)
	if err != nil {
		t.Fatal(err)
	}
	// No 8-byte window of the request, the statement or the salt appears
	// in the receipt or the record.
	for _, secret := range [][]byte{req, o1.Statement, o1.Salt[:]} {
		for i := 0; i+8 <= len(secret); i++ {
			if bytes.Contains(receipt, secret[i:i+8]) || bytes.Contains(record, secret[i:i+8]) {
				t.Fatalf("bytes %d..%d of a secret appear in the receipt or record", i, i+8)
			}
		}
	}
	// The record shows neither the holder's commitment nor the request
	// digest.
	r, _ := token.ParseReceipt(receipt)
	for _, v := range [][32]byte{r.Commitment, r.RequestSHA256, r.Nonce} {
		if bytes.Contains(record, v[:8]) {
			t.Fatal("the record carries a receipt field")
		}
	}
	// Two openings of one statement give unrelated commitments.
	c1, c2 := o1.Commitment(), o2.Commitment()
	if c1 == c2 || sameBits(c1, c2) > 200 {
		t.Fatal("commitments of one statement are related")
	}
	// Two decisions on the same request and commitment give unrelated
	// records: the issuer's nonce hides the rest of the receipt.
	_, record2, err := f.is.Decide(issueDecision(req, o1, 2, 2, nil), decNow)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(record, record2) || !bytes.Equal(record[:9], record2[:9]) {
		t.Fatal("records of one decision are equal, or differ in their public fields")
	}
	// A record's fields are exactly the public ones: what a holder may
	// be counted by, nothing more.
	rec, _ := token.ParseRecord(record)
	if rec.Outcome != 2 || rec.Reason != 2 || rec.Evidence || rec.Epoch != r.Epoch {
		t.Fatalf("record %+v", rec)
	}
}

func sameBits(a, b [32]byte) int {
	n := 0
	for i := range a {
		for x := ^(a[i] ^ b[i]); x != 0; x &= x - 1 {
			n++
		}
	}
	return n
}
