// Package tokenhttp is the client side of statustoken's wallet–issuer HTTP
// protocol (token/SPEC.md, "Wallet–issuer protocol"), for wallets and
// scanners: Client.FetchDirectory gets an issuer's published directory
// (token.Published) with bounded reads, Client.Open also checks it under a
// pinned trust policy (token.Open), and Client.RequestTokens sends a blind
// token request and returns the issuer's response. To an issuer whose
// directory has a decision policy (token/SPEC.md, "Decisions"),
// Client.RequestDecision sends the request with the holder's commitment
// and returns the answer with its receipt, a refusal as well as a grant,
// and Client.FetchDecisionProof gets the proof of a receipt's record in
// the decision log.
//
// The package makes HTTP requests and nothing else: it checks no token
// and keeps no state. A scanner passes what FetchDirectory returns to
// verify.New or verify.Verifier.Update; a wallet builds its request with
// holder.Holder.Request and passes the response to holder.Holder.Finalize.
// Packages verify and holder link no network code; this one does, and
// imports neither. The issuer's side is package issue/issuehttp.
//
// # Errors
//
// An answer other than 200 OK is a *StatusError, which carries the status
// code, the first line of the issuer's message and its Retry-After, and
// wraps one of ErrBadRequest, ErrUnauthorized, ErrForbidden,
// ErrNotIssuing, ErrRateLimited, ErrUnavailable, ErrNotYetLogged or
// ErrUnexpectedStatus (see each for the codes); RequestDecision returns a
// refusal that carries a decision (403) in its Decision instead. A 200 answer that breaks the protocol wraps
// ErrMalformedResponse; a directory that changed between the requests of
// one fetch, ErrChanged. A base URL that is not usable is ErrBaseURL, and a
// credential that would go over plain http to another machine,
// ErrInsecure. Failures of the transport (connection, timeout, the
// context) are returned as net/http returns them, wrapped. Client.Open
// also returns the errors of token.Open.
package tokenhttp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/statustoken/statustoken/internal/format"
	"github.com/statustoken/statustoken/token"
)

// Paths, relative to an issuer's base URL, and headers of the protocol
// (SPEC.md, "Wallet–issuer protocol").
const (
	// DirectoryPath serves the directory's exact bytes (GET), with the
	// signature and the proof in SignatureHeader and ProofHeader.
	DirectoryPath = "/.well-known/statustoken-directory"
	// SignaturePath serves the directory's detached 64-byte signature.
	SignaturePath = DirectoryPath + ".sig"
	// ProofPath serves the directory's c2sp.org/tlog-proof@v1 bundle.
	ProofPath = DirectoryPath + ".proof"
	// TokenRequestPath takes blind token requests (POST).
	TokenRequestPath = "/token-request"
	// DecisionLogPath is the prefix of the decision log's paths
	// (c2sp.org/tlog-tiles: DecisionLogPath + "checkpoint", + "tile/...").
	DecisionLogPath = "/decisions/"
	// DecisionProofPath, followed by the 64 lower-case hex digits of the
	// SHA-256 of a decision record's bytes, serves the proof of that
	// record in the decision log (GET).
	DecisionProofPath = DecisionLogPath + "proof/"

	// SignatureHeader carries the directory's signature in standard
	// base64 (with padding) on the directory's response.
	SignatureHeader = "Statustoken-Directory-Signature"
	// ProofHeader carries the directory's proof bundle in standard
	// base64 (with padding) on the directory's response.
	ProofHeader = "Statustoken-Directory-Proof"
	// CommitmentHeader carries the holder's 32-byte commitment
	// (token.Opening.Commitment) in standard base64 on a token request
	// to an issuer with a decision policy.
	CommitmentHeader = "Statustoken-Commitment"
	// EvidenceHeader carries the evidence the holder presents, 1 to
	// MaxEvidenceSize bytes in standard base64, on such a request; it is
	// optional.
	EvidenceHeader = "Statustoken-Evidence"
	// ReceiptHeader carries the issuer's receipt in standard base64 on
	// every answer that carries a decision: 200 and 403.
	ReceiptHeader = "Statustoken-Receipt"
)

