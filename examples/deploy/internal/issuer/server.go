package issuer

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/directory"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

const (
	directoryPath   = directory.Path
	signaturePath   = directory.SignaturePath
	tokenPath       = directory.TokenRequestPath
	signatureHeader = directory.SignatureHeader
	proofPath       = directory.ProofPath
	proofHeader     = directory.ProofHeader
	checkpointPath  = directory.CheckpointPath
	tilePrefix      = directory.TilePrefix
	archivePrefix   = directory.ArchivePrefix
	logPrefix       = directory.LogPrefix
	healthPath      = "/healthz"

	// The decision log (token/SPEC.md, "Decisions"), beside /log/.
	decisionsPrefix    = "/decisions/"
	decisionCheckpoint = decisionsPrefix + "checkpoint"
	decisionTiles      = decisionsPrefix + "tile/"
	decisionProofs     = decisionsPrefix + "proof/"

	// Headers of a token request and its answer under a decision
	// policy.
	commitmentHeader = "Statustoken-Commitment"
	evidenceHeader   = "Statustoken-Evidence"
	receiptHeader    = "Statustoken-Receipt"
	// maxEvidence bounds the evidence a holder presents, decoded.
	maxEvidence = 2048

	// directoryMaxAge caps how long clients may cache the directory, so
	// that a withdrawn key disappears from them soon.
	directoryMaxAge = 5 * time.Minute
)

// Handler returns the service's HTTP handler: the directory, its
// signature and proof, the log, the token requests and /healthz. The
// directory paths and the log answer cross-origin requests (CORS), so that
// a web scanner on another origin can fetch them; the token-request path
// never does.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	public := func(pattern string, h http.HandlerFunc) {
		mux.Handle("GET "+pattern, crossOrigin(h))
	}
	public(directoryPath, s.directory)
	public(signaturePath, s.signature)
	public(proofPath, s.proof)
	public(checkpointPath, s.checkpoint)
	public(tilePrefix+"{path...}", s.tile)
	public(archivePrefix+"{name}", s.archive)
	public(decisionCheckpoint, s.decisionCheckpoint)
	public(decisionTiles+"{path...}", s.decisionTile)
	public(decisionProofs+"{hash}", s.decisionProof)
	for _, p := range preflightPaths {
		mux.HandleFunc("OPTIONS "+p, preflight)
	}
	mux.HandleFunc("POST "+tokenPath, s.token)
	mux.HandleFunc("GET "+healthPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, "ok\n")
	})
	return s.logged(mux)
}

// preflightPaths are the patterns that answer CORS preflight requests:
// the directory's three paths and the whole log.
var preflightPaths = []string{directoryPath, signaturePath, proofPath, logPrefix + "/", decisionsPrefix}

// exposedHeaders are the response headers a cross-origin page may read
// besides the CORS-safelisted ones.
const exposedHeaders = signatureHeader + ", " + proofHeader

// crossOrigin lets pages of any origin read h's responses, errors
// included. Everything under it is public and signed, and read without
// credentials: "*" exposes nothing a page could not fetch from anywhere.
func crossOrigin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Expose-Headers", exposedHeaders)
		h.ServeHTTP(w, r)
	})
}

// preflight answers a CORS preflight request for the public paths: GET
// and HEAD, with the conditional request header the directory honours.
func preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, HEAD")
	h.Set("Access-Control-Allow-Headers", "If-None-Match")
	h.Set("Access-Control-Expose-Headers", exposedHeaders)
	h.Set("Access-Control-Max-Age", "86400")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) cacheHeaders(w http.ResponseWriter, p *published) {
	age := min(directoryMaxAge, p.next.Sub(s.now()))
	w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", max(0, int(age/time.Second))))
	w.Header().Set("ETag", p.etag)
}

// served returns the directory served, or answers 503 when no directory
// has been cosigned yet.
func (s *Service) served(w http.ResponseWriter) *published {
	p := s.pub.current()
	if p == nil {
		w.Header().Set("Retry-After", "60")
		fail(w, http.StatusServiceUnavailable, "no directory published yet: waiting for a quorum of the witnesses to cosign the log; try again later")
	}
	return p
}

