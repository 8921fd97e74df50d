package token_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/token"
)

func TestDecisionDirectoryEncoding(t *testing.T) {
	f := newDecFixture(t)
	s := string(f.pub.Directory)
	// The new members follow keys, in this order, and nothing else moved.
	i := strings.Index(s, `],"tokens_per_request":10,"decision_log":"statustoken.example/test/decisions+`)
	j := strings.Index(s, `","decision_log_delay":3600,"decision_keys":[{"key_id":"`)
	k := strings.Index(s, `"reasons":[{"code":1,"text":"Negative test result","outcomes":[1],"evidence_required":true},{"code":2,"text":"Administrative","outcomes":[0,2],"evidence_required":false},`)
	if i < 0 || j < i || k < j || !strings.HasSuffix(s, `"evidence_required":true}]}`) {
		t.Fatalf("directory encoding:\n%s", s)
	}
	d, err := token.OpenDirectory(f.pub.Directory, f.pub.Signature, f.root.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if again := marshal(t, d); !bytes.Equal(again, f.pub.Directory) {
		t.Fatal("re-encoding differs")
	}
	// Without the new fields the encoding is exactly the old one.
	d.TokensPerRequest, d.DecisionLog, d.DecisionLogDelay, d.DecisionKeys, d.Reasons = 0, "", 0, nil, nil
	if s := string(marshal(t, d)); strings.Contains(s, "tokens_per_request") || strings.Contains(s, "reasons") || strings.Contains(s, "decision_log") {
		t.Fatal("unset fields encoded")
	}
	// Non-canonical presence: an empty list or a zero count written out.
	for _, edit := range [][2]string{
		{`,"tokens_per_request":10`, `,"tokens_per_request":0`},
		{`,"tokens_per_request":10`, ``},
		{`,"decision_log_delay":3600`, `,"decision_log_delay":3600.0`},
		{`,"decision_log_delay":3600`, `,"decision_log_delay":"3600"`},
		{`"outcomes":[1]`, `"outcomes":[01]`},
		{`"outcomes":[1]`, `"outcomes":[1.0]`},
		{`"outcomes":[1]`, `"outcomes":["1"]`},
		{`"text":"Administrative"`, `"text":"Administr\u0061tive"`},
	} {
		data := []byte(strings.Replace(s, edit[0], edit[1], 1))
		if edit[1] == "" {
			// Absent is valid: a directory without a fixed count.
			if _, err := token.ParseDirectory(data); err != nil {
				t.Errorf("%q removed: %v", edit[0], err)
			}
			continue
		}
		if _, err := token.ParseDirectory(data); !errors.Is(err, token.ErrMalformedDirectory) {
			t.Errorf("%q: %v, want ErrMalformedDirectory", edit[1], err)
		}
	}
}

func TestDecisionDirectoryRules(t *testing.T) {
	f := newDecFixture(t)
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32)).Public().(ed25519.PublicKey)
	cases := map[string]func(d *token.Directory){
		"tokens-per-request-too-many": func(d *token.Directory) { d.TokensPerRequest = token.MaxTokensPerRequest + 1 },
		"tokens-per-request-negative": func(d *token.Directory) { d.TokensPerRequest = -1 },
		"no-decision-log":             func(d *token.Directory) { d.DecisionLog = "" },
		"no-decision-log-delay":       func(d *token.Directory) { d.DecisionLogDelay = 0 },
		"decision-log-delay-short":    func(d *token.Directory) { d.DecisionLogDelay = token.MinDecisionLogDelay - 1 },
		"decision-log-delay-long":     func(d *token.Directory) { d.DecisionLogDelay = token.MaxDecisionLogDelay + 1 },
		"no-decision-keys":            func(d *token.Directory) { d.DecisionKeys = nil },
		"no-reasons":                  func(d *token.Directory) { d.Reasons = nil },
		"decision-log-not-a-vkey":     func(d *token.Directory) { d.DecisionLog = "decisions+12345678+AAAA" },
		"decision-log-with-space":     func(d *token.Directory) { d.DecisionLog = "a " + d.DecisionLog },
		"decision-key-id-mismatch":    func(d *token.Directory) { d.DecisionKeys[0].ID[0] ^= 1 },
		"decision-key-invalid":        func(d *token.Directory) { d.DecisionKeys[0].PublicKey = make([]byte, 32) },
		"decision-key-twice":          func(d *token.Directory) { d.DecisionKeys = append(d.DecisionKeys, d.DecisionKeys[0]) },
		"decision-key-is-issuing-key": func(d *token.Directory) {
			d.DecisionKeys[0] = token.DecisionKey{ID: d.Keys[0].ID, PublicKey: d.Keys[0].PublicKey}
		},
		"decision-keys-too-many": func(d *token.Directory) {
			for range token.MaxDecisionKeys {
				d.DecisionKeys = append(d.DecisionKeys, token.DecisionKey{ID: token.ComputeKeyID(other), PublicKey: other})
			}
		},
		"reason-code-zero":       func(d *token.Directory) { d.Reasons[0].Code = 0 },
		"reasons-unsorted":       func(d *token.Directory) { d.Reasons[0], d.Reasons[1] = d.Reasons[1], d.Reasons[0] },
		"reason-code-twice":      func(d *token.Directory) { d.Reasons[1].Code = d.Reasons[0].Code },
		"reason-text-empty":      func(d *token.Directory) { d.Reasons[0].Text = "" },
		"reason-text-too-long":   func(d *token.Directory) { d.Reasons[0].Text = strings.Repeat("a", token.MaxReasonTextSize+1) },
		"reason-text-newline":    func(d *token.Directory) { d.Reasons[0].Text = "a\nb" },
		"reason-text-ampersand":  func(d *token.Directory) { d.Reasons[0].Text = "a & b" },
		"reason-text-non-ascii":  func(d *token.Directory) { d.Reasons[0].Text = "négatif" },
		"reason-no-outcomes":     func(d *token.Directory) { d.Reasons[0].Outcomes = nil },
		"reason-unknown-status":  func(d *token.Directory) { d.Reasons[0].Outcomes = []token.Outcome{3} },
		"reason-outcomes-twice":  func(d *token.Directory) { d.Reasons[1].Outcomes = []token.Outcome{2, 2} },
		"reason-outcomes-sorted": func(d *token.Directory) { d.Reasons[1].Outcomes = []token.Outcome{2, 0} },
	}
	for name, mutate := range cases {
		d := f.dir.Clone()
		mutate(d)
		if _, err := d.MarshalBinary(); !errors.Is(err, token.ErrInvalidDirectory) {
			t.Errorf("%s: %v, want ErrInvalidDirectory", name, err)
		}
	}
	// Clone copies everything and shares nothing.
	c := f.dir.Clone()
	if c.DecisionLogDelay != 3600 || c.DecisionLog != f.dir.DecisionLog {
		t.Fatalf("Clone lost the decision log: %q, %d", c.DecisionLog, c.DecisionLogDelay)
	}
	c.Reasons[0].Outcomes[0] = 2
	c.DecisionKeys[0].PublicKey[0] ^= 1
	if f.dir.Reasons[0].Outcomes[0] != 1 || f.dir.DecisionKeys[0].PublicKey[0] == c.DecisionKeys[0].PublicKey[0] {
		t.Fatal("Clone shares the decision policy")
	}
}