// Media types of the protocol's bodies.
const (
	// DirectoryType is the media type of the directory.
	DirectoryType = "application/json"
	// SignatureType is the media type of the detached signature.
	SignatureType = "application/octet-stream"
	// ProofType is the media type of the proof bundle.
	ProofType = "text/plain; charset=utf-8"
	// RequestType is the media type of a token request; an issuer
	// refuses any other with 415.
	RequestType = "application/octet-stream"
	// ResponseType is the media type of a token response.
	ResponseType = "application/octet-stream"
	// ErrorType is the media type of every error answer: one line of
	// text for people.
	ErrorType = "text/plain; charset=utf-8"
	// DecisionProofType is the media type of a decision log proof.
	DecisionProofType = "application/octet-stream"
)

// Size limits of the protocol's bodies.
const (
	// MaxRequestSize is the length of the largest token request
	// (SPEC.md, "Blind issuance"); an issuer answers a longer one with
	// 413.
	MaxRequestSize = format.MaxBlindSize
	// MaxResponseSize is the length of the largest token response.
	MaxResponseSize = format.MaxBlindSize
	// MaxErrorSize is how much of an error answer's body is read.
	MaxErrorSize = 1024
	// MaxEvidenceSize is the length of the largest evidence a holder
	// presents; an issuer answers longer evidence with 413.
	MaxEvidenceSize = 2048
)

var (
	// ErrBaseURL: the issuer's base URL is not http or https with a
	// host, or has a user, query or fragment.
	ErrBaseURL = errors.New("tokenhttp: unusable issuer URL")
	// ErrInsecure: a token request would send the credential over
	// plain http to a host that is not this machine. Use https.
	ErrInsecure = errors.New("tokenhttp: credential over plain http")
	// ErrMalformedResponse: the issuer answered 200 OK with a body or
	// header that breaks the protocol: larger than its limit, or a
	// signature or proof header that is not standard base64 of the
	// right length. Treat it as the issuer's fault.
	ErrMalformedResponse = errors.New("tokenhttp: malformed response")
	// ErrChanged: the issuer published a new directory between the
	// requests of one fetch (the ETags differ). Fetch again.
	ErrChanged = errors.New("tokenhttp: directory changed while it was fetched")

	// ErrBadRequest: the issuer refused the request as malformed (400),
	// too large (413), of the wrong media type (415) or method (405): a
	// fault of the client, not worth repeating.
	ErrBadRequest = errors.New("tokenhttp: request refused as malformed")
	// ErrUnauthorized: no credential, or one the issuer does not know
	// (401).
	ErrUnauthorized = errors.New("tokenhttp: credential refused")
	// ErrForbidden: the request is for a status the issuer did not
	// assign to this holder, or the issuer refused it (403). From an
	// issuer with a decision policy a 403 carries a receipt:
	// RequestDecision returns it in a Decision.
	ErrForbidden = errors.New("tokenhttp: status not assigned to this holder")
	// ErrNotYetLogged: the issuer has no proof yet of the decision record
	// asked for (404 on DecisionProofPath). Wait StatusError.RetryAfter.
	// A record still missing decision_log_delay after its receipt is
	// evidence against the issuer.
	ErrNotYetLogged = errors.New("tokenhttp: decision not yet in the decision log")
	// ErrNotIssuing: the request names no key the issuer issues with
	// now (409). Fetch the directory again, then request again.
	ErrNotIssuing = errors.New("tokenhttp: issuer does not issue with this key")
	// ErrRateLimited: the holder's rate limit is reached (429). Wait
	// StatusError.RetryAfter.
	ErrRateLimited = errors.New("tokenhttp: rate limited")
	// ErrUnavailable: the issuer cannot answer now (503): no directory
	// published yet, its authentication unavailable, or too many holders
	// served. Wait StatusError.RetryAfter.
	ErrUnavailable = errors.New("tokenhttp: issuer unavailable")
	// ErrUnexpectedStatus: any other status: 500 (the issuer failed), a
	// redirect (never followed by the default client), 404 (no issuer at
	// that URL), and every code the protocol does not use.
	ErrUnexpectedStatus = errors.New("tokenhttp: unexpected answer")
)

// StatusError is an issuer's answer other than 200 OK. errors.Is finds
// its sentinel through Unwrap.
type StatusError struct {
	// Err is the sentinel of Code (see the package's Errors).
	Err error
	// Code is the HTTP status code.
	Code int
	// Message is the first line of the issuer's text, without control
	// characters, at most MaxErrorSize bytes; empty if it sent none. It is
	// for people: the protocol gives it no meaning.
	Message string
	// RetryAfter is the wait the issuer asked for in Retry-After, in
	// whole seconds; zero when it sent none, or a value that is not
	// delay-seconds (SPEC.md).
	RetryAfter time.Duration
}

