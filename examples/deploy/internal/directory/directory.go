// Package directory holds what the issuer, the wallet and the scanner
// share about the published key directory: its paths and the log's,
// reading a pinned trust policy, and explaining why a directory was
// refused. Fetching is token/tokenhttp's.
package directory

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/statustoken/statustoken/token/tokenhttp"
)

// The protocol's paths and headers (token/SPEC.md, "Wallet–issuer
// protocol"), as package tokenhttp names them.
const (
	// Path is where the issuer serves the directory's exact bytes.
	Path = tokenhttp.DirectoryPath
	// SignaturePath is where the issuer serves the detached signature.
	SignaturePath = tokenhttp.SignaturePath
	// SignatureHeader carries the signature, in standard base64, on the
	// directory's own response, so that one request gets a matching pair.
	SignatureHeader = tokenhttp.SignatureHeader
	// ProofPath is where the issuer serves the directory's log proof, a
	// c2sp.org/tlog-proof@v1 bundle, as text.
	ProofPath = tokenhttp.ProofPath
	// ProofHeader carries the proof, in standard base64, on the
	// directory's own response.
	ProofHeader = tokenhttp.ProofHeader
	// TokenRequestPath is where the issuer takes blind token requests.
	TokenRequestPath = tokenhttp.TokenRequestPath

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
