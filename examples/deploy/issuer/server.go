package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/directory"
	"github.com/statustoken/statustoken/examples/deploy/internal/logstore"
	"github.com/statustoken/statustoken/examples/deploy/internal/witnessclient"
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
	healthPath      = "/healthz"

	// directoryMaxAge caps how long clients may cache the directory, so
	// that a withdrawn key disappears from them soon.
	directoryMaxAge = 5 * time.Minute
)

// published is one logged directory version: its bytes and signature,
// and once a quorum of witnesses has cosigned a checkpoint that includes
// it, its proof under that checkpoint.
type published struct {
	data, sig []byte
	serial    uint64
	// index is the directory's record in the log.
	index int64
	// proof is the c2sp.org/tlog-proof bundle, and checkpoint the
	// cosigned checkpoint in it.
	proof, checkpoint []byte
	// etag names the directory, signature and proof together.
	etag string
	// next is when the directory's window moves: the end of the epoch it
	// was made in.
	next time.Time
}

// publisher keeps the current directory and replaces it when an epoch
// ends, with a serial that only increases (stored in the state
// directory). Each directory goes into the log; it is served once a
// quorum of the witnesses has cosigned a checkpoint that includes it, and
// its proof is refreshed by cosigning the log again every cosignEvery.
type publisher struct {
	is          *issue.Issuer
	st          *state
	logs        *logstore.Store
	witnesses   []*witnessclient.Witness
	client      *witnessclient.Client
	trust       *token.Trust
	quorum      int
	epoch       time.Duration
	cosignEvery time.Duration
	retry       time.Duration
	logger      *slog.Logger

	mu  sync.RWMutex
	cur *published // served; nil until a first directory is cosigned

	// pubMu serializes publications and cosigning rounds, and guards:
	pubMu    sync.Mutex
	latest   *published // the newest directory in the log
	next     time.Time  // when to make the next directory
	cosignAt time.Time  // when to cosign the log next
}

// publish makes, signs and logs a new directory for now, then has the
// witnesses cosign the log. RSA keys for epochs not seen before are
// generated and stored first, which takes a moment. An error from making
// the directory leaves the log unchanged and is retried after p.retry;
// one from cosigning leaves the new directory in the log, unserved, and
// the cosigning is retried.
func (p *publisher) publish(ctx context.Context, now time.Time) error {
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	p.next = now.Add(p.retry)
	serial, err := p.st.nextSerial()
	if err != nil {
		return fmt.Errorf("directory serial: %w", err)
	}
	data, sig, err := p.is.Directory(now, serial)
	if err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	index, err := p.logs.Append(data, sig)
	if err != nil {
		return fmt.Errorf("logging the directory: %w", err)
	}
	p.latest = &published{data: data, sig: sig, serial: serial, index: index, next: p.epochEnd(now)}
	p.next = p.latest.next
	p.logger.Info("directory logged", "serial", serial, "index", index)
	if err := p.cosign(ctx, now); err != nil {
		return fmt.Errorf("directory %d not published yet: %w", serial, err)
	}
	return nil
}

// current returns the directory served, or nil.
func (p *publisher) current() *published {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.cur
}

// run publishes a new directory whenever an epoch ends, and has the
// witnesses cosign the log again every cosignEvery (or after p.retry when
// a round failed), until ctx is done. The previous directory is served
// until a new one is cosigned.
func (p *publisher) run(ctx context.Context, now func() time.Time) {
	for {
		p.pubMu.Lock()
		wake := p.next
		if p.cosignAt.Before(wake) {
			wake = p.cosignAt
		}
		p.pubMu.Unlock()
		t := time.NewTimer(max(time.Until(wake), 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		at := now()
		p.pubMu.Lock()
		due := !at.Before(p.next)
		p.pubMu.Unlock()
		if due {
			if err := p.publish(ctx, at); err != nil && ctx.Err() == nil {
				p.logger.Error("publication failed", "error", err)
			}
			continue
		}
		p.pubMu.Lock()
		err := p.cosign(ctx, at)
		p.pubMu.Unlock()
		if err != nil && ctx.Err() == nil {
			p.logger.Error("cosigning the log failed", "error", err)
		}
	}
}

// server is the issuer's HTTP service.
type server struct {
	is       *issue.Issuer
	pub      *publisher
	att      Attester
	lim      *limiter
	limitMsg string
	sem      chan struct{}
	logger   *slog.Logger
	now      func() time.Time
}

func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+directoryPath, s.directory)
	mux.HandleFunc("GET "+signaturePath, s.signature)
	mux.HandleFunc("GET "+proofPath, s.proof)
	mux.HandleFunc("GET "+checkpointPath, s.checkpoint)
	mux.HandleFunc("GET "+tilePrefix+"{path...}", s.tile)
	mux.HandleFunc("GET "+archivePrefix+"{name}", s.archive)
	mux.HandleFunc("POST "+tokenPath, s.token)
	mux.HandleFunc("GET "+healthPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, "ok\n")
	})
	return s.logged(mux)
}

