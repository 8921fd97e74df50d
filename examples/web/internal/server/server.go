// Package server is the web scanner's file server: it serves the page, its
// script, the WebAssembly module and the two files of the QR decoder, and
// nothing else from disk; optionally it also publishes a directory at the
// issuer's well-known paths, as the deploy issuer does.
package server

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/statustoken/statustoken/token"
)

// The issuer's well-known paths (examples/deploy serves the same).
const (
	DirectoryPath   = "/.well-known/statustoken-directory"
	SignaturePath   = "/.well-known/statustoken-directory.sig"
	ProofPath       = "/.well-known/statustoken-directory.proof"
	SignatureHeader = "Statustoken-Directory-Signature"
	ProofHeader     = "Statustoken-Directory-Proof"
)

// Config says what to serve.
type Config struct {
	// Root is the examples/web directory: index.html, scanner.js and
	// node_modules (after `npm ci`).
	Root string
	// Dist holds scanner.wasm and wasm_exec.js (internal/build).
	Dist string
	// Published, when set, is served at the well-known paths.
	Published *token.Published
}

// files maps each URL path served from disk to its file, relative to
// Root ("root/") or Dist ("dist/").
var files = map[string]string{
	"/":                  "root/index.html",
	"/index.html":        "root/index.html",
	"/scanner.js":        "root/scanner.js",
	"/dist/scanner.wasm": "dist/scanner.wasm",
	"/dist/wasm_exec.js": "dist/wasm_exec.js",
	"/node_modules/barcode-detector/dist/iife/ponyfill.js":   "root/node_modules/barcode-detector/dist/iife/ponyfill.js",
	"/node_modules/zxing-wasm/dist/reader/zxing_reader.wasm": "root/node_modules/zxing-wasm/dist/reader/zxing_reader.wasm",
}

// CSP is the page's content security policy. Scripts come only from this
// server (and WebAssembly may be compiled); fetches may go to this server
// and to an issuer elsewhere, until the page has loaded its directory:
// then it adds a policy of its own that forbids every further request.
const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; media-src 'self' blob: mediastream:; " +
	"connect-src 'self' https: http://localhost:* http://127.0.0.1:*; " +
	"object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler returns the server's handler.
func Handler(c Config) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		rel, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		base := c.Root
		if rel[:5] == "dist/" {
			base = c.Dist
		}
		name := filepath.Join(base, filepath.FromSlash(rel[5:]))
		f, err := os.Open(name)
		if err != nil {
			http.Error(w, "not built or not installed: "+rel[5:]+" (run `npm ci` and build the scanner, see README.md)", http.StatusNotFound)
			return
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		headers(w)
		// Revalidate every time: a rebuilt module or page is picked up at
		// once, and an unchanged one costs a 304.
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			if z, err := gz.get(name, fi); err == nil {
				w.Header().Set("Content-Encoding", "gzip")
				http.ServeContent(w, r, fi.Name(), fi.ModTime(), bytes.NewReader(z))
				return
			}
		}
		http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
	})
	if p := c.Published; p != nil {
		dir, sig, proof := bytes.Clone(p.Directory), bytes.Clone(p.Signature), bytes.Clone(p.Proof)
		serve := func(typ string, data []byte, extra func(http.Header)) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				h := w.Header()
				h.Set("Content-Type", typ)
				h.Set("Cache-Control", "no-cache")
				// Another origin's scanner page may fetch it too, and read
				// the two headers.
				h.Set("Access-Control-Allow-Origin", "*")
				h.Set("Access-Control-Expose-Headers", SignatureHeader+", "+ProofHeader)
				h.Set("X-Content-Type-Options", "nosniff")
				if extra != nil {
					extra(h)
				}
				http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
			}
		}
		mux.HandleFunc("GET "+DirectoryPath, serve("application/json", dir, func(h http.Header) {
			h.Set(SignatureHeader, base64.StdEncoding.EncodeToString(sig))
			h.Set(ProofHeader, base64.StdEncoding.EncodeToString(proof))
		}))
		mux.HandleFunc("GET "+SignaturePath, serve("application/octet-stream", sig, nil))
		mux.HandleFunc("GET "+ProofPath, serve("text/plain; charset=utf-8", proof, nil))
	}
	return mux
}

func acceptsGzip(r *http.Request) bool {
	for _, e := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		if name, q, _ := strings.Cut(strings.TrimSpace(e), ";"); name == "gzip" && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}

// gzipCache holds the gzip encoding of each file served, made on its
// first request and made again when the file changes (the WebAssembly
// modules shrink to about a quarter).
type gzipCache struct {
	mu sync.Mutex
	m  map[string]gzipped
}

type gzipped struct {
	mod  time.Time
	size int64
	data []byte
}

var gz = gzipCache{m: make(map[string]gzipped)}

func (c *gzipCache) get(name string, fi os.FileInfo) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[name]; ok && e.mod.Equal(fi.ModTime()) && e.size == fi.Size() {
		return e.data, nil
	}
	raw, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(raw)
	if err := zw.Close(); err != nil {
		return nil, err
	}
	c.m[name] = gzipped{mod: fi.ModTime(), size: fi.Size(), data: buf.Bytes()}
	return buf.Bytes(), nil
}

func headers(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}
