package issuer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/directory"
	"github.com/statustoken/statustoken/examples/deploy/internal/tlog"
	"github.com/statustoken/statustoken/issue/issuehttp"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/token/tokenhttp"
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
	decisionsPrefix    = tokenhttp.DecisionLogPath
	decisionCheckpoint = decisionsPrefix + "checkpoint"
	decisionTiles      = decisionsPrefix + "tile/"
	decisionProofs     = tokenhttp.DecisionProofPath

	// Headers of a token request and its answer under a decision
	// policy.
	commitmentHeader = tokenhttp.CommitmentHeader
	evidenceHeader   = tokenhttp.EvidenceHeader
	receiptHeader    = tokenhttp.ReceiptHeader

	// directoryMaxAge caps how long clients may cache the directory, so
	// that a withdrawn key disappears from them soon.
	directoryMaxAge = issuehttp.MaxCacheAge
)

// Handler returns the service's HTTP handler: the wallet–issuer
// protocol's paths (the directory, its signature and proof, the token
// requests with their receipts, the decision proofs) through
// issuehttp.Handler, and the service's own: the two logs and /healthz.
// The directory paths and the logs answer cross-origin requests (CORS),
// so that a web scanner on another origin can fetch them; the
// token-request path never does.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	public := func(pattern string, h http.HandlerFunc) {
		mux.Handle("GET "+pattern, crossOrigin(h))
	}
	// The wallet–issuer protocol's paths (token/SPEC.md): issuehttp.
	for _, p := range []string{directoryPath, signaturePath, proofPath, decisionProofs + "{hash}"} {
		mux.Handle("GET "+p, s.h)
		mux.Handle("OPTIONS "+p, s.h)
	}
	mux.Handle("POST "+tokenPath, s.h)
	// The logs: tiles, checkpoints, the archive of directories.
	public(checkpointPath, s.checkpoint)
	public(tilePrefix+"{path...}", tiles("log", func() *tlog.Log { return s.pub.logs.Log() }))
	public(archivePrefix+"{name}", s.archive)
	public(decisionCheckpoint, s.decisionCheckpoint)
	public(decisionTiles+"{path...}", tiles("decision log", func() *tlog.Log { return s.dec.store.Log() }))
	for _, p := range []string{logPrefix + "/", decisionsPrefix} {
		mux.HandleFunc("OPTIONS "+p, preflight)
	}
	mux.HandleFunc("GET "+healthPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, "ok\n")
	})
	return s.logged(mux)
}

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

// tiles serves the tiles of a log, named in its refusals:
// <prefix>/tile/<L>/<N>[.p/<W>] and <prefix>/tile/entries/<N>[.p/<W>].
func tiles(name string, log func() *tlog.Log) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		path := r.PathValue("path")
		data, err := log().Tile("tile/" + path)
		if err != nil {
			fail(w, http.StatusNotFound, "no such tile in the %s", name)
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

// decide is the service's issuehttp.DecideFunc: it authenticates the
// holder with the attester, applies the holder's rate limit, and decides
// about a request for status with the attester's decision, under the
// published decision policy: a holder refused by the attester is refused
// for the attester's reason; one who asks for another status than its
// own, or without the evidence its reason requires, is refused for the
// policy's first reason to refuse without evidence.
func (s *Service) decide(r *http.Request, cred string, status token.Status, evidence []byte) (issuehttp.Outcome, error) {
	att, err := s.att.Attest(r.Context(), cred)
	switch {
	case errors.Is(err, ErrUnknownHolder):
		return issuehttp.Outcome{}, fmt.Errorf("%w: %w", issuehttp.ErrUnknownCredential, err)
	case err != nil:
		return issuehttp.Outcome{}, fmt.Errorf("attester: %w", err)
	}
	allowed, wait, full := s.lim.allow(att.Holder, s.now())
	if !allowed {
		e := &issuehttp.RetryError{Err: issuehttp.ErrRateLimited, After: max(wait, time.Second), Limit: s.limitMsg}
		if full {
			e.Err, e.Limit = issuehttp.ErrBusy, ""
		}
		return issuehttp.Outcome{}, e
	}
	reasons := s.cfg.Reasons
	refuse := func(msg string) (issuehttp.Outcome, error) {
		code, _ := defaultReason(reasons, token.Refused)
		return issuehttp.Outcome{Reason: code, Message: msg}, nil
	}
	out := issuehttp.Outcome{Status: att.Status, Reason: att.Reason}
	if out.Reason == 0 {
		out.Reason, _ = defaultReason(reasons, token.Outcome(att.Status))
	}
	if att.Status == 0 {
		return out, nil
	}
	if att.Status != status {
		// The holder's own reason refuses it another status, where the
		// policy lets that reason refuse and needs no evidence missing.
		const msg = "the requested status is not the one assigned to this holder"
		if reason, ok := findReason(reasons, out.Reason); ok && reason.Allows(token.Refused) && (!reason.EvidenceRequired || evidence != nil) {
			return issuehttp.Outcome{Reason: reason.Code, Message: msg}, nil
		}
		return refuse(msg)
	}
	if reason, ok := findReason(reasons, out.Reason); ok && reason.EvidenceRequired && evidence == nil {
		return refuse(fmt.Sprintf("%q requires evidence (send it in the %s header)", reason.Text, tokenhttp.EvidenceHeader))
	}
	return out, nil
}

// record is the service's issuehttp.RecordFunc: it queues the record,
// synced, for the decision log.
func (s *Service) record(_ context.Context, record []byte) error {
	return s.dec.enqueue(record)
}

// decisionProof is the service's issuehttp.DecisionProofFunc.
func (s *Service) decisionProof(ctx context.Context, sum [32]byte) ([]byte, error) {
	proof, err := s.dec.proof(ctx, sum)
	if errors.Is(err, errNotLogged) {
		return nil, &issuehttp.RetryError{Err: issuehttp.ErrNotYetLogged, After: 2 * s.cfg.DecisionInterval}
	}
	return proof, err
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