// Error describes the answer: its status, the issuer's message and the
// wait it asked for.
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("issuer answered %d %s", e.Code, http.StatusText(e.Code))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (Retry-After: %d s)", e.RetryAfter/time.Second)
	}
	return msg
}

// Unwrap returns the sentinel, Err.
func (e *StatusError) Unwrap() error { return e.Err }

// maxRetryAfter bounds the Retry-After a client reports: one week.
const maxRetryAfter = 7 * 24 * time.Hour

// statusError reads resp's error answer into a *StatusError.
func statusError(resp *http.Response) *StatusError {
	e := &StatusError{Code: resp.StatusCode}
	switch resp.StatusCode {
	case http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		e.Err = ErrBadRequest
	case http.StatusUnauthorized:
		e.Err = ErrUnauthorized
	case http.StatusForbidden:
		e.Err = ErrForbidden
	case http.StatusConflict:
		e.Err = ErrNotIssuing
	case http.StatusTooManyRequests:
		e.Err = ErrRateLimited
	case http.StatusServiceUnavailable:
		e.Err = ErrUnavailable
	default:
		e.Err = ErrUnexpectedStatus
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxErrorSize))
	line, _, _ := strings.Cut(string(b), "\n")
	e.Message = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == '\uFFFD' {
			return -1
		}
		return r
	}, strings.TrimSpace(line))
	e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"))
	return e
}

// retryAfter reads a Retry-After of delay-seconds (RFC 9110, section
// 10.2.3), capped at maxRetryAfter; anything else is zero.
func retryAfter(v string) time.Duration {
	if v == "" || len(v) > 10 {
		return 0
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0
	}
	return min(time.Duration(n)*time.Second, maxRetryAfter)
}

// Client speaks the protocol to one issuer. Its methods are safe for
// concurrent use.
type Client struct {
	base *url.URL
	hc   *http.Client
}

// NewClient returns a client of the issuer at base, an http or https URL
// with a host and an optional path prefix (a trailing slash is dropped),
// with no user, query or fragment; else ErrBaseURL.
//
// hc makes the requests; when nil, a client that follows no redirect:
// a redirect is returned as a *StatusError wrapping ErrUnexpectedStatus.
// Set timeouts on hc or on the contexts passed to the methods: the
// package bounds what it reads, not how long it waits.
func NewClient(base string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("%w: %q: want http(s)://host[:port][/path]", ErrBaseURL, base)
	}
	if hc == nil {
		hc = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	return &Client{base: u, hc: hc}, nil
}

// BaseURL returns the issuer's base URL, without a trailing slash.
func (c *Client) BaseURL() string { return c.base.String() }

// FetchDirectory gets the issuer's published directory (SPEC.md,
// "Publishing and fetching a directory"): the directory from
// DirectoryPath, at most token.MaxDirectorySize bytes, with its signature
// and proof from the headers of that answer, or, for each header the
// issuer did not send, from SignaturePath (exactly
// token.DirectorySignatureSize bytes) and ProofPath (at most
// token.MaxProofSize), whose ETag must equal the directory's (else
// ErrChanged). An issuer that answers 404 for the proof gives an
// empty Proof, which token.Open refuses as not logged. Nothing is checked
// but sizes and encodings: pass the result to verify.New, holder.New or
// token.Open with the pinned trust policy, or call Client.Open.
func (c *Client) FetchDirectory(ctx context.Context) (token.Published, error) {
	var p token.Published
	data, h, err := c.get(ctx, DirectoryPath, token.MaxDirectorySize)
	if err != nil {
		return token.Published{}, err
	}
	p.Directory = data
	etag := h.Get("ETag")
	sameVersion := func(h2 http.Header) error {
		if h2.Get("ETag") != etag {
			return ErrChanged
		}
		return nil
	}
	if v := h.Get(SignatureHeader); v != "" {
		if p.Signature, err = decodeHeader(SignatureHeader, v, token.DirectorySignatureSize); err != nil {
			return token.Published{}, err
		}
		if len(p.Signature) != token.DirectorySignatureSize {
			return token.Published{}, fmt.Errorf("%w: %s is not %d bytes", ErrMalformedResponse, SignatureHeader, token.DirectorySignatureSize)
		}
	} else {
		sig, h2, err := c.get(ctx, SignaturePath, token.DirectorySignatureSize)
		if err != nil {
			return token.Published{}, err
		}
		if len(sig) != token.DirectorySignatureSize {
			return token.Published{}, fmt.Errorf("%w: signature of %d bytes, want %d", ErrMalformedResponse, len(sig), token.DirectorySignatureSize)
		}
		if err := sameVersion(h2); err != nil {
			return token.Published{}, err
		}
		p.Signature = sig
	}
	if v := h.Get(ProofHeader); v != "" {
		if p.Proof, err = decodeHeader(ProofHeader, v, token.MaxProofSize); err != nil {
			return token.Published{}, err
		}
		return p, nil
	}
	proof, h2, err := c.get(ctx, ProofPath, token.MaxProofSize)
	var se *StatusError
	switch {
	case errors.As(err, &se) && se.Code == http.StatusNotFound:
		return p, nil
	case err != nil:
		return token.Published{}, err
	}
	if err := sameVersion(h2); err != nil {
		return token.Published{}, err
	}
	p.Proof = proof
	return p, nil
}

