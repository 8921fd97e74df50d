// Package issuehttp is the issuer's side of statustoken's wallet–issuer
// HTTP protocol (token/SPEC.md, "Wallet–issuer protocol"): a Handler that
// serves the published directory, its signature and its log proof, and
// answers blind token requests with issue.Issuer.Respond.
//
// The embedder keeps the publication current (Handler.Publish, after a
// quorum of its witnesses cosigned the log) and decides, in its
// AuthorizeFunc, who the holder is, whether it may ask now (its rate
// limit) and which status it gets. Under a directory with a decision
// policy (token/SPEC.md, "Decisions") its DecideFunc decides about each
// request instead, the Handler signs the receipt of every grant and
// refusal (issue.Issuer.Decide) and hands the decision record to its
// RecordFunc for the decision log, and its DecisionProofFunc serves the
// records' proofs. The Handler does the rest of the
// protocol: methods, media types, size limits, status codes, error
// bodies, Retry-After and the cross-origin headers. Wallets and scanners
// use package token/tokenhttp.
//
// The Handler serves the protocol's paths only. An issuer's logs (tiles,
// checkpoint, archived directories: SPEC.md, "Log paths"; the decision
// log under tokenhttp.DecisionLogPath, but for its proof path) and its
// health check are the embedder's to serve, for example on a mux that routes the
// protocol's paths to the Handler; CrossOrigin gives them the same
// cross-origin answers.
//
// # Security considerations
//
// The handler logs nothing of a request: only failures of the
// AuthorizeFunc, the DecideFunc, the RecordFunc, the DecisionProofFunc
// and of signing go to Options.Logger, never the credential, the
// evidence or a body. These functions must not put the credential or the
// evidence into their errors.
// Serve the handler over TLS: the token request carries the holder's
// credential. Put timeouts on the http.Server (ReadHeaderTimeout,
// ReadTimeout, WriteTimeout): the handler bounds what it reads, not how
// long a client takes to send it.
package issuehttp

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/token/tokenhttp"
)

// MaxCacheAge bounds how long a client may cache the directory
// (Cache-Control max-age), so that a withdrawn key leaves caches soon.
const MaxCacheAge = 5 * time.Minute

// Retry-After of the handler's own 503 answers.
const (
	// NotPublishedRetry is the Retry-After while nothing is published.
	NotPublishedRetry = 60 * time.Second
	// AuthorizeRetry is the Retry-After when the AuthorizeFunc failed.
	AuthorizeRetry = 30 * time.Second
)

var (
	// ErrUnknownCredential is what an AuthorizeFunc returns (wrapped or
	// not) for a credential that names no holder: 401.
	ErrUnknownCredential = errors.New("issuehttp: unknown credential")
	// ErrRateLimited is what an AuthorizeFunc returns, in a *RetryError,
	// for a holder that has used up its rate limit: 429.
	ErrRateLimited = errors.New("issuehttp: rate limited")
	// ErrBusy is what an AuthorizeFunc returns, in a *RetryError, when
	// it serves too many holders to take a new one: 503.
	ErrBusy = errors.New("issuehttp: too many holders")
	// ErrPublication: Handler.Publish was given a publication that is not
	// one: a directory that does not parse, a signature that is not
	// token.DirectorySignatureSize bytes, a proof longer than
	// token.MaxProofSize.
	ErrPublication = errors.New("issuehttp: malformed publication")
)

// RetryError asks the holder to wait: an AuthorizeFunc or DecideFunc
// returns it wrapping ErrRateLimited (429) or ErrBusy (503), a
// DecisionProofFunc wrapping ErrNotYetLogged (404). The answer's
// Retry-After is After rounded up to whole seconds, at least 1 (also for
// ErrRateLimited or ErrBusy returned without a RetryError).
type RetryError struct {
	// Err is ErrRateLimited, ErrBusy or ErrNotYetLogged.
	Err error
	// After is how long until the holder may ask again.
	After time.Duration
	// Limit states the rate limit for people, for example "at most 3
	// token requests per hour"; it is added to the 429 answer's text.
	// It must not name the holder.
	Limit string
}

