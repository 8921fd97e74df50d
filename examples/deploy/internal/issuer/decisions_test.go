package issuer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/logstore"
	"github.com/statustoken/statustoken/holder"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/token/tokenhttp"
)

// ask sends a token request for status with the holder's commitment
// and evidence (none when nil), and returns the answer and its receipt
// header, decoded.
func (f *fixture) ask(h *holder.Holder, apiKey string, status token.Status, n int, evidence []byte) (int, string, []byte, []byte) {
	f.t.Helper()
	_, body, err := h.Request(status, time.Now(), n)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.askRaw(apiKey, body, evidence)
}

func (f *fixture) askRaw(apiKey string, body, evidence []byte) (int, string, []byte, []byte) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.http.URL+tokenPath, bytes.NewReader(body))
	req.Header.Set("Content-Type", tokenhttp.RequestType)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set(commitmentHeader, base64.StdEncoding.EncodeToString(testCommitment[:]))
	if evidence != nil {
		req.Header.Set(evidenceHeader, base64.StdEncoding.EncodeToString(evidence))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	answer := readAll(f.t, resp)
	var receipt []byte
	if v := resp.Header.Get(receiptHeader); v != "" {
		if receipt, err = base64.StdEncoding.DecodeString(v); err != nil {
			f.t.Fatalf("receipt header: %v", err)
		}
	}
	return resp.StatusCode, string(answer), receipt, body
}

// addHolder adds a holder with decision to the holders file and reloads
// it.
func (f *fixture) addHolder(decision string) string {
	f.t.Helper()
	key, err := AddHolder(f.cfg.HoldersPath(), decision, testStatuses, f.srv.cfg.Reasons)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.srv.ReloadHolders(); err != nil {
		f.t.Fatal(err)
	}
	return key
}

// run runs the service's background work for the rest of the test.
func (f *fixture) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		f.srv.Run(ctx)
		close(done)
	}()
	f.t.Cleanup(func() {
		cancel()
		<-done
	})
}