// decodeHeader decodes the strict standard base64 header value v of
// at most limit bytes.
func decodeHeader(name, v string, limit int) ([]byte, error) {
	if len(v) > base64.StdEncoding.EncodedLen(limit) {
		return nil, fmt.Errorf("%w: %s longer than %d bytes", ErrMalformedResponse, name, limit)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not standard base64", ErrMalformedResponse, name)
	}
	if len(b) > limit {
		return nil, fmt.Errorf("%w: %s longer than %d bytes", ErrMalformedResponse, name, limit)
	}
	return b, nil
}

// Open fetches the issuer's directory as FetchDirectory does and checks
// it with token.Open under trust, against prev (what the caller accepted
// before) at time now. It returns what was fetched, for the caller to
// save, with token.Open's results; on error nothing is to be saved.
// Wallets and scanners that keep a holder.Holder or verify.Verifier pass
// FetchDirectory's result to it instead, which checks it the same way.
func (c *Client) Open(ctx context.Context, trust *token.Trust, prev token.Accepted, now time.Time) (token.Published, *token.Directory, token.Accepted, error) {
	p, err := c.FetchDirectory(ctx)
	if err != nil {
		return token.Published{}, nil, prev, err
	}
	dir, acc, err := token.Open(p, trust, prev, now)
	if err != nil {
		return token.Published{}, nil, prev, err
	}
	return p, dir, acc, nil
}

// RequestTokens sends a blind token request (holder.Holder.Request's
// bytes) to TokenRequestPath with the holder's credential as
// "Authorization: Bearer <credential>" and returns the issuer's
// response, at most MaxResponseSize bytes, for holder.Holder.Finalize.
// The credential is never part of an error. It refuses, before sending
// anything, a request longer than MaxRequestSize (ErrBadRequest), and a
// credential that would go over plain http to another host than this
// machine (ErrInsecure).
//
// A refusal is a *StatusError; on ErrRateLimited and ErrUnavailable wait
// its RetryAfter before asking again. A response that is lost after the
// issuer signed it (a transport error while reading) costs the holder
// that request of its rate limit: store what you need before asking.
func (c *Client) RequestTokens(ctx context.Context, credential string, request []byte) ([]byte, error) {
	resp, err := c.post(ctx, credential, request, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, statusError(resp)
	}
	return readLimited(resp.Body, MaxResponseSize, "token response")
}

// Decision is an issuer's answer that carries a decision (SPEC.md,
// "Decisions"): a grant (200) or a refusal (403), with the receipt.
type Decision struct {
	// Response is the TokenResponse of a grant, for
	// holder.Holder.Finalize; nil for a refusal.
	Response []byte
	// Receipt is the receipt the answer carried, nil if it carried
	// none. Check it with holder.Holder.CheckReceipt before the answer is
	// used or stored: a missing or bad receipt is itself what the wallet
	// records.
	Receipt []byte
	// Refusal is the 403 answer (wrapping ErrForbidden); nil for a
	// grant.
	Refusal *StatusError
}