func TestReceipt(t *testing.T) {
	f := newDecFixture(t)
	req := []byte("the request's bytes")
	o := testOpening("a")
	receipt, record, err := f.is.Decide(issueDecision(req, o, token.Refused, 2, nil), decNow)
	if err != nil {
		t.Fatal(err)
	}
	r, err := token.ParseReceipt(receipt)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Check(f.dir); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(marshal(t, r), receipt) {
		t.Fatal("receipt does not re-encode to its bytes")
	}
	if r.Outcome != token.Refused || r.Reason != 2 || r.Evidence || r.Commitment != o.Commitment() || r.RequestSHA256 != token.RequestDigestOf(req) ||
		r.EpochTime() != time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC) {
		t.Fatalf("receipt %+v", r)
	}
	rec, err := token.ParseRecord(record)
	if err != nil {
		t.Fatal(err)
	}
	if *rec != *token.RecordOf(r) || !bytes.Equal(marshal(t, rec), record) {
		t.Fatal("record is not the receipt's")
	}
	// Every truncation and extension is malformed.
	for n := range len(receipt) + 2 {
		b := append(bytes.Clone(receipt), 0, 0)[:n]
		if n == len(receipt) {
			continue
		}
		if _, err := token.ParseReceipt(b); !errors.Is(err, token.ErrMalformedReceipt) {
			t.Fatalf("receipt of %d bytes: %v", n, err)
		}
	}
	for n := range len(record) + 2 {
		b := append(bytes.Clone(record), 0, 0)[:n]
		if n == len(record) {
			continue
		}
		if _, err := token.ParseRecord(b); !errors.Is(err, token.ErrMalformedRecord) {
			t.Fatalf("record of %d bytes: %v", n, err)
		}
	}
	// Decide refuses what its policy does not allow, and signs nothing.
	for name, d := range map[string]struct {
		outcome  token.Outcome
		reason   uint16
		evidence []byte
	}{
		"unknown-reason":          {token.Refused, 9, nil},
		"reason-not-for-outcome":  {1, 2, nil},
		"refused-by-green-reason": {token.Refused, 1, []byte("x")},
		"evidence-required":       {1, 1, nil},
		"unknown-status":          {7, 2, nil},
	} {
		if _, _, err := f.is.Decide(issueDecision(req, o, d.outcome, d.reason, d.evidence), decNow); !errors.Is(err, issueErrReason) {
			t.Errorf("%s: %v, want issue.ErrReason", name, err)
		}
	}
	if _, _, err := f.is.Decide(issueDecision(nil, o, token.Refused, 2, nil), decNow); !errors.Is(err, issueErrReason) {
		t.Errorf("empty request: %v", err)
	}
}

