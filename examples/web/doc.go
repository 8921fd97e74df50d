// Package web is the statustoken web scanner: a static page (index.html,
// scanner.js) and a WebAssembly build of a thin wrapper over package
// verify (./wasm), served for local use by ./cmd/serve. It loads an
// issuer's directory, its signature and its proof once, under a trust
// policy pinned at build time or given once by the operator, and then
// verifies every QR code the camera sees without sending any request.
// See README.md.
//
// The package itself holds only the browser test, which runs the page in
// Chromium with a fake camera.
package web