// Error says which wait it is and how long.
func (e *RetryError) Error() string {
	return fmt.Sprintf("%v: retry in %v", e.Err, e.After)
}

// Unwrap returns Err.
func (e *RetryError) Unwrap() error { return e.Err }

// An AuthorizeFunc authenticates the holder of a token request by its
// credential (from "Authorization: Bearer <credential>"; the Handler
// answers a credential that is not an RFC 6750 b64token as unknown,
// without calling it) and decides the status to issue to it, from the
// embedder's own evidence. It applies the holder's rate limit too: each
// call is one request of the holder's, made before the body is read.
//
// It returns the status, or an error: one wrapping ErrUnknownCredential
// (401), a *RetryError (429 or 503), or any other error when it cannot
// decide now (503, with Retry-After AuthorizeRetry; the error is logged).
// r is for its context and connection state; it must not read r.Body. It
// is called concurrently.
type AuthorizeFunc func(r *http.Request, credential string) (token.Status, error)

// Options configure a Handler. Issuer is required, and Authorize, or
// Decide and Record, or all three: Authorize answers token requests
// under a directory without a decision policy, Decide and Record under
// one with a decision policy (token/SPEC.md, "Decisions").
type Options struct {
	// Issuer signs the token requests, and the receipts.
	Issuer *issue.Issuer
	// Authorize authenticates holders and decides their status.
	Authorize AuthorizeFunc
	// Decide authenticates holders and decides about each request,
	// under a directory with a decision policy.
	Decide DecideFunc
	// Record queues a decision record for the decision log.
	Record RecordFunc
	// DecisionProof, if set, serves the proofs of decision records
	// (GET tokenhttp.DecisionProofPath + hex): see DecisionProofFunc.
	DecisionProof DecisionProofFunc
	// MaxConcurrent bounds the token requests signed at once; more wait
	// their turn. 2 × GOMAXPROCS when zero.
	MaxConcurrent int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger gets the failures of the functions above and of signing;
	// none when nil.
	Logger *slog.Logger
}

// Handler serves the protocol's paths (SPEC.md, "Wallet–issuer
// protocol"). Make it with NewHandler; it is safe for concurrent use.
type Handler struct {
	is        *issue.Issuer
	authorize AuthorizeFunc
	decide    DecideFunc
	record    RecordFunc
	dproof    DecisionProofFunc
	now       func() time.Time
	log       *slog.Logger
	sem       chan struct{}
	pub       atomic.Pointer[publication]
	mux       *http.ServeMux
}

// publication is one directory as it is served.
type publication struct {
	token.Published
	dir  *token.Directory
	etag string
	next time.Time
}

