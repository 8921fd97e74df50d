package issuehttp

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/token/tokenhttp"
)

// Retry-After of the decision answers.
const (
	// RecordRetry is the Retry-After when the RecordFunc failed.
	RecordRetry = 30 * time.Second
	// NotYetLoggedRetry is the Retry-After of a decision proof not yet
	// available, when the DecisionProofFunc gave no wait.
	NotYetLoggedRetry = 60 * time.Second
)

// ErrNotYetLogged is what a DecisionProofFunc returns (wrapped or not,
// or in a *RetryError that says how long to wait) for a record that is
// in no cosigned checkpoint of the decision log yet: 404 with
// Retry-After.
var ErrNotYetLogged = errors.New("issuehttp: decision record not yet logged")

// Outcome is what a DecideFunc decided about one token request.
type Outcome struct {
	// Status is the status granted, the one the request asks for, or 0
	// for a refusal.
	Status token.Status
	// Reason is a reason code of the published decision policy that
	// allows the outcome (and, if it requires evidence, only when
	// evidence was presented).
	Reason uint16
	// Message, optional, is added to a refusal's text for people. It
	// must not name the holder or quote its evidence.
	Message string
}

// A DecideFunc authenticates the holder of a token request under a
// directory with a decision policy and decides about the request, as an
// AuthorizeFunc does: credential is from "Authorization: Bearer", status
// is what the request asks for (the status of its key; the request has
// been read and checked, see issue.Issuer.RequestStatus), and evidence
// is what the holder presented (nil for none, else 1 to
// tokenhttp.MaxEvidenceSize bytes). It applies the holder's rate limit:
// each call is one request of the holder's.
//
// It returns the Outcome, which the Handler signs as a receipt
// (issue.Issuer.Decide), or an error, answered as an AuthorizeFunc's is
// (401, 429 or 503), with no receipt: no decision was taken. An Outcome
// that grants another status than status, or that the published policy
// does not allow, is the embedder's error: 500, logged, nothing signed.
// r is for its context and connection state; it must not read r.Body.
// It is called concurrently.
type DecideFunc func(r *http.Request, credential string, status token.Status, evidence []byte) (Outcome, error)

// A RecordFunc queues a decision record (token.DecisionRecord's bytes,
// from issue.Issuer.Decide) for the decision log, durably enough that
// the record will be in a cosigned checkpoint within the directory's
// decision_log_delay. The Handler sends the receipt only after it
// returned nil: an answer with a receipt always has its record on the
// way to the log. On an error the answer is 503 with Retry-After
// RecordRetry and no receipt (the error is logged), and the tokens signed
// for a grant are dropped. ctx is the request's. It is called
// concurrently.
type RecordFunc func(ctx context.Context, record []byte) error

// A DecisionProofFunc returns the c2sp.org/tlog-proof@v1 bundle of the
// decision record whose bytes have SHA-256 recordHash, under the newest
// checkpoint of the decision log cosigned by a quorum of the witnesses:
// 1 to token.MaxProofSize bytes. For a record not yet in such a
// checkpoint, and for one the issuer does not know (the Handler does not
// tell them apart), it returns an error wrapping ErrNotYetLogged. Any
// other error is answered 503 with Retry-After AuthorizeRetry and
// logged. It is called concurrently.
type DecisionProofFunc func(ctx context.Context, recordHash [32]byte) ([]byte, error)

