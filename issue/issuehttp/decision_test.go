package issuehttp_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/statustoken/statustoken/holder"
	"github.com/statustoken/statustoken/internal/logtest"
	"github.com/statustoken/statustoken/internal/testkeys"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/issue/issuehttp"
	"github.com/statustoken/statustoken/issue/issuetest"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/token/tokenhttp"
)

// decisionLog is a decision log in memory behind the RecordFunc and the
// DecisionProofFunc of a decision env: records are proven once released.
type decisionLog struct {
	log *logtest.Log
	pub *issuetest.Publisher

	mu       sync.Mutex
	index    map[[32]byte]int64
	released bool
	fail     error // Record's error, when set
}

func (l *decisionLog) record(ctx context.Context, record []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return l.fail
	}
	if err := l.log.Tree.Append(record); err != nil {
		return err
	}
	l.index[sha256.Sum256(record)] = l.log.Tree.Size() - 1
	return nil
}

func (l *decisionLog) proof(ctx context.Context, hash [32]byte) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, ok := l.index[hash]
	if !ok || !l.released {
		return nil, &issuehttp.RetryError{Err: issuehttp.ErrNotYetLogged, After: 90 * time.Second}
	}
	c := l.log.Checkpoint()
	for _, w := range l.pub.Witnesses[:2] {
		sig, err := w.Cosign(c, testNow)
		if err != nil {
			return nil, err
		}
		c = append(c, sig...)
	}
	return l.log.Proof(i, c), nil
}

// decisionEnv is an issuer with a decision policy behind a Handler.
type decisionEnv struct {
	pub     *issuetest.Publisher
	dlog    *decisionLog
	srv     *httptest.Server
	client  *tokenhttp.Client
	decides atomic.Int64
}

const (
	reasonNegativeTest uint16 = 1
	reasonAdmin        uint16 = 2
)

var decisionReasons = []token.Reason{
	{Code: reasonNegativeTest, Text: "Negative test result", Outcomes: []token.Outcome{token.Outcome(green)}, EvidenceRequired: true},
	{Code: reasonAdmin, Text: "Administrative", Outcomes: []token.Outcome{token.Refused}},
}

// decide grants green to "alice-key" for her evidence, refuses
// "depositor-key" for an administrative reason, grants red to "bob-key"
// whatever he asks for (an embedder's mistake), and knows nobody else.
func decide(r *http.Request, cred string, status token.Status, evidence []byte) (issuehttp.Outcome, error) {
	switch cred {
	case "alice-key":
		if evidence == nil || status != green {
			return issuehttp.Outcome{Reason: reasonAdmin, Message: "green needs a negative test"}, nil
		}
		return issuehttp.Outcome{Status: green, Reason: reasonNegativeTest}, nil
	case "depositor-key":
		return issuehttp.Outcome{Reason: reasonAdmin, Message: "see the notice"}, nil
	case "bob-key":
		return issuehttp.Outcome{Status: red, Reason: reasonAdmin}, nil
	}
	return issuehttp.Outcome{}, issuehttp.ErrUnknownCredential
}