// NewHandler returns a Handler with nothing published yet: the directory
// paths answer 503 until the first Handler.Publish. It returns an error
// for Options without an Issuer made by issue.NewIssuer, without
// Authorize or Decide, with only one of Decide and Record, or with a
// negative MaxConcurrent.
func NewHandler(o Options) (*Handler, error) {
	if o.Issuer == nil || o.Issuer.RootPublicKey() == nil || (o.Authorize == nil && o.Decide == nil) ||
		(o.Decide == nil) != (o.Record == nil) || o.MaxConcurrent < 0 {
		return nil, errors.New("issuehttp: Options need an Issuer made by issue.NewIssuer, an Authorize function or Decide and Record functions, and MaxConcurrent ≥ 0")
	}
	if o.MaxConcurrent == 0 {
		o.MaxConcurrent = 2 * runtime.GOMAXPROCS(0)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{is: o.Issuer, authorize: o.Authorize, decide: o.Decide, record: o.Record, dproof: o.DecisionProof,
		now: o.Now, log: o.Logger, sem: make(chan struct{}, o.MaxConcurrent)}
	mux := http.NewServeMux()
	for path, serve := range map[string]func(http.ResponseWriter, *http.Request){
		tokenhttp.DirectoryPath: h.directory,
		tokenhttp.SignaturePath: h.signature,
		tokenhttp.ProofPath:     h.proof,
	} {
		mux.Handle("GET "+path, CrossOrigin(http.HandlerFunc(serve)))
		mux.Handle("OPTIONS "+path, CrossOrigin(nil))
	}
	mux.HandleFunc("POST "+tokenhttp.TokenRequestPath, h.token)
	if h.dproof != nil {
		path := tokenhttp.DecisionProofPath + "{hash}"
		mux.Handle("GET "+path, CrossOrigin(http.HandlerFunc(h.decisionProof)))
		mux.Handle("OPTIONS "+path, CrossOrigin(nil))
	}
	h.mux = mux
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

// Publish replaces the directory served with p, atomically: a client
// never sees the bytes of one publication with the signature or proof of
// another. Publish a directory only once a quorum of the witnesses has
// cosigned a checkpoint that holds it, and publish it again with each
// fresher proof. next is when the embedder will publish the next
// directory (the end of the current epoch): caches keep the directory
// until then, at most MaxCacheAge. p's slices must not change afterwards.
// A p that is not a publication (see ErrPublication) is refused, and the
// one served before stays; so is a directory with a decision policy
// when Options had no Decide, and one without when Options had no
// Authorize.
func (h *Handler) Publish(p token.Published, next time.Time) error {
	switch {
	case len(p.Signature) != token.DirectorySignatureSize:
		return fmt.Errorf("%w: signature of %d bytes", ErrPublication, len(p.Signature))
	case len(p.Proof) > token.MaxProofSize:
		return fmt.Errorf("%w: proof of %d bytes", ErrPublication, len(p.Proof))
	}
	d, err := token.ParseDirectory(p.Directory)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrPublication, err)
	}
	if d.HasDecisions() && h.decide == nil {
		return fmt.Errorf("%w: the directory has a decision policy and the handler no Decide function", ErrPublication)
	}
	if !d.HasDecisions() && h.authorize == nil {
		return fmt.Errorf("%w: the directory has no decision policy and the handler no Authorize function", ErrPublication)
	}
	sum, psum := sha256.Sum256(p.Directory), sha256.Sum256(p.Proof)
	h.pub.Store(&publication{
		Published: p,
		dir:       d,
		etag:      fmt.Sprintf(`"%d-%x-%x"`, d.Serial, sum[:8], psum[:4]),
		next:      next,
	})
	return nil
}

// exposedHeaders are the response headers a cross-origin page may read
// besides the CORS-safelisted ones.
const exposedHeaders = tokenhttp.SignatureHeader + ", " + tokenhttp.ProofHeader

// CrossOrigin lets pages of any origin read h's answers, errors included,
// and answers CORS preflight requests (OPTIONS) itself: GET and HEAD,
// with If-None-Match, cached for a day. Use it for public, signed
// content read without credentials only, such as the directory and the
// log; never for the token request. h may be nil when h serves only
// OPTIONS.
func CrossOrigin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Access-Control-Allow-Origin", "*")
		hd.Set("Access-Control-Expose-Headers", exposedHeaders)
		if r.Method == http.MethodOptions || h == nil {
			hd.Set("Access-Control-Allow-Methods", "GET, HEAD")
			hd.Set("Access-Control-Allow-Headers", "If-None-Match")
			hd.Set("Access-Control-Max-Age", "86400")
			hd.Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// served returns the publication served, or answers 503 when there is
// none yet.
func (h *Handler) served(w http.ResponseWriter) *publication {
	p := h.pub.Load()
	if p == nil {
		w.Header().Set("Retry-After", seconds(NotPublishedRetry))
		fail(w, http.StatusServiceUnavailable, "no directory published yet: waiting for a quorum of the witnesses to cosign the log; try again later")
	}
	return p
}

func (h *Handler) cacheHeaders(w http.ResponseWriter, p *publication) {
	age := min(MaxCacheAge, p.next.Sub(h.now()))
	w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", max(0, int(age/time.Second))))
	w.Header().Set("ETag", p.etag)
}

// directory serves the directory's exact bytes, with the signature and
// the proof in headers.
func (h *Handler) directory(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, tokenhttp.DirectoryType, func(p *publication) []byte {
		w.Header().Set(tokenhttp.SignatureHeader, base64Std(p.Signature))
		w.Header().Set(tokenhttp.ProofHeader, base64Std(p.Proof))
		return p.Directory
	})
}

