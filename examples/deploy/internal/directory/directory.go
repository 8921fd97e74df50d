// Package directory holds what the issuer, the wallet and the scanner
// share about the published key directory: its paths, fetching it, reading
// a pinned root key, and refusing an older directory than one accepted.
package directory

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
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
	// TokenRequestPath is where the issuer takes blind token requests.
	TokenRequestPath = "/token-request"
)

// ParseRootKey reads a pinned root public key: the name of a file holding
// its base64 text (the issuer's root.pub), or that text itself, in
// standard base64 or unpadded base64url. An existing file takes precedence.
func ParseRootKey(v string) (ed25519.PublicKey, error) {
	if fi, err := os.Stat(v); err == nil && fi.Mode().IsRegular() {
		f, err := os.Open(v)
		if err != nil {
			return nil, fmt.Errorf("reading root key file %s: %v", v, err)
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, 1024))
		if err != nil {
			return nil, fmt.Errorf("reading root key file %s: %v", v, err)
		}
		if k, ok := decodeKey(string(data)); ok {
			return k, nil
		}
		return nil, fmt.Errorf("root key file %s does not hold a base64 Ed25519 public key", v)
	}
	if k, ok := decodeKey(v); ok {
		return k, nil
	}
	return nil, fmt.Errorf("root key %q is neither a base64 Ed25519 public key nor a readable file holding one", v)
}

func decodeKey(s string) (ed25519.PublicKey, bool) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
		if b, err := enc.Strict().DecodeString(s); err == nil && len(b) == ed25519.PublicKeySize {
			return ed25519.PublicKey(b), true
		}
	}
	return nil, false
}

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

// Fetch gets the directory and its signature from the issuer at base. The
// bytes are not checked; pass them to holder.New or verify.New with
// the pinned root key.
func Fetch(ctx context.Context, c *http.Client, base *url.URL) (data, sig []byte, err error) {
	data, h, err := get(ctx, c, base.String()+Path, token.MaxDirectorySize)
	if err != nil {
		return nil, nil, err
	}
	if v := h.Get(SignatureHeader); v != "" {
		sig, err = base64.StdEncoding.Strict().DecodeString(v)
		if err != nil || len(sig) != token.DirectorySignatureSize {
			return nil, nil, fmt.Errorf("issuer sent a malformed %s header", SignatureHeader)
		}
		return data, sig, nil
	}
	sig, h2, err := get(ctx, c, base.String()+SignaturePath, token.DirectorySignatureSize)
	if err != nil {
		return nil, nil, err
	}
	if h.Get("ETag") != h2.Get("ETag") {
		return nil, nil, errors.New("the directory changed while it was fetched; try again")
	}
	return data, sig, nil
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
		return nil, nil, ResponseError(resp)
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
	if ra := resp.Header.Get("Retry-After"); ra != "" && resp.StatusCode == http.StatusTooManyRequests {
		msg += " (Retry-After: " + strings.Map(func(r rune) rune {
			if r < '0' || r > '9' {
				return -1
			}
			return r
		}, ra) + " s)"
	}
	return errors.New(msg)
}

// ErrRollback is returned for a directory older than one accepted before.
var ErrRollback = errors.New("directory rollback")

// CheckNewer refuses next, a directory already checked under the pinned
// root key, when prev (a directory accepted before, or nil) has a higher
// serial, or the same serial with other bytes.
func CheckNewer(prev, next []byte) error {
	if prev == nil {
		return nil
	}
	p, err := token.ParseDirectory(prev)
	if err != nil {
		return fmt.Errorf("the stored directory is unreadable: %v", err)
	}
	n, err := token.ParseDirectory(next)
	if err != nil {
		return err
	}
	switch {
	case n.Serial < p.Serial:
		return fmt.Errorf("%w: the issuer sent serial %d, older than serial %d accepted before", ErrRollback, n.Serial, p.Serial)
	case n.Serial == p.Serial && !bytes.Equal(prev, next):
		return fmt.Errorf("%w: the issuer sent other contents under serial %d", ErrRollback, n.Serial)
	}
	return nil
}