// directory serves the signed directory's exact bytes, with the signature
// and the log proof in headers.
func (s *Service) directory(w http.ResponseWriter, r *http.Request) {
	p := s.served(w)
	if p == nil {
		return
	}
	s.cacheHeaders(w, p)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(signatureHeader, base64.StdEncoding.EncodeToString(p.sig))
	w.Header().Set(proofHeader, base64.StdEncoding.EncodeToString(p.proof))
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(p.data))
}

// signature serves the detached 64-byte signature of the directory with
// the same ETag.
func (s *Service) signature(w http.ResponseWriter, r *http.Request) {
	p := s.served(w)
	if p == nil {
		return
	}
	s.cacheHeaders(w, p)
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(p.sig))
}

// proof serves the directory's log proof (c2sp.org/tlog-proof@v1) with
// the same ETag.
func (s *Service) proof(w http.ResponseWriter, r *http.Request) {
	p := s.served(w)
	if p == nil {
		return
	}
	s.cacheHeaders(w, p)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(p.proof))
}

// Cache lifetimes of the log (c2sp.org/tlog-tiles): a full tile never
// changes; a partial tile is replaced by a wider one as the log grows;
// the checkpoint changes with every cosigning.
const (
	immutable      = "public, max-age=31536000, immutable"
	partialTileAge = "public, max-age=60"
	checkpointAge  = "public, max-age=10"
)