func newDecisionEnv(t *testing.T) *decisionEnv {
	t.Helper()
	store := issue.NewMemoryKeyStore()
	start := uint32(testNow.Unix()) / 86400 * 86400
	for j, st := range []token.Status{green, red} {
		if err := store.Put(issue.KeyRef{Status: st, NotBefore: start, EpochLength: 86400}, testkeys.RSA(j)); err != nil {
			t.Fatal(err)
		}
	}
	dl := &decisionLog{log: logtest.NewLog("example.org/health/decisions"), index: map[[32]byte]int64{}}
	p, err := issuetest.NewPublisher(issue.Config{
		EpochLength:      24 * time.Hour,
		Epochs:           1,
		Statuses:         []token.StatusName{{Code: green, Name: "green"}, {Code: red, Name: "red"}},
		Suites:           []token.Suite{token.RSABSSA},
		RSAKeys:          store,
		TokensPerRequest: 2,
		DecisionKey:      issuetest.Key("decision key"),
		Reasons:          decisionReasons,
		DecisionLogKey:   dl.log.VerifierKey(),
		DecisionLogDelay: time.Hour,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dl.pub = p
	e := &decisionEnv{pub: p, dlog: dl}
	h, err := issuehttp.NewHandler(issuehttp.Options{
		Issuer: p.Issuer,
		Decide: func(r *http.Request, cred string, status token.Status, evidence []byte) (issuehttp.Outcome, error) {
			e.decides.Add(1)
			return decide(r, cred, status, evidence)
		},
		Record:        dl.record,
		DecisionProof: dl.proof,
		Now:           func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	published, err := p.Publish(testNow, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Publish(published, testNow.Add(12*time.Hour)); err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	if e.client, err = tokenhttp.NewClient(e.srv.URL, nil); err != nil {
		t.Fatal(err)
	}
	return e
}

// wallet returns a holder of the directory fetched from the handler, a
// request of two tokens of status st and an opening.
func (e *decisionEnv) wallet(t *testing.T, st token.Status) (*holder.Holder, *holder.Pending, []byte, token.Opening) {
	t.Helper()
	p, err := e.client.FetchDirectory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w, err := holder.New(p, e.pub.Trust, &holder.Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	pending, req, err := w.Request(st, testNow, 2)
	if err != nil {
		t.Fatal(err)
	}
	o := token.Opening{Statement: []byte("Li Wei")}
	o.Salt[0] = byte(st)
	return w, pending, req, o
}

// post sends alice's token request with the headers h (name, value
// pairs) and returns the answer with its body read.
func (e *decisionEnv) post(t *testing.T, req []byte, h ...string) (*http.Response, []byte) {
	t.Helper()
	env := &env{srv: e.srv}
	return env.do(t, http.MethodPost, tokenhttp.TokenRequestPath, bytes.NewReader(req),
		append([]string{"Content-Type", tokenhttp.RequestType, "Authorization", "Bearer alice-key"}, h...)...)
}

func recordHash(t *testing.T, receipt []byte) [32]byte {
	t.Helper()
	r, err := token.ParseReceipt(receipt)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := token.RecordOf(r).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(rec)
}

// TestDecisionGrant: a grant is 200 with the tokens and a receipt the
// wallet accepts, whose record is queued for the log and, once logged,
// proven to the wallet.
func TestDecisionGrant(t *testing.T) {
	e := newDecisionEnv(t)
	ctx := context.Background()
	w, pending, req, o := e.wallet(t, green)
	d, err := e.client.RequestDecision(ctx, "alice-key", req, o.Commitment(), []byte("negative PCR, 2026-11-26"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Refusal != nil || d.Response == nil {
		t.Fatalf("decision %+v", d)
	}
	r, err := w.CheckReceipt(req, o.Commitment(), d.Receipt)
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != token.Outcome(green) || r.Reason != reasonNegativeTest || !r.Evidence ||
		r.EvidenceSHA256 != sha256.Sum256([]byte("negative PCR, 2026-11-26")) {
		t.Fatalf("receipt %+v", r)
	}
	if toks, err := w.Finalize(pending, d.Response); err != nil || len(toks) != 2 {
		t.Fatalf("Finalize: %d tokens, %v", len(toks), err)
	}

	// The proof: not yet logged, then logged.
	hash := recordHash(t, d.Receipt)
	_, err = e.client.FetchDecisionProof(ctx, hash)
	var se *tokenhttp.StatusError
	if !errors.Is(err, tokenhttp.ErrNotYetLogged) || !errors.As(err, &se) || se.Code != http.StatusNotFound || se.RetryAfter != 90*time.Second {
		t.Fatalf("proof before logging: %v", err)
	}
	e.dlog.mu.Lock()
	e.dlog.released = true
	e.dlog.mu.Unlock()
	proof, err := e.client.FetchDecisionProof(ctx, hash)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.CheckDecisionProof(d.Receipt, proof, w.Published()); err != nil {
		t.Fatalf("the proof served does not hold: %v", err)
	}
	// A record the log does not hold is not yet logged either.
	hash[0] ^= 1
	if _, err := e.client.FetchDecisionProof(ctx, hash); !errors.Is(err, tokenhttp.ErrNotYetLogged) {
		t.Fatalf("unknown record: %v", err)
	}
}

// TestDecisionRefusal: a refusal is 403 with a receipt the wallet
// accepts, and an appeal bundle of it checks.
func TestDecisionRefusal(t *testing.T) {
	e := newDecisionEnv(t)
	w, _, req, o := e.wallet(t, green)
	d, err := e.client.RequestDecision(context.Background(), "depositor-key", req, o.Commitment(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Refusal == nil || d.Response != nil || d.Refusal.Code != http.StatusForbidden || !errors.Is(d.Refusal, tokenhttp.ErrForbidden) ||
		d.Refusal.Message != "refused: Administrative (reason 2): see the notice" {
		t.Fatalf("decision %+v (%v)", d, d.Refusal)
	}
	r, err := w.CheckReceipt(req, o.Commitment(), d.Receipt)
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != token.Refused || r.Reason != reasonAdmin || r.Evidence {
		t.Fatalf("receipt %+v", r)
	}
	// Not logged yet: the bundle shows the receipt, and the record
	// missing.
	bundle, err := w.Appeal(d.Receipt, nil, w.Published(), o)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := token.CheckAppeal(bundle, e.pub.Trust); !errors.Is(err, token.ErrDecisionNotLogged) || f.OutcomeName != "refused" {
		t.Fatalf("appeal without a proof: %v", err)
	}
	e.dlog.mu.Lock()
	e.dlog.released = true
	e.dlog.mu.Unlock()
	proof, err := e.client.FetchDecisionProof(context.Background(), recordHash(t, d.Receipt))
	if err != nil {
		t.Fatal(err)
	}
	if bundle, err = w.Appeal(d.Receipt, proof, w.Published(), o); err != nil {
		t.Fatal(err)
	}
	if f, err := token.CheckAppeal(bundle, e.pub.Trust); err != nil || f.ReasonText != "Administrative" {
		t.Fatalf("appeal: %v", err)
	}
}

// TestDecisionNoReceipt: the answers that carry no decision carry no
// receipt, and the DecideFunc is not asked about a request that cannot
// be decided.
func TestDecisionNoReceipt(t *testing.T) {
	e := newDecisionEnv(t)
	_, _, req, o := e.wallet(t, green)
	c := o.Commitment()
	commitment := base64.StdEncoding.EncodeToString(c[:])
	long := base64.StdEncoding.EncodeToString(make([]byte, tokenhttp.MaxEvidenceSize+1))
	longer := base64.StdEncoding.EncodeToString(make([]byte, tokenhttp.MaxEvidenceSize+3))
	for _, tc := range []struct {
		name, cred string
		req        []byte
		h          []string
		code       int
		decided    bool
	}{
		{"no-commitment", "alice-key", req, nil, http.StatusBadRequest, false},
		{"commitment-short", "alice-key", req, []string{tokenhttp.CommitmentHeader, base64.StdEncoding.EncodeToString(c[:31])}, http.StatusBadRequest, false},
		{"commitment-not-base64", "alice-key", req, []string{tokenhttp.CommitmentHeader, strings.Repeat("*", 44)}, http.StatusBadRequest, false},
		{"commitment-unpadded", "alice-key", req, []string{tokenhttp.CommitmentHeader, base64.RawStdEncoding.EncodeToString(c[:])}, http.StatusBadRequest, false},
		{"commitment-twice", "alice-key", req, []string{tokenhttp.CommitmentHeader, commitment, tokenhttp.CommitmentHeader, commitment}, http.StatusBadRequest, false},
		{"evidence-empty", "alice-key", req, []string{tokenhttp.CommitmentHeader, commitment, tokenhttp.EvidenceHeader, ""}, http.StatusBadRequest, false},
		{"evidence-not-base64", "alice-key", req, []string{tokenhttp.CommitmentHeader, commitment, tokenhttp.EvidenceHeader, "a"}, http.StatusBadRequest, false},
		{"evidence-too-long", "alice-key", req, []string{tokenhttp.CommitmentHeader, commitment, tokenhttp.EvidenceHeader, long}, http.StatusRequestEntityTooLarge, false},
		{"evidence-much-too-long", "alice-key", req, []string{tokenhttp.CommitmentHeader, commitment, tokenhttp.EvidenceHeader, longer}, http.StatusRequestEntityTooLarge, false},
		{"request-malformed", "alice-key", req[:len(req)-1], []string{tokenhttp.CommitmentHeader, commitment}, http.StatusBadRequest, false},
		{"credential-not-b64token", "alice key", req, []string{tokenhttp.CommitmentHeader, commitment}, http.StatusUnauthorized, false},
		{"unknown-credential", "mallory-key", req, []string{tokenhttp.CommitmentHeader, commitment}, http.StatusUnauthorized, true},
		{"grant-of-another-status", "bob-key", req, []string{tokenhttp.CommitmentHeader, commitment}, http.StatusInternalServerError, true},
	} {
		before := e.decides.Load()
		resp, _ := (&env{srv: e.srv}).do(t, http.MethodPost, tokenhttp.TokenRequestPath, bytes.NewReader(tc.req),
			append([]string{"Content-Type", tokenhttp.RequestType, "Authorization", "Bearer " + tc.cred}, tc.h...)...)
		if resp.StatusCode != tc.code || resp.Header.Get(tokenhttp.ReceiptHeader) != "" {
			t.Errorf("%s: %d, receipt %q", tc.name, resp.StatusCode, resp.Header.Get(tokenhttp.ReceiptHeader))
		}
		if decided := e.decides.Load() != before; decided != tc.decided {
			t.Errorf("%s: DecideFunc asked: %v", tc.name, decided)
		}
	}
	// The client: RequestTokens sends no commitment; evidence too long
	// is refused before sending.
	if _, err := e.client.RequestTokens(context.Background(), "alice-key", req); !errors.Is(err, tokenhttp.ErrBadRequest) {
		t.Errorf("without a commitment: %v", err)
	}
	before := e.decides.Load()
	if _, err := e.client.RequestDecision(context.Background(), "alice-key", req, c, make([]byte, tokenhttp.MaxEvidenceSize+1)); !errors.Is(err, tokenhttp.ErrBadRequest) {
		t.Errorf("evidence too long: %v", err)
	}
	if e.decides.Load() != before {
		t.Error("evidence too long was sent")
	}
	// Nothing was recorded for any of them.
	if n := e.dlog.log.Tree.Size(); n != 0 {
		t.Errorf("%d records queued", n)
	}
}

// TestDecisionRecordFails: when the record cannot be queued, the answer
// is 503 without a receipt, and no tokens.
func TestDecisionRecordFails(t *testing.T) {
	e := newDecisionEnv(t)
	e.dlog.fail = errors.New("queue full")
	_, _, req, o := e.wallet(t, green)
	_, err := e.client.RequestDecision(context.Background(), "alice-key", req, o.Commitment(), []byte("negative PCR"))
	var se *tokenhttp.StatusError
	if !errors.Is(err, tokenhttp.ErrUnavailable) || !errors.As(err, &se) || se.RetryAfter != issuehttp.RecordRetry {
		t.Fatalf("record failing: %v", err)
	}
	c := o.Commitment()
	resp, body := e.post(t, req, tokenhttp.CommitmentHeader, base64.StdEncoding.EncodeToString(c[:]),
		tokenhttp.EvidenceHeader, base64.StdEncoding.EncodeToString([]byte("negative PCR")))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get(tokenhttp.ReceiptHeader) != "" ||
		resp.Header.Get("Content-Type") != tokenhttp.ErrorType || bytes.Contains(body, []byte("queue full")) {
		t.Fatalf("record failing: %d %q, receipt %q", resp.StatusCode, body, resp.Header.Get(tokenhttp.ReceiptHeader))
	}
	// Refusals too.
	if _, err := e.client.RequestDecision(context.Background(), "depositor-key", req, c, nil); !errors.Is(err, tokenhttp.ErrUnavailable) {
		t.Fatalf("refusal with the record failing: %v", err)
	}
}

// TestDecisionProofPath: the record is named by exactly 64 lower-case
// hex digits; other failures of the DecisionProofFunc are 503.
func TestDecisionProofPath(t *testing.T) {
	e := newDecisionEnv(t)
	good := strings.Repeat("ab", 32)
	for _, name := range []string{strings.ToUpper(good), good[:62], good + "ab", strings.Repeat("zz", 32), good[:63] + "%20"} {
		resp, _ := (&env{srv: e.srv}).do(t, http.MethodGet, tokenhttp.DecisionProofPath+name, nil)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%q: %d, want 400", name, resp.StatusCode)
		}
	}
	resp, _ := (&env{srv: e.srv}).do(t, http.MethodGet, tokenhttp.DecisionProofPath+good, nil)
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Retry-After") != "90" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("not logged: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	// A DecisionProofFunc that fails, or says not logged without a wait.
	for _, c := range []struct {
		err   error
		code  int
		retry string
	}{
		{errors.New("disk on fire"), http.StatusServiceUnavailable, "30"},
		{issuehttp.ErrNotYetLogged, http.StatusNotFound, "60"},
	} {
		h, err := issuehttp.NewHandler(issuehttp.Options{
			Issuer: e.pub.Issuer, Decide: decide, Record: e.dlog.record,
			DecisionProof: func(context.Context, [32]byte) ([]byte, error) { return nil, c.err },
		})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tokenhttp.DecisionProofPath+good, nil))
		if rec.Code != c.code || rec.Header().Get("Retry-After") != c.retry || strings.Contains(rec.Body.String(), "fire") {
			t.Errorf("%v: %d, Retry-After %q, %q", c.err, rec.Code, rec.Header().Get("Retry-After"), rec.Body)
		}
	}
}

// TestDecisionOptions: the handler needs Decide and Record together, and
// serves a directory only with the functions it needs.
func TestDecisionOptions(t *testing.T) {
	e := newDecisionEnv(t)
	record := func(context.Context, []byte) error { return nil }
	for name, o := range map[string]issuehttp.Options{
		"decide-without-record": {Issuer: e.pub.Issuer, Decide: decide},
		"record-without-decide": {Issuer: e.pub.Issuer, Record: record, Authorize: func(*http.Request, string) (token.Status, error) { return green, nil }},
		"nothing":               {Issuer: e.pub.Issuer},
	} {
		if _, err := issuehttp.NewHandler(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	published, err := e.pub.Publish(testNow, 2)
	if err != nil {
		t.Fatal(err)
	}
	h, err := issuehttp.NewHandler(issuehttp.Options{Issuer: e.pub.Issuer, Authorize: func(*http.Request, string) (token.Status, error) { return green, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Publish(published, testNow); !errors.Is(err, issuehttp.ErrPublication) {
		t.Errorf("a decision policy without Decide: %v", err)
	}
	// Before its first publication, a handler that may decide issues
	// nothing: it cannot know whether the answer needs a receipt.
	var asked atomic.Int64
	h, err = issuehttp.NewHandler(issuehttp.Options{
		Issuer:    e.pub.Issuer,
		Authorize: func(*http.Request, string) (token.Status, error) { asked.Add(1); return green, nil },
		Decide: func(r *http.Request, c string, s token.Status, ev []byte) (issuehttp.Outcome, error) {
			asked.Add(1)
			return decide(r, c, s, ev)
		},
		Record: record,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	_, _, req, o := e.wallet(t, green)
	c := o.Commitment()
	resp, _ := (&env{srv: srv}).do(t, http.MethodPost, tokenhttp.TokenRequestPath, bytes.NewReader(req), "Content-Type", tokenhttp.RequestType,
		"Authorization", "Bearer alice-key", tokenhttp.CommitmentHeader, base64.StdEncoding.EncodeToString(c[:]))
	if resp.StatusCode != http.StatusServiceUnavailable || asked.Load() != 0 {
		t.Errorf("before publication: %d, asked %d times", resp.StatusCode, asked.Load())
	}
	plain := newEnv(t)
	h, err = issuehttp.NewHandler(issuehttp.Options{Issuer: plain.pub.Issuer, Decide: decide, Record: record})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Publish(plain.published, testNow); !errors.Is(err, issuehttp.ErrPublication) {
		t.Errorf("no decision policy without Authorize: %v", err)
	}
}