func TestReceiptCheck(t *testing.T) {
	f := newDecFixture(t)
	o := testOpening("a")
	req := []byte("request")
	good := func() *token.Receipt { return f.receipt("check", req, o, 1, 1, []byte("negative PCR")) }
	if err := good().Check(f.dir); err != nil {
		t.Fatal(err)
	}
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{5}, 32))
	cases := []struct {
		name   string
		mutate func(r *token.Receipt) bool // true: re-sign
		want   error
	}{
		{"signature-flipped", func(r *token.Receipt) bool { r.Signature[0] ^= 1; return false }, token.ErrReceiptSignature},
		{"field-changed-after-signing", func(r *token.Receipt) bool { r.Nonce[0] ^= 1; return false }, token.ErrReceiptSignature},
		{"unknown-key", func(r *token.Receipt) bool {
			r.KeyID = token.ComputeKeyID(other.Public().(ed25519.PublicKey))
			r.Signature = ed25519.Sign(other, r.SignedMessage())
			return false
		}, token.ErrReceiptSignature},
		{"other-serial", func(r *token.Receipt) bool { r.Serial = 2; return true }, token.ErrReceiptDirectory},
		{"epoch-not-aligned", func(r *token.Receipt) bool { r.Epoch += 3600; return true }, token.ErrReceiptDirectory},
		{"epoch-not-covered", func(r *token.Receipt) bool { r.Epoch += 5 * 86400; return true }, token.ErrReceiptDirectory},
		{"reason-not-listed", func(r *token.Receipt) bool { r.Reason = 4; return true }, token.ErrReceiptReason},
		{"reason-not-for-outcome", func(r *token.Receipt) bool { r.Outcome = token.Refused; return true }, token.ErrReceiptReason},
		{"evidence-required", func(r *token.Receipt) bool { r.Evidence, r.EvidenceSHA256 = false, [32]byte{}; return true }, token.ErrReceiptReason},
		{"evidence-flag-without-digest", func(r *token.Receipt) bool { r.EvidenceSHA256 = [32]byte{}; return true }, token.ErrMalformedReceipt},
	}
	for _, c := range cases {
		r := good()
		if c.mutate(r) {
			f.sign(r)
		}
		if err := r.Check(f.dir); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// A directory without a decision policy checks no receipt.
	d := f.dir.Clone()
	d.DecisionLog, d.DecisionLogDelay, d.DecisionKeys, d.Reasons = "", 0, nil, nil
	if err := good().Check(d); !errors.Is(err, token.ErrReceiptDirectory) {
		t.Errorf("no policy: %v", err)
	}
}
