package token_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/statustoken/statustoken/internal/logtest"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

var decNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

const decisionOrigin = "statustoken.example/test/decisions"

// decReasons is the fixture's decision policy: green needs a negative
// test, red a positive one, and "Administrative" may refuse or give red
// without evidence (the reason the Henan officials would cite).
var decReasons = []token.Reason{
	{Code: 1, Text: "Negative test result", Outcomes: []token.Outcome{1}, EvidenceRequired: true},
	{Code: 2, Text: "Administrative", Outcomes: []token.Outcome{token.Refused, 2}},
	{Code: 3, Text: "Positive test result", Outcomes: []token.Outcome{2}, EvidenceRequired: true},
}

// decFixture is an issuer with a decision policy, its directory logged
// in a test log with witnesses w1 to w3, and its decision log.
type decFixture struct {
	root  ed25519.PrivateKey
	dkey  ed25519.PrivateKey
	env   *logtest.Env
	dlog  *logtest.Log
	is    *issue.Issuer
	pub   token.Published
	dir   *token.Directory
	trust *token.Trust
}

func decConfig(f *decFixture) issue.Config {
	return issue.Config{
		RootKey:          f.root,
		Seed:             bytes.Repeat([]byte{9}, issue.SeedSize),
		EpochLength:      24 * time.Hour,
		Statuses:         []token.StatusName{{Code: 1, Name: "green"}, {Code: 2, Name: "red"}},
		TokensPerRequest: 10,
		DecisionKey:      f.dkey,
		Reasons:          decReasons,
		DecisionLogKey:   f.dlog.VerifierKey(),
		DecisionLogDelay: time.Hour,
	}
}

func newDecFixture(t testing.TB) *decFixture {
	t.Helper()
	f := &decFixture{root: logtest.Key("decision root"), dkey: logtest.Key("decision key"), dlog: logtest.NewLog(decisionOrigin)}
	f.env = logtest.NewEnv(f.root.Public().(ed25519.PublicKey), decNow)
	is, err := issue.NewIssuer(decConfig(f))
	if err != nil {
		t.Fatal(err)
	}
	f.is = is
	data, sig, err := is.Directory(decNow, 1)
	if err != nil {
		t.Fatal(err)
	}
	f.pub = token.Published{Directory: data, Signature: sig, Proof: f.env.Proof(data)}
	if f.dir, err = token.ParseDirectory(data); err != nil {
		t.Fatal(err)
	}
	if f.trust, err = token.ParseTrust(f.env.Policy()); err != nil {
		t.Fatal(err)
	}
	return f
}

// receipt returns a receipt of the fixture's directory for request and
// opening, with a nonce derived from label, signed by the decision key:
// deterministic, for vectors.
func (f *decFixture) receipt(label string, request []byte, o *token.Opening, outcome token.Outcome, reason uint16, evidence []byte) *token.Receipt {
	r := &token.Receipt{
		Epoch:         uint32(decNow.Unix()) / 86400 * 86400,
		Outcome:       outcome,
		Reason:        reason,
		Evidence:      evidence != nil,
		Serial:        f.dir.Serial,
		RequestSHA256: sha256.Sum256(request),
		Commitment:    o.Commitment(),
		Nonce:         sha256.Sum256([]byte("nonce " + label)),
		KeyID:         token.ComputeKeyID(f.dkey.Public().(ed25519.PublicKey)),
	}
	if evidence != nil {
		r.EvidenceSHA256 = sha256.Sum256(evidence)
	}
	f.sign(r)
	return r
}

func (f *decFixture) sign(r *token.Receipt) {
	r.Signature = ed25519.Sign(f.dkey, r.SignedMessage())
}

// log appends record to the decision log and returns its proof under a
// checkpoint cosigned by w1 and w2 at `at`.
func (f *decFixture) log(t testing.TB, record []byte, at time.Time) []byte {
	t.Helper()
	i := f.dlog.Tree.Size()
	if err := f.dlog.Tree.Append(record); err != nil {
		t.Fatal(err)
	}
	return f.dlog.Proof(i, f.checkpoint(at, 0, 1))
}

func (f *decFixture) checkpoint(at time.Time, ws ...int) []byte {
	c := f.dlog.Checkpoint()
	for _, w := range ws {
		c = logtest.Cosign(c, f.env.Witnesses[w].At(at))
	}
	return c
}

func marshal(t testing.TB, m interface{ MarshalBinary() ([]byte, error) }) []byte {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testOpening(label string) *token.Opening {
	return &token.Opening{Salt: sha256.Sum256([]byte("salt " + label)), Statement: []byte("Li Wei, ID 4101" + label)}
}