func (s *server) cacheHeaders(w http.ResponseWriter, p *published) {
	age := min(directoryMaxAge, p.next.Sub(s.now()))
	w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", max(0, int(age/time.Second))))
	w.Header().Set("ETag", p.etag)
}

// served returns the directory served, or answers 503 when no directory
// has been cosigned yet.
func (s *server) served(w http.ResponseWriter) *published {
	p := s.pub.current()
	if p == nil {
		w.Header().Set("Retry-After", "60")
		fail(w, http.StatusServiceUnavailable, "no directory published yet: waiting for a quorum of the witnesses to cosign the log; try again later")
	}
	return p
}

// directory serves the signed directory's exact bytes, with the signature
// and the log proof in headers.
func (s *server) directory(w http.ResponseWriter, r *http.Request) {
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
func (s *server) signature(w http.ResponseWriter, r *http.Request) {
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
func (s *server) proof(w http.ResponseWriter, r *http.Request) {
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
func (s *server) checkpoint(w http.ResponseWriter, r *http.Request) {
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
func (s *server) tile(w http.ResponseWriter, r *http.Request) {
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
func (s *server) archive(w http.ResponseWriter, r *http.Request) {
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
func (s *server) token(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > issue.MaxRequestSize {
		fail(w, http.StatusRequestEntityTooLarge, "request body of %d bytes is larger than the limit of %d bytes", r.ContentLength, issue.MaxRequestSize)
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
	case errors.Is(err, errUnknownHolder):
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
		secs := strconv.Itoa(int(math.Ceil(max(wait, time.Second).Seconds())))
		w.Header().Set("Retry-After", secs)
		if full {
			fail(w, http.StatusServiceUnavailable, "too many holders are being served; retry in %s s", secs)
		} else {
			fail(w, http.StatusTooManyRequests, "rate limit exceeded: %s; retry in %s s", s.limitMsg, secs)
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
			fail(w, http.StatusRequestEntityTooLarge, "request body is larger than the limit of %d bytes", issue.MaxRequestSize)
		} else {
			fail(w, http.StatusBadRequest, "could not read the request body")
		}
		return
	}
	resp, err := s.is.Respond(body, s.now(), att.Status)
	switch {
	case err == nil:
	case errors.Is(err, issue.ErrMalformedRequest):
		fail(w, http.StatusBadRequest, "%s", trimPrefix(err))
		return
	case errors.Is(err, issue.ErrNotIssuing):
		fail(w, http.StatusBadRequest, "the request names no key this issuer issues with now: fetch the directory again")
		return
	case errors.Is(err, issue.ErrStatusNotAssigned):
		fail(w, http.StatusForbidden, "the requested status is not the one assigned to this holder")
		return
	default:
		s.logger.Error("signing failed", "error", err)
		fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(resp)))
	w.Write(resp)
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

// trimPrefix drops the "issue: " package prefix from a library error.
func trimPrefix(err error) string {
	return strings.TrimPrefix(err.Error(), "issue: ")
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
func (s *server) logged(next http.Handler) http.Handler {
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
	switch r.Pattern {
	case "GET " + directoryPath:
		return directoryPath
	case "GET " + signaturePath:
		return signaturePath
	case "GET " + proofPath:
		return proofPath
	case "GET " + checkpointPath:
		return checkpointPath
	case "GET " + tilePrefix + "{path...}":
		return tilePrefix
	case "GET " + archivePrefix + "{name}":
		return archivePrefix
	case "POST " + tokenPath:
		return tokenPath
	case "GET " + healthPath:
		return healthPath
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
