package server_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/statustoken/statustoken/examples/web/internal/server"
	"github.com/statustoken/statustoken/token"
)

func get(t *testing.T, h http.Handler, path string, header ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func body(t *testing.T, r *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFiles(t *testing.T) {
	dist := t.TempDir()
	wasm := bytes.Repeat([]byte("\x00asm module "), 1000)
	if err := os.WriteFile(filepath.Join(dist, "scanner.wasm"), wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	h := server.Handler(server.Config{Root: "../..", Dist: dist})

	r := get(t, h, "/")
	if r.StatusCode != 200 || !bytes.Contains(body(t, r), []byte("<title>Health token scanner</title>")) {
		t.Fatalf("GET /: %s", r.Status)
	}
	if r.Header.Get("Content-Security-Policy") != server.CSP || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("GET /: headers %v", r.Header)
	}
	if r := get(t, h, "/scanner.js"); r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("GET /scanner.js: %s %s", r.Status, r.Header.Get("Content-Type"))
	}

	r = get(t, h, "/dist/scanner.wasm")
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/wasm" || !bytes.Equal(body(t, r), wasm) {
		t.Errorf("GET /dist/scanner.wasm: %s %s", r.Status, r.Header.Get("Content-Type"))
	}
	r = get(t, h, "/dist/scanner.wasm", "Accept-Encoding", "br, gzip")
	if r.Header.Get("Content-Encoding") != "gzip" || r.Header.Get("Content-Type") != "application/wasm" {
		t.Fatalf("gzip: %v", r.Header)
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(zr); !bytes.Equal(got, wasm) || r.ContentLength >= int64(len(wasm)) {
		t.Errorf("gzip: %d bytes for %d, decoded %d", r.ContentLength, len(wasm), len(got))
	}
	if r := get(t, h, "/dist/scanner.wasm", "Accept-Encoding", "gzip;q=0"); r.Header.Get("Content-Encoding") != "" {
		t.Error("gzip sent to a client that refused it")
	}

	// Only the listed files: nothing else of the module or of node_modules.
	for _, p := range []string{"/go.mod", "/doc.go", "/wasm/main.go", "/node_modules/barcode-detector/package.json",
		"/dist/", "/dist/wasm_exec.js", server.DirectoryPath} {
		if r := get(t, h, p); r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %s, want 404", p, r.Status)
		}
	}
}

func TestPublished(t *testing.T) {
	p := &token.Published{Directory: []byte(`{"version":1}`), Signature: bytes.Repeat([]byte{7}, 64), Proof: []byte("c2sp.org/tlog-proof@v1\nindex 0\n\nx\n")}
	h := server.Handler(server.Config{Root: t.TempDir(), Dist: t.TempDir(), Published: p})

	r := get(t, h, server.DirectoryPath)
	if r.StatusCode != 200 || !bytes.Equal(body(t, r), p.Directory) {
		t.Fatalf("GET %s: %s", server.DirectoryPath, r.Status)
	}
	for name, want := range map[string][]byte{server.SignatureHeader: p.Signature, server.ProofHeader: p.Proof} {
		if got, err := base64.StdEncoding.DecodeString(r.Header.Get(name)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("header %s = %q", name, r.Header.Get(name))
		}
	}
	if e := r.Header.Get("Access-Control-Expose-Headers"); !strings.Contains(e, server.SignatureHeader) || !strings.Contains(e, server.ProofHeader) {
		t.Errorf("Access-Control-Expose-Headers %q", e)
	}
	if r := get(t, h, server.SignaturePath); !bytes.Equal(body(t, r), p.Signature) {
		t.Error("wrong signature file")
	}
	if r := get(t, h, server.ProofPath); !bytes.Equal(body(t, r), p.Proof) {
		t.Error("wrong proof file")
	}
	// The server's copy does not change with the caller's.
	p.Directory[0] = 'X'
	if r := get(t, h, server.DirectoryPath); body(t, r)[0] != '{' {
		t.Error("the served directory changed with the caller's slice")
	}
}