// decisionToken answers a token request under a directory with a
// decision policy (token/SPEC.md, "Token request"): it checks the
// holder's commitment and evidence, reads and checks the request, lets
// the DecideFunc decide, signs the tokens of a grant, signs the receipt,
// queues the record, and answers 200 or 403 with the receipt.
func (h *Handler) decisionToken(w http.ResponseWriter, r *http.Request, p *publication, cred string) {
	commitment, ok := commitmentHeader(w, r)
	if !ok {
		return
	}
	evidence, ok := evidenceHeader(w, r)
	if !ok {
		return
	}
	if !b64token(cred) {
		h.refused(w, ErrUnknownCredential, "decide")
		return
	}
	if !h.acquire(r) {
		return
	}
	defer h.release()
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	now := h.now()
	status, err := h.is.RequestStatus(body, now)
	if h.respondFailed(w, err) {
		return
	}
	out, err := h.decide(r, cred, status, evidence)
	if h.refused(w, err, "decide") {
		return
	}
	var resp []byte
	if out.Status != 0 {
		if resp, err = h.is.Respond(body, now, out.Status); errors.Is(err, issue.ErrStatusNotAssigned) {
			h.log.Error("decide granted another status than the request asks for")
			fail(w, http.StatusInternalServerError, "internal error")
			return
		} else if h.respondFailed(w, err) {
			return
		}
	}
	receipt, record, err := h.is.Decide(issue.Decision{
		Request:    body,
		Commitment: commitment,
		Outcome:    token.Outcome(out.Status),
		Reason:     out.Reason,
		Evidence:   evidence,
		Serial:     p.dir.Serial,
	}, now)
	if err != nil {
		h.log.Error("signing the receipt failed", "error", err)
		fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	if err := h.record(r.Context(), record); err != nil {
		h.log.Error("queueing the decision record failed", "error", err)
		w.Header().Set("Retry-After", seconds(RecordRetry))
		fail(w, http.StatusServiceUnavailable, "cannot record the decision right now; try again later")
		return
	}
	w.Header().Set(tokenhttp.ReceiptHeader, base64Std(receipt))
	if out.Status != 0 {
		writeResponse(w, resp)
		return
	}
	text := "refused"
	if reason, ok := p.dir.Reason(out.Reason); ok {
		text = fmt.Sprintf("refused: %s (reason %d)", reason.Text, out.Reason)
	}
	if out.Message != "" {
		text += ": " + oneLine(out.Message)
	}
	fail(w, http.StatusForbidden, "%s", text)
}

// commitmentHeader returns the one CommitmentHeader's 32 bytes, or
// answers 400.
func commitmentHeader(w http.ResponseWriter, r *http.Request) ([32]byte, bool) {
	v := r.Header.Values(tokenhttp.CommitmentHeader)
	var c [32]byte
	if len(v) != 1 || len(v[0]) != base64.StdEncoding.EncodedLen(len(c)) {
		fail(w, http.StatusBadRequest, "send the holder commitment as one %s header: standard base64 of 32 bytes", tokenhttp.CommitmentHeader)
		return c, false
	}
	b, err := base64.StdEncoding.Strict().DecodeString(v[0])
	if err != nil || len(b) != len(c) {
		fail(w, http.StatusBadRequest, "%s is not standard base64 of 32 bytes", tokenhttp.CommitmentHeader)
		return c, false
	}
	return [32]byte(b), true
}

// evidenceHeader returns the evidence of the optional EvidenceHeader,
// nil when there is none, or answers 400 or 413.
func evidenceHeader(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	v := r.Header.Values(tokenhttp.EvidenceHeader)
	switch {
	case len(v) == 0:
		return nil, true
	case len(v) > 1 || v[0] == "":
		fail(w, http.StatusBadRequest, "send evidence as one %s header: standard base64 of 1 to %d bytes", tokenhttp.EvidenceHeader, tokenhttp.MaxEvidenceSize)
		return nil, false
	case len(v[0]) > base64.StdEncoding.EncodedLen(tokenhttp.MaxEvidenceSize):
		fail(w, http.StatusRequestEntityTooLarge, "evidence is larger than the limit of %d bytes", tokenhttp.MaxEvidenceSize)
		return nil, false
	}
	b, err := base64.StdEncoding.Strict().DecodeString(v[0])
	switch {
	case err != nil:
		fail(w, http.StatusBadRequest, "%s is not standard base64", tokenhttp.EvidenceHeader)
		return nil, false
	case len(b) > tokenhttp.MaxEvidenceSize:
		fail(w, http.StatusRequestEntityTooLarge, "evidence is larger than the limit of %d bytes", tokenhttp.MaxEvidenceSize)
		return nil, false
	}
	return b, true
}

// decisionProof serves the proof of one decision record, named by the
// 64 lower-case hex digits of its SHA-256.
func (h *Handler) decisionProof(w http.ResponseWriter, r *http.Request) {
	s := r.PathValue("hash")
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size || hex.EncodeToString(b) != s {
		fail(w, http.StatusBadRequest, "name the decision record by the 64 lower-case hex digits of its SHA-256")
		return
	}
	proof, err := h.dproof(r.Context(), [32]byte(b))
	switch {
	case errors.Is(err, ErrNotYetLogged):
		wait := NotYetLoggedRetry
		if re := (*RetryError)(nil); errors.As(err, &re) && re.After > 0 {
			wait = re.After
		}
		w.Header().Set("Retry-After", seconds(max(wait, time.Second)))
		fail(w, http.StatusNotFound, "the decision record is in no cosigned checkpoint of the decision log yet; try again later")
		return
	case err != nil:
		h.log.Error("decision proof failed", "error", err)
		w.Header().Set("Retry-After", seconds(AuthorizeRetry))
		fail(w, http.StatusServiceUnavailable, "cannot prove the decision right now; try again later")
		return
	case len(proof) == 0 || len(proof) > token.MaxProofSize:
		h.log.Error("decision proof of bad length", "bytes", len(proof))
		fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	w.Header().Set("Content-Type", tokenhttp.DecisionProofType)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", fmt.Sprint(len(proof)))
	w.Write(proof)
}
