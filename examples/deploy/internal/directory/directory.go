// Package directory holds what the issuer, the wallet and the scanner
// share about the published key directory: its paths and the log's,
// fetching a directory with its signature and log proof, reading a pinned
// trust policy, and explaining why a directory was refused.
package directory

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/statustoken/statustoken/token"
)

const (
	// Path is where the issuer serves the directory's exact bytes.
	Path = "/.well-known/statustoken-directory"
	// SignaturePath is where the issuer serves the detached signature.
	SignaturePath = "/.well-known/statustoken-directory.sig"
	// SignatureHeader carries the signature, in standard base64, on the
	// directory's own response, so that one request gets a matching pair.
	SignatureHeader = "Statustoken-Directory-Signature"
	// ProofPath is where the issuer serves the directory's log proof, a
	// c2sp.org/tlog-proof@v1 bundle, as text.
	ProofPath = "/.well-known/statustoken-directory.proof"
	// ProofHeader carries the proof, in standard base64, on the
	// directory's own response.
	ProofHeader = "Statustoken-Directory-Proof"
	// TokenRequestPath is where the issuer takes blind token requests.
	TokenRequestPath = "/token-request"

	// The issuer's log (c2sp.org/tlog-tiles), for monitors:
	//
	//	/log/checkpoint               the latest cosigned checkpoint
	//	/log/tile/<L>/<N>[.p/<W>]     Merkle tree tiles
	//	/log/tile/entries/<N>[.p/<W>] record bundles
	//	/log/directory/<serial>       each logged directory, exact bytes
	//	/log/directory/<serial>.sig   its detached root signature

	// LogPrefix is the base path of the log.
	LogPrefix = "/log"
	// CheckpointPath is where the issuer serves the latest checkpoint that
	// a quorum of its witnesses cosigned.
	CheckpointPath = LogPrefix + "/checkpoint"
	// TilePrefix is followed by a tile path without its "tile/" (a
	// tlog-tiles URL under the prefix LogPrefix).
	TilePrefix = LogPrefix + "/tile/"
	// ArchivePrefix is followed by a serial, or a serial and ".sig".
	ArchivePrefix = LogPrefix + "/directory/"
)

// IssuerURL checks an issuer's base URL: http or https, with a host, and
// no query or fragment. It returns the URL without a trailing slash.
func IssuerURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(s, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("issuer URL %q: want http(s)://host[:port][/path]", s)
	}
	return u, nil
}

// Loopback reports whether u's host is this machine (localhost or a
// loopback address), where plain http exposes nothing.
func Loopback(u *url.URL) bool {
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// maxErrorBody bounds what is read of an error response.
const maxErrorBody = 1024

// Fetch gets the directory, its signature and its log proof from the
// issuer at base: one request when the issuer sends the signature and the
// proof in headers, else one more for each from its own path, with the
// same ETag. An issuer that serves no proof at all (404) gives an empty
// Proof, which holder.New and verify.New refuse as not logged. Nothing is
// checked here; pass the result to holder.New or verify.New with the
// pinned trust policy.
func Fetch(ctx context.Context, c *http.Client, base *url.URL) (token.Published, error) {
	var p token.Published
	data, h, err := get(ctx, c, base.String()+Path, token.MaxDirectorySize)
	if err != nil {
		return p, err
	}
	p.Directory = data
	sameVersion := func(h2 http.Header) error {
		if h.Get("ETag") != h2.Get("ETag") {
			return errors.New("the directory changed while it was fetched; try again")
		}
		return nil
	}
	if v := h.Get(SignatureHeader); v != "" {
		p.Signature, err = base64.StdEncoding.Strict().DecodeString(v)
		if err != nil || len(p.Signature) != token.DirectorySignatureSize {
			return p, fmt.Errorf("issuer sent a malformed %s header", SignatureHeader)
		}
	} else {
		sig, h2, err := get(ctx, c, base.String()+SignaturePath, token.DirectorySignatureSize)
		if err != nil {
			return p, err
		}
		if err := sameVersion(h2); err != nil {
			return p, err
		}
		p.Signature = sig
	}
	if v := h.Get(ProofHeader); v != "" {
		p.Proof, err = base64.StdEncoding.Strict().DecodeString(v)
		if err != nil || len(p.Proof) > token.MaxProofSize {
			return p, fmt.Errorf("issuer sent a malformed %s header", ProofHeader)
		}
		return p, nil
	}
	proof, h2, err := get(ctx, c, base.String()+ProofPath, token.MaxProofSize)
	var status statusError
	switch {
	case errors.As(err, &status) && status.code == http.StatusNotFound:
		return p, nil
	case err != nil:
		return p, err
	}
	if err := sameVersion(h2); err != nil {
		return p, err
	}
	p.Proof = proof
	return p, nil
}

func get(ctx context.Context, c *http.Client, u string, limit int64) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, statusError{resp.StatusCode, ResponseError(resp)}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %v", u, err)
	}
	if int64(len(data)) > limit {
		return nil, nil, fmt.Errorf("%s: response larger than %d bytes", u, limit)
	}
	return data, resp.Header, nil
}

// statusError is an error response, with its status code.
type statusError struct {
	code int
	err  error
}

func (e statusError) Error() string { return e.err.Error() }

// ResponseError describes an issuer's error response by its status and
// the first line of its body.
func ResponseError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, strings.TrimSpace(line))
	msg := fmt.Sprintf("issuer answered %s", resp.Status)
	if line != "" {
		msg += ": " + line
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" && resp.StatusCode == http.StatusTooManyRequests && !strings.Contains(line, "retry in") {
		msg += " (Retry-After: " + strings.Map(func(r rune) rune {
			if r < '0' || r > '9' {
				return -1
			}
			return r
		}, ra) + " s)"
	}
	return errors.New(msg)
}
