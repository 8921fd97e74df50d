// Command serve is the web scanner's file server for local use. It builds
// the WebAssembly module (pinning a trust policy into it), then serves the
// page on 127.0.0.1:8088. With -demo it also makes a demo issuer, serves
// its directory, signature and proof at the well-known paths, pins the
// demo's trust policy, and writes sample QR codes to try.
//
//	cd examples/web && npm ci
//	go run ./cmd/serve -demo
//	go run ./cmd/serve -trust trust.txt -directory dir.json -signature dir.sig -proof dir.proof
//	go run ./cmd/serve -trust trust.txt -build-only    # write dist/ and exit
//
// Cameras need a secure context: http://127.0.0.1 and http://localhost
// are one, another address needs HTTPS (-cert and -key).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/statustoken/statustoken/examples/web/internal/build"
	"github.com/statustoken/statustoken/examples/web/internal/demo"
	"github.com/statustoken/statustoken/examples/web/internal/server"
	"github.com/statustoken/statustoken/token"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "serve:", err)
		}
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8088", "address to listen on (loopback unless you mean otherwise)")
	root := fs.String("root", ".", "the examples/web directory: index.html, scanner.js, node_modules")
	dist := fs.String("dist", "", "directory for scanner.wasm and wasm_exec.js (default: dist in -root)")
	noBuild := fs.Bool("no-build", false, "serve -dist as it is instead of building the module first")
	buildOnly := fs.Bool("build-only", false, "build the module into -dist and exit")
	trustFile := fs.String("trust", "", "trust policy (trust.txt) to pin into the module; without it the page asks the operator once")
	demoMode := fs.Bool("demo", false, "make a demo issuer, serve its directory and pin its trust policy")
	demoOut := fs.String("demo-out", "", "with -demo: directory for the sample QR codes (default: a temporary one, removed when serve stops)")
	dirFile := fs.String("directory", "", "a published directory to serve at "+server.DirectoryPath)
	sigFile := fs.String("signature", "", "its detached signature (64 bytes)")
	proofFile := fs.String("proof", "", "its proof bundle")
	cert := fs.String("cert", "", "TLS certificate file (PEM), to serve HTTPS")
	key := fs.String("key", "", "TLS private key file (PEM)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: serve [flags]\n\nBuilds the web scanner's WebAssembly module and serves the page (see README.md).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if _, err := os.Stat(filepath.Join(*root, "index.html")); err != nil {
		return fmt.Errorf("-root %s does not hold index.html: run serve from examples/web or set -root", *root)
	}
	if *dist == "" {
		*dist = filepath.Join(*root, "dist")
	}
	if (*cert == "") != (*key == "") {
		return errors.New("-cert and -key go together")
	}

	var trust []byte
	if *trustFile != "" {
		b, err := os.ReadFile(*trustFile)
		if err != nil {
			return err
		}
		if _, err := token.ParseTrust(b); err != nil {
			return fmt.Errorf("%s: %v", *trustFile, err)
		}
		trust = b
	}

	var published *token.Published
	switch {
	case *demoMode:
		if *dirFile != "" || trust != nil {
			return errors.New("-demo makes its own directory and trust policy: leave out -directory and -trust")
		}
		d, err := demo.New(time.Now())
		if err != nil {
			return err
		}
		published, trust = &d.Published, d.TrustText
		out := *demoOut
		if out == "" {
			// A folder of our own, removed when serve stops.
			if out, err = os.MkdirTemp("", "statustoken-web-demo-"); err != nil {
				return err
			}
			defer os.RemoveAll(out)
		}
		if err := writeSamples(d, out, stdout); err != nil {
			return err
		}
	case *dirFile != "":
		if *sigFile == "" || *proofFile == "" {
			return errors.New("-directory needs -signature and -proof")
		}
		p := token.Published{}
		for _, f := range []struct {
			name string
			dst  *[]byte
		}{{*dirFile, &p.Directory}, {*sigFile, &p.Signature}, {*proofFile, &p.Proof}} {
			b, err := os.ReadFile(f.name)
			if err != nil {
				return err
			}
			*f.dst = b
		}
		published = &p
	}

	if !*noBuild {
		start := time.Now()
		if err := build.Wasm(context.Background(), *root, *dist, trust); err != nil {
			return err
		}
		pinned := "no trust policy pinned: the page asks for one"
		if trust != nil {
			pinned = "trust policy pinned"
		}
		fmt.Fprintf(stdout, "built %s in %v (%s)\n", filepath.Join(*dist, build.WasmFile), time.Since(start).Round(time.Millisecond), pinned)
	} else if trust != nil {
		fmt.Fprintln(stdout, "warning: -no-build: the module in -dist keeps whatever trust policy it was built with")
	}
	if *buildOnly {
		return nil
	}
	if _, err := os.Stat(filepath.Join(*root, "node_modules", "barcode-detector")); err != nil {
		fmt.Fprintln(stderr, "warning: node_modules/barcode-detector is missing (run `npm ci`): browsers without BarcodeDetector cannot decode QR codes")
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if host, _, _ := net.SplitHostPort(ln.Addr().String()); !net.ParseIP(host).IsLoopback() {
		fmt.Fprintf(stderr, "warning: listening on %s, reachable from other machines\n", ln.Addr())
	}
	srv := &http.Server{
		Handler:           server.Handler(server.Config{Root: *root, Dist: *dist, Published: published}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	scheme := "http"
	if *cert != "" {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "serving the scanner at %s://%s/\n", scheme, ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() {
		if *cert != "" {
			errc <- srv.ServeTLS(ln, *cert, *key)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// writeSamples writes a QR code for each sample token of d into dir and
// says what each should show.
func writeSamples(d *demo.Deployment, dir string, stdout io.Writer) error {
	s, err := d.Samples()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "demo issuer ready; sample QR codes in %s (scan them, or use \"Scan a picture\" on the page):\n", dir)
	for _, c := range []struct{ name, text, shows string }{
		{"valid", s.Valid, "green: tested-negative; amber (already used) the second time"},
		{"tampered", s.Tampered, "red: signature does not verify"},
		{"altered", s.Altered, "red: details do not match the issuer's key"},
		{"expired", s.Expired, "red: expired"},
		{"foreign", s.Foreign, "red: another issuer"},
	} {
		png, err := demo.QRPNG(c.text, 8)
		if err != nil {
			return err
		}
		name := filepath.Join(dir, c.name+".png")
		if err := os.WriteFile(name, png, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "  %-13s %s\n", c.name+".png", c.shows)
	}
	if err := os.WriteFile(filepath.Join(dir, "trust.txt"), d.TrustText, 0o644); err != nil {
		return err
	}
	return nil
}
