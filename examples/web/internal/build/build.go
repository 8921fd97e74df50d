// Package build builds the web scanner's WebAssembly module: `go build`
// of ./wasm for GOOS=js GOARCH=wasm, with the trust policy to pin passed
// in at link time, and a copy of the toolchain's own wasm_exec.js (the
// JavaScript half of Go's js/wasm port, which must match the compiler
// that built the module, so it is copied at build time, never committed).
package build

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Files written by Wasm into its output directory.
const (
	WasmFile = "scanner.wasm"
	ExecFile = "wasm_exec.js"
)

// Wasm builds module/wasm (module is the examples/web directory) into
// out/scanner.wasm and copies wasm_exec.js into out. trust, when not
// empty, is the trust policy pinned into the module: the page then uses
// it and nothing else. The go command is the first on PATH.
func Wasm(ctx context.Context, module, out string, trust []byte) error {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("the go command is needed to build the scanner: %v", err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	ldflags := "-s -w"
	if len(trust) > 0 {
		ldflags += " -X main.pinnedTrust=" + base64.StdEncoding.EncodeToString(trust)
	}
	target, err := filepath.Abs(filepath.Join(out, WasmFile))
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-ldflags="+ldflags, "-o", target, "./wasm")
	cmd.Dir = module
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("GOOS=js GOARCH=wasm go build ./wasm: %v\n%s", err, stderr.Bytes())
	}

	env := exec.CommandContext(ctx, goCmd, "env", "GOROOT")
	env.Dir = module
	root, err := env.Output()
	if err != nil {
		return fmt.Errorf("go env GOROOT: %v", err)
	}
	src := filepath.Join(strings.TrimSpace(string(root)), "lib", "wasm", ExecFile)
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("reading the toolchain's %s: %v", ExecFile, err)
	}
	return os.WriteFile(filepath.Join(out, ExecFile), data, 0o644)
}