// checkpoint serves the latest checkpoint that a quorum cosigned.
func (s *Service) checkpoint(w http.ResponseWriter, r *http.Request) {
	p := s.served(w)
	if p == nil {
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", checkpointAge)
	w.Write(p.checkpoint)
}

// tile serves a tile of the log: /log/tile/<L>/<N>[.p/<W>] and
// /log/tile/entries/<N>[.p/<W>].
func (s *Service) tile(w http.ResponseWriter, r *http.Request) {
	path := r.PathValue("path")
	data, err := s.pub.logs.Log().Tile("tile/" + path)
	if err != nil {
		fail(w, http.StatusNotFound, "no such tile in the log")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if strings.Contains(path, ".p/") {
		w.Header().Set("Cache-Control", partialTileAge)
	} else {
		w.Header().Set("Cache-Control", immutable)
	}
	w.Write(data)
}

// archive serves a logged directory version: /log/directory/<serial>,
// its exact bytes, and /log/directory/<serial>.sig, its signature. They
// let monitors check every record of the log against the directory it
// names.
func (s *Service) archive(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	text, isSig := strings.CutSuffix(name, ".sig")
	serial, err := strconv.ParseUint(text, 10, 64)
	if err != nil || strconv.FormatUint(serial, 10) != text {
		fail(w, http.StatusNotFound, "not a directory serial: want /log/directory/<serial> or <serial>.sig")
		return
	}
	data, sig, err := s.pub.logs.Archived(serial)
	if err != nil {
		fail(w, http.StatusNotFound, "no directory with serial %d in the log", serial)
		return
	}
	w.Header().Set("Cache-Control", immutable)
	if isSig {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(sig)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(data)
}

// token answers a blind token request: it authenticates the holder with
// the attester, applies the holder's rate limit, reads the body (at most
// issue.MaxRequestSize bytes) and lets the issuer sign it for the status the
// attester assigned.
func (s *Service) token(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > issue.MaxRequestSize {
		fail(w, http.StatusRequestEntityTooLarge, "request body of %s is larger than the limit of %s",
			plural(int(min(r.ContentLength, math.MaxInt32)), "byte", "bytes"), plural(issue.MaxRequestSize, "byte", "bytes"))
		return
	}
	commitment, evidence, err := decisionHeaders(r)
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	cred, ok := bearer(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="statustoken"`)
		fail(w, http.StatusUnauthorized, "missing API key: send it as \"Authorization: Bearer KEY\"")
		return
	}
	att, err := s.att.Attest(r.Context(), cred)
	switch {
	case errors.Is(err, ErrUnknownHolder):
		w.Header().Set("WWW-Authenticate", `Bearer realm="statustoken", error="invalid_token"`)
		fail(w, http.StatusUnauthorized, "unknown API key")
		return
	case err != nil:
		s.logger.Error("attester failed", "error", err)
		w.Header().Set("Retry-After", "30")
		fail(w, http.StatusServiceUnavailable, "cannot check the API key right now; try again later")
		return
	}
	allowed, wait, full := s.lim.allow(att.Holder, s.now())
	if !allowed {
		wait = max(wait, time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		if full {
			fail(w, http.StatusServiceUnavailable, "too many holders are being served: retry in %s", humanDuration(wait))
		} else {
			fail(w, http.StatusTooManyRequests, "rate limit: retry in %s (%s)", humanDuration(wait), s.limitMsg)
		}
		return
	}
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	case <-r.Context().Done():
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, issue.MaxRequestSize))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			fail(w, http.StatusRequestEntityTooLarge, "request body is larger than the limit of %s", plural(issue.MaxRequestSize, "byte", "bytes"))
		} else {
			fail(w, http.StatusBadRequest, "could not read the request body")
		}
		return
	}
	cur := s.pub.current()
	if cur == nil {
		w.Header().Set("Retry-After", "60")
		fail(w, http.StatusServiceUnavailable, "no directory published yet; try again later")
		return
	}
	now := s.now()
	d := issue.Decision{Request: body, Commitment: commitment, Evidence: evidence, Serial: cur.serial,
		Outcome: token.Outcome(att.Status), Reason: att.Reason}
	var refusal string
	if d.Reason == 0 {
		d.Reason, _ = defaultReason(s.cfg.Reasons, d.Outcome)
	}
	if r, ok := findReason(s.cfg.Reasons, d.Reason); d.Outcome != token.Refused && ok && r.EvidenceRequired && evidence == nil {
		refusal = fmt.Sprintf("refused: %s requires evidence (send it in the %s header)", r.Text, evidenceHeader)
		d.Outcome = token.Refused
		d.Reason, _ = defaultReason(s.cfg.Reasons, token.Refused)
	}
	var resp []byte
	if d.Outcome != token.Refused {
		resp, err = s.is.Respond(body, now, att.Status)
		switch {
		case err == nil:
		case errors.Is(err, issue.ErrMalformedRequest), errors.Is(err, issue.ErrCount):
			fail(w, http.StatusBadRequest, "%v", err)
			return
		case errors.Is(err, issue.ErrNotIssuing):
			fail(w, http.StatusBadRequest, "the request names no key this issuer issues with now: fetch the directory again")
			return
		case errors.Is(err, issue.ErrStatusNotAssigned):
			refusal = "refused: the requested status is not the one assigned to this holder"
			d.Outcome = token.Refused
			d.Reason, _ = defaultReason(s.cfg.Reasons, token.Refused)
		default:
			s.logger.Error("signing failed", "error", err)
			fail(w, http.StatusInternalServerError, "internal error")
			return
		}
	} else if r, ok := findReason(s.cfg.Reasons, d.Reason); ok && refusal == "" {
		refusal = "refused: " + r.Text
	}
	receipt, record, err := s.is.Decide(d, now)
	if err != nil {
		s.logger.Error("signing the receipt failed", "error", err)
		fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	// The record is queued, synced, before the receipt leaves.
	if err := s.dec.enqueue(record); err != nil {
		s.logger.Error("decision log", "error", err)
		fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	w.Header().Set(receiptHeader, base64.StdEncoding.EncodeToString(receipt))
	if d.Outcome == token.Refused {
		fail(w, http.StatusForbidden, "%s", refusal)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(resp)))
	w.Write(resp)
}

// decisionHeaders reads the holder's commitment (required) and evidence
// (optional) of a token request.
func decisionHeaders(r *http.Request) (commitment [32]byte, evidence []byte, err error) {
	c := r.Header.Values(commitmentHeader)
	b, err := base64.StdEncoding.Strict().DecodeString(strings.Join(c, ""))
	if len(c) != 1 || err != nil || len(b) != len(commitment) {
		return commitment, nil, fmt.Errorf("a token request carries the holder's commitment: one %s header, standard base64 of 32 bytes", commitmentHeader)
	}
	copy(commitment[:], b)
	e := r.Header.Values(evidenceHeader)
	switch {
	case len(e) == 0:
		return commitment, nil, nil
	case len(e) > 1 || len(e[0]) > base64.StdEncoding.EncodedLen(maxEvidence):
		return commitment, nil, fmt.Errorf("at most one %s header, of at most %d bytes decoded", evidenceHeader, maxEvidence)
	}
	evidence, err = base64.StdEncoding.Strict().DecodeString(e[0])
	if err != nil || len(evidence) == 0 || len(evidence) > maxEvidence {
		return commitment, nil, fmt.Errorf("the %s header must be standard base64 of 1 to %d bytes", evidenceHeader, maxEvidence)
	}
	return commitment, evidence, nil
}

// decisionCheckpoint serves the decision log's latest cosigned
// checkpoint.
func (s *Service) decisionCheckpoint(w http.ResponseWriter, r *http.Request) {
	cp := s.dec.checkpoint()
	if cp == nil {
		w.Header().Set("Retry-After", s.dec.retryAfter())
		fail(w, http.StatusServiceUnavailable, "the decision log has no cosigned checkpoint yet")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", checkpointAge)
	w.Write(cp)
}

// decisionTile serves a tile of the decision log.
func (s *Service) decisionTile(w http.ResponseWriter, r *http.Request) {
	path := r.PathValue("path")
	data, err := s.dec.store.Log().Tile("tile/" + path)
	if err != nil {
		fail(w, http.StatusNotFound, "no such tile in the decision log")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if strings.Contains(path, ".p/") {
		w.Header().Set("Cache-Control", partialTileAge)
	} else {
		w.Header().Set("Cache-Control", immutable)
	}
	w.Write(data)
}

// decisionProof serves the inclusion proof of a decision record,
// /decisions/proof/<64 lowercase hex: SHA-256 of the record>, under the
// decision log's latest cosigned checkpoint; 404 with Retry-After while
// the record is not in one.
func (s *Service) decisionProof(w http.ResponseWriter, r *http.Request) {
	text := r.PathValue("hash")
	b, err := hex.DecodeString(text)
	if err != nil || len(b) != sha256.Size || hex.EncodeToString(b) != text {
		fail(w, http.StatusNotFound, "not a record hash: want /decisions/proof/<64 lowercase hex digits>")
		return
	}
	proof, err := s.dec.proof(r.Context(), [sha256.Size]byte(b))
	switch {
	case errors.Is(err, errNotLogged):
		w.Header().Set("Retry-After", s.dec.retryAfter())
		fail(w, http.StatusNotFound, "the record is not in a cosigned checkpoint of the decision log yet")
		return
	case err != nil:
		s.logger.Error("decision proof", "error", err)
		fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(proof)
}

// bearer returns the credential of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Values("Authorization")
	if len(h) != 1 {
		return "", false
	}
	scheme, cred, ok := strings.Cut(h[0], " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || cred == "" {
		return "", false
	}
	return cred, true
}

// fail writes a one-line plain-text error.
func fail(w http.ResponseWriter, code int, format string, args ...any) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	fmt.Fprintf(w, format+"\n", args...)
}

// statusWriter records the status code a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// logged logs one line per request: the method, the route that matched
// (a fixed string, never the client's path or query), the status and the
// duration. Nothing else from the request is logged: no address, header,
// body or token. A panicking handler answers 500 and the service goes on.
func (s *Service) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.logger.Error("handler panic", "route", route(r))
				if sw.code == 0 {
					fail(sw, http.StatusInternalServerError, "internal error")
				}
			}
			code := sw.code
			if code == 0 {
				code = http.StatusOK
			}
			s.logger.Info("request", "method", method(r), "path", route(r), "status", code,
				"duration", time.Since(start).Round(time.Microsecond))
		}()
		next.ServeHTTP(sw, r)
	})
}

// route is the path pattern that matched the request, or "-".
func route(r *http.Request) string {
	method, path, ok := strings.Cut(r.Pattern, " ")
	if !ok {
		return "-"
	}
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodOptions:
	default:
		return "-"
	}
	switch path {
	case directoryPath, signaturePath, proofPath, checkpointPath, tokenPath, healthPath, logPrefix + "/":
		return path
	case decisionCheckpoint, decisionsPrefix:
		return path
	case decisionTiles + "{path...}":
		return decisionTiles
	case decisionProofs + "{hash}":
		return decisionProofs
	case tilePrefix + "{path...}":
		return tilePrefix
	case archivePrefix + "{name}":
		return archivePrefix
	}
	return "-"
}

func method(r *http.Request) string {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return r.Method
	}
	return "OTHER"
}
