package token_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"testing"

	"github.com/statustoken/statustoken/internal/logtest"
	"github.com/statustoken/statustoken/token"
)

var updateDecisions = flag.Bool("update-decisions", false, "regenerate testdata/decision_vectors.json")

const decisionVectorsFile = "testdata/decision_vectors.json"

// decisionVector is one case of testdata/decision_vectors.json: a
// receipt (checked with ParseReceipt and Receipt.Check against the
// file's directory), a decision record (ParseRecord) or an appeal bundle
// (CheckAppeal under the file's trust policy), and the sentinel of the
// error expected, empty for none.
type decisionVector struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"` // receipt, record or appeal
	Data  []byte `json:"data"`
	Error string `json:"error"`
}

type decisionVectorFile struct {
	Comment   string           `json:"comment"`
	Trust     string           `json:"trust"`
	Directory token.Published  `json:"directory"`
	Vectors   []decisionVector `json:"vectors"`
}

var decisionSentinels = map[string]error{
	"":                      nil,
	"ErrMalformedReceipt":   token.ErrMalformedReceipt,
	"ErrReceiptSignature":   token.ErrReceiptSignature,
	"ErrReceiptDirectory":   token.ErrReceiptDirectory,
	"ErrReceiptReason":      token.ErrReceiptReason,
	"ErrMalformedRecord":    token.ErrMalformedRecord,
	"ErrMalformedAppeal":    token.ErrMalformedAppeal,
	"ErrOpening":            token.ErrOpening,
	"ErrDecisionNotLogged":  token.ErrDecisionNotLogged,
	"ErrQuorum":             token.ErrQuorum,
	"ErrNotLogged":          token.ErrNotLogged,
	"ErrDirectorySignature": token.ErrDirectorySignature,
	"ErrInvalidDirectory":   token.ErrInvalidDirectory,
}