func (h *Handler) signature(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, tokenhttp.SignatureType, func(p *publication) []byte { return p.Signature })
}

func (h *Handler) proof(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, tokenhttp.ProofType, func(p *publication) []byte { return p.Proof })
}

// serve answers with the body that body picks from the publication
// served, with its cache headers; http.ServeContent answers HEAD,
// If-None-Match (304) and Range.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, contentType string, body func(*publication) []byte) {
	p := h.served(w)
	if p == nil {
		return
	}
	h.cacheHeaders(w, p)
	w.Header().Set("Content-Type", contentType)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body(p)))
}

// token answers a blind token request, in the order of SPEC.md, "Token
// request".
func (h *Handler) token(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > tokenhttp.MaxRequestSize {
		fail(w, http.StatusRequestEntityTooLarge, "request body of %d bytes is larger than the limit of %d bytes",
			min(r.ContentLength, math.MaxInt32), tokenhttp.MaxRequestSize)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != tokenhttp.RequestType {
		fail(w, http.StatusUnsupportedMediaType, "the request body must be %s", tokenhttp.RequestType)
		return
	}
	cred, ok := bearer(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="statustoken"`)
		fail(w, http.StatusUnauthorized, "missing API key: send it as \"Authorization: Bearer KEY\"")
		return
	}
	p := h.pub.Load()
	if p != nil && p.dir.HasDecisions() {
		h.decisionToken(w, r, p, cred)
		return
	}
	if (p == nil && h.decide != nil) || h.authorize == nil {
		// A handler that may decide does not know, before its first
		// publication, whether a request needs a receipt.
		h.served(w)
		return
	}
	var status token.Status
	err := ErrUnknownCredential
	if b64token(cred) {
		status, err = h.authorize(r, cred)
	}
	if err == nil && status == 0 {
		h.log.Error("authorize returned status 0")
		fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	if h.refused(w, err, "authorize") {
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
	resp, err := h.is.Respond(body, h.now(), status)
	if h.respondFailed(w, err) {
		return
	}
	writeResponse(w, resp)
}

// refused answers the error of an AuthorizeFunc or DecideFunc (what
// names it, in the log) and reports whether there was one.
func (h *Handler) refused(w http.ResponseWriter, err error, what string) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, ErrUnknownCredential):
		w.Header().Set("WWW-Authenticate", `Bearer realm="statustoken", error="invalid_token"`)
		fail(w, http.StatusUnauthorized, "unknown API key")
	case errors.Is(err, ErrRateLimited) || errors.Is(err, ErrBusy):
		var after time.Duration
		var limit string
		if re := (*RetryError)(nil); errors.As(err, &re) {
			after, limit = re.After, re.Limit
		}
		wait := max(after, time.Second)
		w.Header().Set("Retry-After", seconds(wait))
		if errors.Is(err, ErrBusy) {
			fail(w, http.StatusServiceUnavailable, "too many holders are being served: retry in %s", humanDuration(wait))
		} else if limit != "" {
			fail(w, http.StatusTooManyRequests, "rate limit: retry in %s (%s)", humanDuration(wait), oneLine(limit))
		} else {
			fail(w, http.StatusTooManyRequests, "rate limit: retry in %s", humanDuration(wait))
		}
	default:
		h.log.Error(what+" failed", "error", err)
		w.Header().Set("Retry-After", seconds(AuthorizeRetry))
		fail(w, http.StatusServiceUnavailable, "cannot check the API key right now; try again later")
	}
	return true
}

// acquire waits for a signing slot; false if the client went away.
func (h *Handler) acquire(r *http.Request) bool {
	select {
	case h.sem <- struct{}{}:
		return true
	case <-r.Context().Done():
		return false
	}
}

func (h *Handler) release() { <-h.sem }

// readBody reads the token request's body, or answers 413 or 400.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, tokenhttp.MaxRequestSize))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			fail(w, http.StatusRequestEntityTooLarge, "request body is larger than the limit of %d bytes", tokenhttp.MaxRequestSize)
		} else {
			fail(w, http.StatusBadRequest, "could not read the request body")
		}
		return nil, false
	}
	return body, true
}

// respondFailed answers an error of issue.Issuer.Respond or
// RequestStatus and reports whether there was one.
func (h *Handler) respondFailed(w http.ResponseWriter, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, issue.ErrMalformedRequest) || errors.Is(err, issue.ErrCount):
		fail(w, http.StatusBadRequest, "%v", err)
	case errors.Is(err, issue.ErrNotIssuing):
		fail(w, http.StatusConflict, "the request names no key this issuer issues with now: fetch the directory again")
	case errors.Is(err, issue.ErrStatusNotAssigned):
		fail(w, http.StatusForbidden, "the requested status is not the one assigned to this holder")
	default:
		h.log.Error("signing failed", "error", err)
		fail(w, http.StatusInternalServerError, "internal error")
	}
	return true
}

// writeResponse answers 200 with the token response.
func writeResponse(w http.ResponseWriter, resp []byte) {
	w.Header().Set("Content-Type", tokenhttp.ResponseType)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(resp)))
	w.Write(resp)
}

// bearer returns the credential of the one "Authorization: Bearer"
// header: whatever follows the scheme and one space, not empty.
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

// b64token reports whether s is 1*( ALPHA / DIGIT / "-" / "." / "_" / "~"
// / "+" / "/" ) *"=".
func b64token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for _, c := range []byte(body) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}

// fail writes a one-line plain-text error.
func fail(w http.ResponseWriter, code int, format string, args ...any) {
	h := w.Header()
	h.Set("Content-Type", tokenhttp.ErrorType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	fmt.Fprintf(w, format+"\n", args...)
}

// oneLine drops control characters from s.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// seconds writes d as delay-seconds, rounded up.
func seconds(d time.Duration) string {
	return strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10)
}

func base64Std(b []byte) string {
	return base64.StdEncoding.EncodeToString(b)
}

// humanDuration writes d for people, rounded up to the unit shown:
// "45 s", "6 min", "1 h", "1 h 30 min", "2 days". A wait rounded up is
// never too short.
func humanDuration(d time.Duration) string {
	if d <= 0 {
		return "0 s"
	}
	if secs := ceilDiv(d, time.Second); secs < 60 {
		return fmt.Sprintf("%d s", secs)
	}
	mins := ceilDiv(d, time.Minute)
	switch {
	case mins < 60:
		return fmt.Sprintf("%d min", mins)
	case mins%60 == 0 && mins < 48*60:
		return fmt.Sprintf("%d h", mins/60)
	case mins < 48*60:
		return fmt.Sprintf("%d h %d min", mins/60, mins%60)
	}
	return fmt.Sprintf("%d days", ceilDiv(d, 24*time.Hour))
}

func ceilDiv(d, unit time.Duration) int64 {
	return int64((d + unit - 1) / unit)
}
