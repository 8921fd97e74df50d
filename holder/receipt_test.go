package holder

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/statustoken/statustoken/internal/logtest"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

var decisionLog = logtest.NewLog("statustoken.example/test/decisions")

func decisionKey() ed25519.PrivateKey { return ed25519.NewKeyFromSeed(fixedBytes("decision", 32)) }

// decisionIssuer is testIssuer with a decision policy and three tokens
// per request.
func decisionIssuer(t testing.TB) *issue.Issuer {
	return testIssuer(t, func(c *issue.Config) {
		c.TokensPerRequest = 3
		c.DecisionKey = decisionKey()
		c.DecisionLogKey = decisionLog.VerifierKey()
		c.DecisionLogDelay = time.Hour
		c.Reasons = []token.Reason{
			{Code: 1, Text: "Negative test result", Outcomes: []token.Outcome{1}, EvidenceRequired: true},
			{Code: 2, Text: "Administrative", Outcomes: []token.Outcome{token.Refused, 2}},
		}
	})
}

// logDecision appends record to the decision log and returns its proof
// under a checkpoint cosigned by w1 and w2 of root's test log at `at`.
func logDecision(t testing.TB, root ed25519.PublicKey, record []byte, at time.Time) []byte {
	t.Helper()
	e, _ := envFor(root)
	i := decisionLog.Tree.Size()
	if err := decisionLog.Tree.Append(record); err != nil {
		t.Fatal(err)
	}
	c := decisionLog.Checkpoint(e.Witnesses[0].At(at), e.Witnesses[1].At(at))
	return decisionLog.Proof(i, c)
}

func TestRequestTokensPerRequest(t *testing.T) {
	h := testHolder(t, decisionIssuer(t))
	for _, n := range []int{1, 2, 4} {
		if _, _, err := h.Request(1, testNow, n); !errors.Is(err, ErrCount) {
			t.Errorf("%d tokens: %v, want ErrCount", n, err)
		}
	}
	if _, _, err := h.Request(1, testNow, 3); err != nil {
		t.Fatal(err)
	}
}