// RequestDecision sends a blind token request to an issuer whose
// directory has a decision policy, as RequestTokens does, with the
// holder's commitment (token.Opening.Commitment) in CommitmentHeader and,
// unless evidence is empty, the evidence in EvidenceHeader. It refuses,
// before sending anything, evidence longer than MaxEvidenceSize
// (ErrBadRequest).
//
// An answer of 200 or 403 is a Decision, with the receipt from
// ReceiptHeader (nil when the header is absent; a header that is not
// strict standard base64 of at most token.ReceiptSize bytes is
// ErrMalformedResponse). Every other answer is a *StatusError, as for
// RequestTokens: no decision was taken.
func (c *Client) RequestDecision(ctx context.Context, credential string, request []byte, commitment [32]byte, evidence []byte) (*Decision, error) {
	if len(evidence) > MaxEvidenceSize {
		return nil, fmt.Errorf("%w: evidence of %d bytes, the limit is %d", ErrBadRequest, len(evidence), MaxEvidenceSize)
	}
	h := http.Header{CommitmentHeader: {base64.StdEncoding.EncodeToString(commitment[:])}}
	if len(evidence) > 0 {
		h.Set(EvidenceHeader, base64.StdEncoding.EncodeToString(evidence))
	}
	resp, err := c.post(ctx, credential, request, h)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusForbidden {
		return nil, statusError(resp)
	}
	d := new(Decision)
	if v := resp.Header.Values(ReceiptHeader); len(v) > 1 {
		return nil, fmt.Errorf("%w: %d %s headers", ErrMalformedResponse, len(v), ReceiptHeader)
	} else if len(v) == 1 {
		if d.Receipt, err = decodeHeader(ReceiptHeader, v[0], token.ReceiptSize); err != nil {
			return nil, err
		}
	}
	if resp.StatusCode == http.StatusForbidden {
		d.Refusal = statusError(resp)
		return d, nil
	}
	if d.Response, err = readLimited(resp.Body, MaxResponseSize, "token response"); err != nil {
		return nil, err
	}
	return d, nil
}

// post sends a token request with the extra headers h.
func (c *Client) post(ctx context.Context, credential string, request []byte, h http.Header) (*http.Response, error) {
	if len(request) > MaxRequestSize {
		return nil, fmt.Errorf("%w: request of %d bytes, the limit is %d", ErrBadRequest, len(request), MaxRequestSize)
	}
	if c.base.Scheme == "http" && !loopback(c.base) {
		return nil, fmt.Errorf("%w: refusing to send the credential to %s: use https", ErrInsecure, c.base.Host)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base.String()+TokenRequestPath, bytes.NewReader(request))
	if err != nil {
		return nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", RequestType)
	req.Header.Set("Authorization", "Bearer "+credential)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("tokenhttp: sending the token request: %w", err)
	}
	return resp, nil
}

// FetchDecisionProof gets the proof of a decision record in the issuer's
// decision log (SPEC.md, "Decision log"): recordHash is the SHA-256 of
// the record's bytes (token.RecordOf(receipt).MarshalBinary()). It
// returns the c2sp.org/tlog-proof@v1 bundle, 1 to token.MaxProofSize
// bytes, for holder.Holder.CheckDecisionProof, which checks it. While the
// record is in no cosigned checkpoint yet the issuer answers 404: a
// *StatusError wrapping ErrNotYetLogged, whose RetryAfter says when to
// ask again.
func (c *Client) FetchDecisionProof(ctx context.Context, recordHash [32]byte) ([]byte, error) {
	proof, _, err := c.get(ctx, DecisionProofPath+hex.EncodeToString(recordHash[:]), token.MaxProofSize)
	var se *StatusError
	switch {
	case errors.As(err, &se) && se.Code == http.StatusNotFound:
		se.Err = ErrNotYetLogged
		return nil, se
	case err != nil:
		return nil, err
	case len(proof) == 0:
		return nil, fmt.Errorf("%w: empty decision proof", ErrMalformedResponse)
	}
	return proof, nil
}

// get fetches path from the issuer: a 200 answer's body of at most limit
// bytes, and its header.
func (c *Client) get(ctx context.Context, path string, limit int) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base.String()+path, nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("tokenhttp: fetching %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, statusError(resp)
	}
	data, err := readLimited(resp.Body, limit, path)
	if err != nil {
		return nil, nil, err
	}
	return data, resp.Header, nil
}

// readLimited reads r to its end, refusing more than limit bytes.
func readLimited(r io.Reader, limit int, what string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("tokenhttp: reading %s: %w", what, err)
	}
	if len(data) > limit {
		return nil, fmt.Errorf("%w: %s larger than %d bytes", ErrMalformedResponse, what, limit)
	}
	return data, nil
}

// loopback reports whether u's host is this machine (localhost or a
// loopback address), where plain http exposes nothing.
func loopback(u *url.URL) bool {
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