// TestRefusalReceipt: a holder the attester refuses ("refused:4", the
// Henan depositors' "administrative") gets a 403 with a receipt the
// wallet accepts; its record is in a cosigned checkpoint of the decision
// log within the published delay, with a proof the wallet accepts, and
// the proof path answers 404 with Retry-After before that.
func TestRefusalReceipt(t *testing.T) {
	f := newFixture(t, 10)
	depositor := f.addHolder("refused:4")
	h := f.holder()
	code, body, receipt, req := f.ask(h, depositor, 1, 2, nil)
	if code != http.StatusForbidden || !strings.Contains(body, "administrative") {
		t.Fatalf("a depositor's request: %d %q", code, body)
	}
	r, err := h.CheckReceipt(req, testCommitment, receipt)
	if err != nil {
		t.Fatalf("the refusal's receipt: %v", err)
	}
	if r.Outcome != token.Refused || r.Reason != 4 || r.Evidence {
		t.Fatalf("receipt: outcome %d, reason %d, evidence %v", r.Outcome, r.Reason, r.Evidence)
	}
	rec, _ := token.RecordOf(r).MarshalBinary()
	sum := sha256.Sum256(rec)
	path := decisionProofs + hex.EncodeToString(sum[:])
	resp := f.get(path)
	readAll(t, resp)
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("proof before the batch: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	f.run()
	deadline := time.Now().Add(f.cfg.DecisionLogDelay)
	var proof []byte
	for {
		resp := f.get(path)
		b := readAll(t, resp)
		if resp.StatusCode == http.StatusOK {
			proof = b
			break
		}
		if resp.StatusCode != http.StatusNotFound || time.Now().After(deadline) {
			t.Fatalf("proof: %d %q after %v", resp.StatusCode, b, f.cfg.DecisionLogDelay)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cp, err := h.CheckDecisionProof(receipt, proof, f.published())
	if err != nil {
		t.Fatalf("the decision proof: %v", err)
	}
	if cp.Size() < 1 || cp.Origin() != testOrigin+DecisionsSuffix {
		t.Fatalf("checkpoint of %s, %d records", cp.Origin(), cp.Size())
	}
	// Another receipt's proof is refused: the proof is for this record.
	other := bytes.Clone(receipt)
	other[len(other)-65] ^= 1
	if _, err := h.CheckDecisionProof(other, proof, f.published()); err == nil {
		t.Fatal("a changed receipt passed with the proof")
	}
	// The decision log's checkpoint and tiles are served.
	if resp := f.get(decisionCheckpoint); resp.StatusCode != 200 || !strings.HasPrefix(string(readAll(t, resp)), testOrigin+DecisionsSuffix+"\n") {
		t.Fatalf("decision checkpoint: %d", resp.StatusCode)
	}
	if resp := f.get(decisionTiles + "entries/000.p/1"); resp.StatusCode != 200 || !bytes.Contains(readAll(t, resp), rec) {
		t.Fatalf("decision entries: %d", resp.StatusCode)
	}
	for bad, want := range map[string]int{"00": 400, strings.Repeat("AB", 32): 400, strings.Repeat("0", 64): 404} {
		if resp := f.get(decisionProofs + bad); resp.StatusCode != want {
			t.Fatalf("proof of %q: %d, want %d", bad, resp.StatusCode, want)
		}
	}
}

// TestGrantReceipt: a grant carries a receipt of its status, with the
// evidence flag and digest when the holder presented evidence; a
// request for another status than the holder's is refused with a
// receipt; one of another token count, or without a commitment, gets a
// 400 and no receipt.
func TestGrantReceipt(t *testing.T) {
	f := newFixture(t, 10)
	h := f.holder()
	code, _, receipt, req := f.ask(h, f.greenKey, 1, 2, nil)
	r, err := h.CheckReceipt(req, testCommitment, receipt)
	if code != http.StatusOK || err != nil || r.Outcome != 1 || r.Reason != 1 || r.Evidence {
		t.Fatalf("green: %d, %v, %+v", code, err, r)
	}
	evidence := []byte("lab report 12345: negative")
	code, _, receipt, req = f.ask(h, f.greenKey, 1, 2, evidence)
	r, err = h.CheckReceipt(req, testCommitment, receipt)
	if code != http.StatusOK || err != nil || !r.Evidence || r.EvidenceSHA256 != sha256.Sum256(evidence) {
		t.Fatalf("green with evidence: %d, %v, %+v", code, err, r)
	}
	code, body, receipt, req := f.ask(h, f.redKey, 1, 2, nil)
	r, err = h.CheckReceipt(req, testCommitment, receipt)
	if code != http.StatusForbidden || err != nil || r.Outcome != token.Refused || r.Reason != 2 || !strings.Contains(body, "not the one assigned") {
		t.Fatalf("red asking green, refused for its positive test result: %d %q, %v, %+v", code, body, err, r)
	}

	// Another token count: 400, no decision.
	_, two, err := h.Request(1, time.Now(), 2)
	if err != nil {
		t.Fatal(err)
	}
	three := tokenCount(t, two, 3)
	code, body, receipt, _ = f.askRaw(f.greenKey, three, nil)
	if code != http.StatusBadRequest || receipt != nil {
		t.Fatalf("three tokens: %d %q, receipt %v", code, body, receipt != nil)
	}
	// No commitment: 400, no receipt.
	hr, _ := http.NewRequest(http.MethodPost, f.http.URL+tokenPath, bytes.NewReader(two))
	hr.Header.Set("Content-Type", tokenhttp.RequestType)
	hr.Header.Set("Authorization", "Bearer "+f.greenKey)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get(receiptHeader) != "" || !strings.Contains(string(b), commitmentHeader) {
		t.Fatalf("no commitment: %d %q", resp.StatusCode, b)
	}
	// Evidence too large: 400, no receipt.
	code, _, receipt, _ = f.askRaw(f.greenKey, two, bytes.Repeat([]byte{1}, tokenhttp.MaxEvidenceSize+1))
	if code != http.StatusRequestEntityTooLarge || receipt != nil {
		t.Fatalf("evidence too large: %d", code)
	}
}

// tokenCount rewrites a blind request (token/SPEC.md: version, key_id[8],
// count, count elements of 256 bytes) into one of n elements, by
// repeating its first: the same key, another count.
func tokenCount(t *testing.T, req []byte, n int) []byte {
	t.Helper()
	const header, element = 1 + 8 + 1, 256
	if len(req) < header+element || (len(req)-header)%element != 0 {
		t.Fatalf("a request of %d bytes", len(req))
	}
	out := append(bytes.Clone(req[:header-1]), byte(n))
	for range n {
		out = append(out, req[header:header+element]...)
	}
	return out
}

// TestEvidenceRequired: under a policy whose grants require evidence, a
// holder without evidence is refused for the policy's first reason to
// refuse, and with evidence granted.
func TestEvidenceRequired(t *testing.T) {
	reasons, err := ParseReasons([]byte("1 green evidence negative test result\n2 red evidence positive test result\n3 refused - no test on record\n4 refused - administrative\n"), testStatuses)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.Reasons = reasons
	setupWitnesses(t, cfg)
	key, err := AddHolder(cfg.HoldersPath(), "green", testStatuses, reasons)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, cfg: cfg, log: &syncBuffer{}}
	f.srv = startService(t, cfg, quiet, time.Now)
	f.http = httptest.NewServer(f.srv.Handler())
	t.Cleanup(f.http.Close)
	h := f.holder()
	code, body, receipt, req := f.ask(h, key, 1, 2, nil)
	r, err := h.CheckReceipt(req, testCommitment, receipt)
	if code != http.StatusForbidden || err != nil || r.Outcome != token.Refused || r.Reason != 3 || !strings.Contains(body, "requires evidence") {
		t.Fatalf("no evidence: %d %q %v %+v", code, body, err, r)
	}
	code, _, receipt, req = f.ask(h, key, 1, 2, []byte("test 42"))
	if r, err = h.CheckReceipt(req, testCommitment, receipt); code != http.StatusOK || err != nil || r.Reason != 1 || !r.Evidence {
		t.Fatalf("with evidence: %d %v %+v", code, err, r)
	}
}

// logEntries returns the decision log's records, in the log's order.
func logEntries(t *testing.T, s *Service) [][]byte {
	t.Helper()
	var out [][]byte
	for i := range s.dec.store.Size() {
		e, err := s.dec.store.Log().Entry(context.Background(), i)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func testRecords(n int, tag string) [][]byte {
	var out [][]byte
	for i := range n {
		rec := token.DecisionRecord{Epoch: 0, Outcome: token.Refused, Reason: 4, Commitment: sha256.Sum256(fmt.Appendf(nil, "%s %d", tag, i))}
		b, _ := rec.MarshalBinary()
		out = append(out, b)
	}
	return out
}

// TestDecisionBatchShuffled: the records queued between two rounds go
// into the log in an order drawn at random, each once.
func TestDecisionBatchShuffled(t *testing.T) {
	f := newFixture(t, 10)
	recs := testRecords(64, "shuffle")
	for _, r := range recs {
		if err := f.srv.dec.enqueue(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.srv.dec.round(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	got := logEntries(t, f.srv)
	if len(got) != len(recs) {
		t.Fatalf("%d records in the log, want %d", len(got), len(recs))
	}
	if slices.EqualFunc(got, recs, bytes.Equal) {
		t.Fatal("the batch went into the log in the order it arrived")
	}
	sortBytes := func(l [][]byte) [][]byte {
		l = slices.Clone(l)
		slices.SortFunc(l, bytes.Compare)
		return l
	}
	if !slices.EqualFunc(sortBytes(got), sortBytes(recs), bytes.Equal) {
		t.Fatal("the log does not hold the batch's records")
	}
}

// TestDecisionQueueSurvivesRestart: records queued before a stop, and a
// batch cut off halfway into the log, are logged after the restart,
// each exactly once.
func TestDecisionQueueSurvivesRestart(t *testing.T) {
	f := newFixture(t, 10)
	first := testRecords(10, "batch")
	// A batch moved out of the queue, half of it appended, then a stop.
	base := f.srv.dec.store.Size()
	data := []byte{0, 0, 0, 0, 0, 0, 0, byte(base)}
	for _, r := range first {
		data = append(data, r...)
	}
	if err := os.WriteFile(filepath.Join(f.cfg.StateDir, logstore.Decisions, batchFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	idx, err := f.srv.dec.store.Log().Append(context.Background(), first[:5])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.srv.dec.store.Log().AwaitCheckpoint(context.Background(), slices.Max(idx)+1); err != nil {
		t.Fatal(err)
	}
	// Records queued (and so answered) but not in a batch yet.
	queued := testRecords(7, "queued")
	for _, r := range queued {
		if err := f.srv.dec.enqueue(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.srv.Close(); err != nil {
		t.Fatal(err)
	}

	s := startService(t, f.cfg, quiet, time.Now)
	if err := s.dec.round(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	got := logEntries(t, s)
	want := append(slices.Clone(first), queued...)
	if len(got) != len(want) {
		t.Fatalf("%d records in the log after the restart, want %d", len(got), len(want))
	}
	for _, w := range want {
		if n := slices.IndexFunc(got, func(g []byte) bool { return bytes.Equal(g, w) }); n < 0 {
			t.Fatalf("record %x lost", w[:12])
		}
	}
	if _, err := os.Stat(filepath.Join(f.cfg.StateDir, logstore.Decisions, batchFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("batch file left: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(f.cfg.StateDir, logstore.Decisions, queueFile)); err != nil || fi.Size() != 0 {
		t.Fatalf("queue file: %v", err)
	}
}

// TestDecisionKeyMissing: a start whose decision key is not the one the
// published directory lists is refused, with what to restore, changing
// nothing.
func TestDecisionKeyMissing(t *testing.T) {
	f := newFixture(t, 10)
	f.srv.Close()
	name := filepath.Join(f.cfg.StateDir, decisionFile)
	if err := os.Rename(name, filepath.Join(t.TempDir(), "decision.key")); err != nil {
		t.Fatal(err)
	}
	refused(t, f.cfg, ErrKeyMissing, "was missing, and a new one is not the decision key", "Restore "+name)
}

// validRequest fetches the directory the service at url serves and
// returns a blind request for status under it, of the directory's token
// count, as a wallet that pinned the state's trust policy makes it.
func validRequest(t *testing.T, url, stateDir string, status token.Status) []byte {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(stateDir, trustFile))
	if err != nil {
		t.Fatal(err)
	}
	trust, err := token.ParseTrust(text)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tokenhttp.NewClient(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.FetchDirectory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h, err := holder.New(p, trust, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := token.ParseDirectory(p.Directory)
	_, req, err := h.Request(status, time.Now(), d.TokensPerRequest)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// postRequest posts a token request with the API key and the holder's
// commitment to h, and returns the answer.
func postRequest(h http.Handler, key string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, tokenPath, bytes.NewReader(body))
	req.Header.Set("Content-Type", tokenhttp.RequestType)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set(commitmentHeader, base64.StdEncoding.EncodeToString(testCommitment[:]))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