func TestCheckReceipt(t *testing.T) {
	is := decisionIssuer(t)
	h := testHolder(t, is)
	o := &token.Opening{Salt: [32]byte(fixedBytes("salt", 32)), Statement: []byte("Li Wei")}
	p, req, resp := request(t, is, h, 1, 3)
	receipt, record, err := is.Decide(issue.Decision{Request: req, Commitment: o.Commitment(), Outcome: 1, Reason: 1, Evidence: []byte("PCR"), Serial: 1}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	r, err := h.CheckReceipt(req, o.Commitment(), receipt)
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != 1 || !r.Evidence {
		t.Fatalf("receipt %+v", r)
	}
	if _, err := h.Finalize(p, resp); err != nil {
		t.Fatal(err)
	}

	_, other, _ := request(t, is, h, 1, 3)
	_, redReq, _ := request(t, is, h, 2, 3)
	sign := func(mutate func(r *token.Receipt)) []byte {
		r, _ := token.ParseReceipt(receipt)
		mutate(r)
		r.Signature = ed25519.Sign(decisionKey(), r.SignedMessage())
		b, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	flipped := append([]byte(nil), receipt...)
	flipped[len(flipped)-1] ^= 1
	for _, c := range []struct {
		name    string
		req     []byte
		receipt []byte
		want    error
	}{
		{"missing", req, nil, token.ErrMalformedReceipt},
		{"truncated", req, receipt[:100], token.ErrMalformedReceipt},
		{"badly-signed", req, flipped, token.ErrReceiptSignature},
		{"another-request", other, receipt, token.ErrReceiptMismatch},
		{"another-commitment", req, sign(func(r *token.Receipt) { r.Commitment[0] ^= 1 }), token.ErrReceiptMismatch},
		{"reason-not-for-outcome", req, sign(func(r *token.Receipt) { r.Reason = 2 }), token.ErrReceiptReason},
		{"reason-not-listed", req, sign(func(r *token.Receipt) { r.Reason = 7 }), token.ErrReceiptReason},
		{"another-directory", req, sign(func(r *token.Receipt) { r.Serial = 2 }), token.ErrReceiptDirectory},
		{"grants-another-status", redReq, sign(func(r *token.Receipt) { r.RequestSHA256 = token.RequestDigestOf(redReq) }), token.ErrReceiptMismatch},
	} {
		if _, err := h.CheckReceipt(c.req, o.Commitment(), c.receipt); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}

	// The proof of the record, checked fresh; then the appeal bundle.
	cited := h.Published()
	proof := logDecision(t, is.RootPublicKey(), record, envTime)
	if _, err := h.CheckDecisionProof(receipt, proof, cited); err != nil {
		t.Fatal(err)
	}
	stale := logDecision(t, is.RootPublicKey(), record, time.Now().Add(-72*time.Hour))
	if _, err := h.CheckDecisionProof(receipt, stale, cited); !errors.Is(err, token.ErrStale) {
		t.Fatalf("stale proof: %v, want ErrStale", err)
	}
	if _, err := h.CheckDecisionProof(sign(func(r *token.Receipt) { r.Nonce[0] ^= 1 }), proof, cited); !errors.Is(err, token.ErrDecisionNotLogged) {
		t.Fatalf("unlogged receipt: %v", err)
	}
	bundle, err := h.Appeal(receipt, proof, cited, *o)
	if err != nil {
		t.Fatal(err)
	}
	_, trust := envFor(is.RootPublicKey())
	f, err := token.CheckAppeal(bundle, trust)
	if err != nil {
		t.Fatal(err)
	}
	if f.OutcomeName != "green" || f.ReasonText != "Negative test result" || string(f.Statement) != "Li Wei" {
		t.Fatalf("finding %+v", f)
	}
	wrong := *o
	wrong.Statement = []byte("Zhang San")
	if _, err := h.Appeal(receipt, proof, cited, wrong); !errors.Is(err, token.ErrOpening) {
		t.Fatalf("another statement: %v, want ErrOpening", err)
	}
	// Without a proof: the bundle of a receipt the issuer never logged.
	// It is written, and an appeal body finds the signed receipt about
	// the holder, and the record missing.
	unlogged, err := h.Appeal(receipt, nil, cited, *o)
	if err != nil {
		t.Fatalf("bundle without a proof: %v", err)
	}
	if f, err := token.CheckAppeal(unlogged, trust); !errors.Is(err, token.ErrDecisionNotLogged) || f == nil || string(f.Statement) != "Li Wei" {
		t.Fatalf("bundle without a proof: %v, %+v", err, f)
	}
	if _, err := h.Appeal(receipt, nil, cited, wrong); !errors.Is(err, token.ErrOpening) {
		t.Fatalf("another statement without a proof: %v, want ErrOpening", err)
	}
	if _, err := h.Appeal(flipped, nil, cited, *o); !errors.Is(err, token.ErrReceiptSignature) {
		t.Fatalf("bad receipt without a proof: %v, want ErrReceiptSignature", err)
	}
	// Published is a copy.
	cited.Directory[0] = 'x'
	if h.Published().Directory[0] != '{' {
		t.Fatal("Published shares the holder's bytes")
	}
}

// TestDecisionUnlinkable: with receipts in place, what the issuer and the
// public see of a decision (the receipt, and the record in the decision
// log) holds no byte run of the tokens issued under it, and the tokens,
// checked by the wallet, are as unlinkable as without receipts. The
// records of two holders granted the same status for the same reason
// differ only in their hiding commitments.
func TestDecisionUnlinkable(t *testing.T) {
	is := decisionIssuer(t)
	h := testHolder(t, is)
	var view issuerView
	var toks []*token.Token
	var records [][]byte
	for i := range 4 {
		o := &token.Opening{Salt: [32]byte(fixedBytes(fmt.Sprint("salt", i), 32)), Statement: []byte("Li Wei")}
		issued := blindIssue(t, is, h, 1, 3, &view)
		req := view.requests[len(view.requests)-1]
		receipt, record, err := is.Decide(issue.Decision{Request: req, Commitment: o.Commitment(), Outcome: 1, Reason: 1, Evidence: []byte("PCR"), Serial: 1}, testNow)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.CheckReceipt(req, o.Commitment(), receipt); err != nil {
			t.Fatal(err)
		}
		view.responses = append(view.responses, receipt, record)
		records = append(records, record)
		toks = append(toks, issued...)
	}
	checkTokens(t, h.Directory(), 1, toks)
	all := bytes.Join(append(view.requests, view.responses...), nil)
	for _, tok := range toks {
		for _, secret := range [][]byte{tok.Nonce[:], tok.Signature} {
			for i := 0; i+8 <= len(secret); i++ {
				if bytes.Contains(all, secret[i:i+8]) {
					t.Fatalf("the issuer's view, receipts and records included, contains token bytes %x", secret[i:i+8])
				}
			}
		}
	}
	for i, r := range records[1:] {
		if !bytes.Equal(r[:9], records[0][:9]) || bytes.Equal(r[9:], records[0][9:]) {
			t.Fatalf("record %d: public fields differ, or the commitment repeats", i+1)
		}
	}
}