// generateDecisionVectors builds the cases, one named generator per way
// of failing, from the deterministic fixture.
func generateDecisionVectors(t *testing.T) decisionVectorFile {
	f := newDecFixture(t)
	o := testOpening("vectors")
	req := []byte("vector request")
	var vs []decisionVector
	add := func(name, kind string, data []byte, sentinel string) {
		vs = append(vs, decisionVector{Name: name, Kind: kind, Data: bytes.Clone(data), Error: sentinel})
	}
	with := func(b []byte, i int, v byte) []byte { c := bytes.Clone(b); c[i] = v; return c }
	flip := func(b []byte, i int) []byte { c := bytes.Clone(b); c[i] ^= 1; return c }
	resign := func(label string, mutate func(r *token.Receipt)) []byte {
		r := f.receipt(label, req, o, 1, 1, []byte("negative PCR"))
		mutate(r)
		f.sign(r)
		// The fields as they are, valid or not.
		return append(r.SignedMessage()[len("statustoken/v1 receipt"):], r.Signature...)
	}

	// Receipts.
	green := marshal(t, f.receipt("green", req, o, 1, 1, []byte("negative PCR")))
	refusal := marshal(t, f.receipt("refusal", req, o, token.Refused, 2, nil))
	add("receipt-green-with-evidence", "receipt", green, "")
	add("receipt-refused-administrative", "receipt", refusal, "")
	add("receipt-empty", "receipt", nil, "ErrMalformedReceipt")
	add("receipt-truncated", "receipt", green[:token.ReceiptSize-1], "ErrMalformedReceipt")
	add("receipt-trailing-byte", "receipt", append(bytes.Clone(green), 0), "ErrMalformedReceipt")
	add("receipt-version-2", "receipt", with(green, 0, 2), "ErrMalformedReceipt")
	add("receipt-evidence-flag-2", "receipt", with(green, 8, 2), "ErrMalformedReceipt")
	add("receipt-evidence-without-digest", "receipt", resign("x", func(r *token.Receipt) { r.EvidenceSHA256 = [32]byte{} }), "ErrMalformedReceipt")
	add("receipt-digest-without-evidence", "receipt", resign("x", func(r *token.Receipt) { r.Evidence = false }), "ErrMalformedReceipt")
	add("receipt-reason-0", "receipt", resign("x", func(r *token.Receipt) { r.Reason = 0 }), "ErrMalformedReceipt")
	add("receipt-signature-s-not-canonical", "receipt", with(green, token.ReceiptSize-1, 0xff), "ErrMalformedReceipt")
	add("receipt-signature-flipped", "receipt", flip(green, token.ReceiptSize-40), "ErrReceiptSignature")
	add("receipt-outcome-changed", "receipt", with(green, 5, 2), "ErrReceiptSignature")
	add("receipt-unknown-decision-key", "receipt", func() []byte {
		other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{5}, 32))
		r := f.receipt("x", req, o, 1, 1, []byte("e"))
		r.KeyID = token.ComputeKeyID(other.Public().(ed25519.PublicKey))
		r.Signature = ed25519.Sign(other, r.SignedMessage())
		return marshal(t, r)
	}(), "ErrReceiptSignature")
	add("receipt-signed-by-issuing-key-id", "receipt", resign("x", func(r *token.Receipt) { r.KeyID = f.dir.Keys[0].ID }), "ErrReceiptSignature")
	add("receipt-other-serial", "receipt", resign("x", func(r *token.Receipt) { r.Serial = 2 }), "ErrReceiptDirectory")
	add("receipt-epoch-not-aligned", "receipt", resign("x", func(r *token.Receipt) { r.Epoch++ }), "ErrReceiptDirectory")
	add("receipt-epoch-before-directory", "receipt", resign("x", func(r *token.Receipt) { r.Epoch -= 86400 }), "ErrReceiptDirectory")
	add("receipt-reason-not-listed", "receipt", resign("x", func(r *token.Receipt) { r.Reason = 9 }), "ErrReceiptReason")
	add("receipt-reason-not-for-outcome", "receipt", resign("x", func(r *token.Receipt) { r.Outcome = token.Refused }), "ErrReceiptReason")
	add("receipt-status-not-in-directory", "receipt", resign("x", func(r *token.Receipt) { r.Outcome = 7 }), "ErrReceiptReason")
	add("receipt-evidence-required", "receipt", resign("x", func(r *token.Receipt) { r.Evidence, r.EvidenceSHA256 = false, [32]byte{} }), "ErrReceiptReason")

	// Records.
	rg, _ := token.ParseReceipt(green)
	rec := marshal(t, token.RecordOf(rg))
	add("record-green", "record", rec, "")
	add("record-truncated", "record", rec[:token.RecordSize-1], "ErrMalformedRecord")
	add("record-trailing-byte", "record", append(bytes.Clone(rec), 0), "ErrMalformedRecord")
	add("record-version-0", "record", with(rec, 0, 0), "ErrMalformedRecord")
	add("record-evidence-flag-2", "record", with(rec, 8, 2), "ErrMalformedRecord")
	add("record-reason-0", "record", with(with(rec, 6, 0), 7, 0), "ErrMalformedRecord")

	// Appeal bundles.
	rr, _ := token.ParseReceipt(refusal)
	proof := f.log(t, marshal(t, token.RecordOf(rr)), decNow)
	good := token.Appeal{Receipt: refusal, DecisionProof: proof, Directory: f.pub, Opening: *o}
	appeal := func(name string, sentinel string, mutate func(a *token.Appeal)) {
		a := good
		a.Directory = token.Published{Directory: bytes.Clone(f.pub.Directory), Signature: bytes.Clone(f.pub.Signature), Proof: bytes.Clone(f.pub.Proof)}
		a.Opening.Statement = bytes.Clone(o.Statement)
		mutate(&a)
		add(name, "appeal", marshal(t, &a), sentinel)
	}
	appeal("appeal-refusal", "", func(a *token.Appeal) {})
	goodBytes := marshal(t, &good)
	add("appeal-empty", "appeal", nil, "ErrMalformedAppeal")
	add("appeal-version-2", "appeal", with(goodBytes, 0, 2), "ErrMalformedAppeal")
	add("appeal-truncated", "appeal", goodBytes[:len(goodBytes)-1], "ErrMalformedAppeal")
	add("appeal-trailing-byte", "appeal", append(bytes.Clone(goodBytes), 0), "ErrMalformedAppeal")
	add("appeal-empty-decision-proof", "appeal", func() []byte {
		i := 1 + token.ReceiptSize // the decision proof's length prefix
		return append(append(bytes.Clone(goodBytes[:i]), 0, 0), goodBytes[i+2+len(proof):]...)
	}(), "ErrDecisionNotLogged")
	add("appeal-statement-too-long", "appeal", func() []byte {
		long := append(bytes.Clone(goodBytes[:len(goodBytes)-2-len(o.Statement)]), byte((token.MaxStatementSize+1)>>8), byte((token.MaxStatementSize+1)&0xff))
		return append(long, make([]byte, token.MaxStatementSize+1)...)
	}(), "ErrMalformedAppeal")
	appeal("appeal-other-statement", "ErrOpening", func(a *token.Appeal) { a.Opening.Statement = []byte("someone else") })
	appeal("appeal-other-salt", "ErrOpening", func(a *token.Appeal) { a.Opening.Salt[31] ^= 1 })
	appeal("appeal-receipt-malformed", "ErrMalformedReceipt", func(a *token.Appeal) { a.Receipt = with(refusal, 0, 2) })
	appeal("appeal-receipt-signature", "ErrReceiptSignature", func(a *token.Appeal) { a.Receipt = flip(refusal, token.ReceiptSize-40) })
	appeal("appeal-receipt-not-logged", "ErrDecisionNotLogged", func(a *token.Appeal) { a.Receipt = green })
	appeal("appeal-decision-proof-garbage", "ErrDecisionNotLogged", func(a *token.Appeal) { a.DecisionProof = []byte("c2sp.org/tlog-proof@v1\n") })
	appeal("appeal-decision-checkpoint-one-witness", "ErrQuorum", func(a *token.Appeal) { a.DecisionProof = f.dlog.Proof(0, f.checkpoint(decNow, 2)) })
	appeal("appeal-decision-proof-from-directory-log", "ErrQuorum", func(a *token.Appeal) { a.DecisionProof = f.pub.Proof })
	appeal("appeal-directory-signature", "ErrDirectorySignature", func(a *token.Appeal) { a.Directory.Signature[0] ^= 1 })
	appeal("appeal-directory-proof-of-another-record", "ErrNotLogged", func(a *token.Appeal) {
		f.env.Log.Append(2, []byte("a later directory"))
		c := logtest.Cosign(f.env.Log.Checkpoint(), f.env.Witnesses[0].At(decNow), f.env.Witnesses[1].At(decNow))
		a.Directory.Proof = f.env.Log.Proof(1, c)
	})
	appeal("appeal-directory-checkpoint-one-witness", "ErrQuorum", func(a *token.Appeal) {
		a.Directory.Proof = f.env.Log.Proof(0, logtest.Cosign(f.env.Log.Checkpoint(), f.env.Witnesses[2].At(decNow)))
	})
	return decisionVectorFile{
		Comment:   "Receipts, decision records and appeal bundles (token/SPEC.md, \"Decisions\"); generated by TestDecisionVectors with -update-decisions.",
		Trust:     string(f.env.Policy()),
		Directory: f.pub,
		Vectors:   vs,
	}
}

