package main

import (
	"bytes"
	"context"
	"crypto/sha256"
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
	"github.com/statustoken/statustoken/issue"
)

const (
	directoryPath   = directory.Path
	signaturePath   = directory.SignaturePath
	tokenPath       = directory.TokenRequestPath
	signatureHeader = directory.SignatureHeader
	healthPath      = "/healthz"

	// directoryMaxAge caps how long clients may cache the directory, so
	// that a withdrawn key disappears from them soon.
	directoryMaxAge = 5 * time.Minute
)

// published is one signed directory.
type published struct {
	data, sig []byte
	etag      string
	serial    uint64
	// next is when the directory's window moves: the end of the epoch it
	// was made in.
	next time.Time
}

// publisher keeps the current directory and replaces it when an epoch
// ends, with a serial that only increases (stored in the state directory).
type publisher struct {
	is     *issue.Issuer
	st     *state
	epoch  time.Duration
	mu     sync.RWMutex
	cur    *published
	logger *slog.Logger
}

// publish makes and signs a new directory for now. RSA keys for epochs
// not seen before are generated and stored first, which takes a moment.
func (p *publisher) publish(now time.Time) error {
	serial, err := p.st.nextSerial()
	if err != nil {
		return fmt.Errorf("directory serial: %w", err)
	}
	data, sig, err := p.is.Directory(now, serial)
	if err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	sum := sha256.Sum256(data)
	ep := int64(p.epoch / time.Second)
	next := time.Unix((now.Unix()/ep+1)*ep, 0)
	pub := &published{
		data:   data,
		sig:    sig,
		etag:   fmt.Sprintf(`"%d-%x"`, serial, sum[:8]),
		serial: serial,
		next:   next,
	}
	p.mu.Lock()
	p.cur = pub
	p.mu.Unlock()
	p.logger.Info("directory published", "serial", serial, "bytes", len(data), "next", next.UTC().Format(time.RFC3339))
	return nil
}

func (p *publisher) current() *published {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.cur
}

// run publishes a new directory whenever an epoch ends, until ctx is done.
// A failed publication is retried every minute; the previous directory is
// served meanwhile.
func (p *publisher) run(ctx context.Context, now func() time.Time) {
	for {
		wait := time.Until(p.current().next)
		t := time.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		for p.publish(now()) != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Minute):
			}
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

// directory serves the signed directory's exact bytes, with the signature
// in a header.
func (s *server) directory(w http.ResponseWriter, r *http.Request) {
	p := s.pub.current()
	s.cacheHeaders(w, p)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(signatureHeader, base64.StdEncoding.EncodeToString(p.sig))
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(p.data))
}

// signature serves the detached 64-byte signature of the directory with
// the same ETag.
func (s *server) signature(w http.ResponseWriter, r *http.Request) {
	p := s.pub.current()
	s.cacheHeaders(w, p)
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(p.sig))
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