// TestDecisionVectors checks every named case of
// testdata/decision_vectors.json, and that the file is what the
// generators above produce.
func TestDecisionVectors(t *testing.T) {
	gen := generateDecisionVectors(t)
	if *updateDecisions {
		b, err := json.MarshalIndent(gen, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(decisionVectorsFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(decisionVectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var vf decisionVectorFile
	if err := json.Unmarshal(data, &vf); err != nil {
		t.Fatal(err)
	}
	if x, _ := json.Marshal(vf); !bytes.Equal(x, must(json.Marshal(gen))) {
		t.Errorf("%s differs from its generators; regenerate with -update-decisions", decisionVectorsFile)
	}
	trust, err := token.ParseTrust([]byte(vf.Trust))
	if err != nil {
		t.Fatal(err)
	}
	dir, _, err := token.Open(vf.Directory, trust, token.Accepted{}, decNow)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, v := range vf.Vectors {
		if names[v.Name] {
			t.Errorf("%s: name used twice", v.Name)
		}
		names[v.Name] = true
		want, ok := decisionSentinels[v.Error]
		if !ok {
			t.Fatalf("%s: unknown error %q", v.Name, v.Error)
		}
		var err error
		switch v.Kind {
		case "receipt":
			var r *token.Receipt
			if r, err = token.ParseReceipt(v.Data); err == nil {
				err = r.Check(dir)
			}
		case "record":
			var rec *token.DecisionRecord
			if rec, err = token.ParseRecord(v.Data); err == nil && !bytes.Equal(must(rec.MarshalBinary()), v.Data) {
				t.Errorf("%s: record does not re-encode to its bytes", v.Name)
			}
		case "appeal":
			_, err = token.CheckAppeal(v.Data, trust)
		default:
			t.Fatalf("%s: unknown kind %q", v.Name, v.Kind)
		}
		if !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", v.Name, err, want)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
