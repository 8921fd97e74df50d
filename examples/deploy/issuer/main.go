// Command issuer is a statustoken issuer service: it publishes the signed
// key directory and signs blind token requests (rsabssa, RFC 9474) for
// holders whose status an attester vouches for.
//
//	issuer [serve] [flags]             run the service
//	issuer add-holder [flags] STATUS   create an API key for a holder of STATUS
//
// State lives in one directory (default ./issuer-state, mode 0700): the
// root key that signs directories, the issuer seed, the RSA issuing keys,
// the last directory serial, and the demo attester's holders file. On first
// run the service creates the keys and writes the root public key, which
// wallets and scanners pin, to root.pub.
//
// HTTP interface:
//
//	GET  /.well-known/statustoken-directory      the directory's exact bytes; its
//	                                             signature in the Statustoken-Directory-Signature header
//	GET  /.well-known/statustoken-directory.sig  the detached 64-byte signature
//	POST /token-request                          a blind token request (binary body),
//	                                             with "Authorization: Bearer API-KEY"
//	GET  /healthz                                "ok"
//
// Errors are one line of plain text: 400 for a malformed request or an
// unknown key, 401 for a missing or unknown API key, 403 when the requested
// status is not the holder's, 413 for a body over issue.MaxRequestSize, 429
// with Retry-After beyond the holder's rate limit.
package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usageText = `usage:
  issuer [serve] [flags]             run the issuer service
  issuer add-holder [flags] STATUS   create an API key for a holder of STATUS,
                                     add it to the holders file and print it

The service keeps its keys in the state directory, creating them on first
run, and writes the root public key that wallets and scanners pin to
STATE/root.pub. Holders authenticate with "Authorization: Bearer API-KEY";
the demo attester reads API keys and statuses from the holders file
(default STATE/holders; send SIGHUP to reload it).

  GET  /.well-known/statustoken-directory      the signed directory (signature in
                                               the Statustoken-Directory-Signature header)
  GET  /.well-known/statustoken-directory.sig  the detached 64-byte signature
  POST /token-request                          a blind token request, binary body,
                                               with "Authorization: Bearer API-KEY"
`

// config is the service's configuration, from flags.
type config struct {
	addr          string
	stateDir      string
	holders       string
	statuses      []token.StatusName
	epoch         time.Duration
	epochs        int
	rateLimit     int
	rateWindow    time.Duration
	maxHolders    int
	maxConcurrent int
	tlsCert       string
	tlsKey        string
}

func (c *config) holdersPath() string {
	if c.holders != "" {
		return c.holders
	}
	return filepath.Join(c.stateDir, holdersFile)
}

// statusFlag parses "CODE=NAME,..." into a status list.
type statusFlag struct{ list *[]token.StatusName }

func (f statusFlag) String() string {
	if f.list == nil {
		return ""
	}
	parts := make([]string, len(*f.list))
	for i, s := range *f.list {
		parts[i] = fmt.Sprintf("%d=%s", s.Code, s.Name)
	}
	return strings.Join(parts, ",")
}

func (f statusFlag) Set(v string) error {
	var list []token.StatusName
	for _, part := range strings.Split(v, ",") {
		code, name, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.ParseUint(code, 10, 8)
		if !ok || err != nil || n == 0 {
			return fmt.Errorf("%q: want CODE=NAME with CODE from 1 to 255", part)
		}
		list = append(list, token.StatusName{Code: token.Status(n), Name: name})
	}
	slices.SortFunc(list, func(a, b token.StatusName) int { return int(a.Code) - int(b.Code) })
	if err := checkStatuses(list); err != nil {
		return err
	}
	*f.list = list
	return nil
}

// checkStatuses applies the directory's rules for status lists (codes
// strictly increasing, names unique, 1 to 32 of [a-z0-9_-]), which the
// library checks when it makes an issuer: it makes one for list with a
// throwaway key.
func checkStatuses(list []token.StatusName) error {
	_, err := issue.NewIssuer(issue.Config{
		RootKey:     ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)),
		Seed:        make([]byte, issue.SeedSize),
		EpochLength: time.Hour,
		Statuses:    list,
	})
	if err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), issue.ErrConfig.Error()+": "))
	}
	return nil
}

func commonFlags(fs *flag.FlagSet, c *config) {
	fs.StringVar(&c.stateDir, "state", "issuer-state", "state `directory` (mode 0700): keys, seed, serial, holders")
	fs.StringVar(&c.holders, "holders", "", "holders `file` of the demo attester (default STATE/holders)")
	c.statuses = []token.StatusName{{Code: 1, Name: "green"}, {Code: 2, Name: "red"}}
	fs.Var(statusFlag{&c.statuses}, "statuses", "status codes and names, `CODE=NAME,...`; codes name keys, so keep them stable")
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serveCommand(ctx, args, stderr)
	case "add-holder":
		return addHolderCommand(args, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usageText)
		return 0
	}
	fmt.Fprintf(stderr, "issuer: unknown command %q\n\n%s", cmd, usageText)
	return 2
}

func serveCommand(ctx context.Context, args []string, stderr io.Writer) int {
	var c config
	fs := flag.NewFlagSet("issuer serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\nflags of serve:\n", usageText)
		fs.PrintDefaults()
	}
	commonFlags(fs, &c)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "listen `address` (port 0 picks a free port)")
	fs.DurationVar(&c.epoch, "epoch", 24*time.Hour, "epoch length, 1h to 168h: tokens expire at the end of their key's epoch")
	fs.IntVar(&c.epochs, "epochs", issue.DefaultEpochs, "epochs the directory lists, the current one included (1 to 16)")
	fs.IntVar(&c.rateLimit, "rate-limit", 10, "token requests each holder may make per rate window")
	fs.DurationVar(&c.rateWindow, "rate-window", time.Hour, "rate-limit window")
	fs.IntVar(&c.maxHolders, "max-holders", 100000, "holders tracked at once by the rate limiter (bounds its memory)")
	fs.IntVar(&c.maxConcurrent, "max-concurrent", 2*runtime.GOMAXPROCS(0), "token requests signed at once")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "serve HTTPS with this certificate `file` (PEM)")
	fs.StringVar(&c.tlsKey, "tls-key", "", "private key `file` for -tls-cert")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "issuer: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	switch {
	case c.rateLimit < 1 || c.rateWindow < time.Second:
		fmt.Fprintln(stderr, "issuer: -rate-limit must be at least 1 and -rate-window at least 1s")
		return 2
	case c.maxHolders < 1 || c.maxConcurrent < 1:
		fmt.Fprintln(stderr, "issuer: -max-holders and -max-concurrent must be at least 1")
		return 2
	case (c.tlsCert == "") != (c.tlsKey == ""):
		fmt.Fprintln(stderr, "issuer: -tls-cert and -tls-key go together")
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	if err := serve(ctx, &c, logger); err != nil {
		logger.Error("issuer stopped", "error", err)
		return 1
	}
	return 0
}

func addHolderCommand(args []string, stdout, stderr io.Writer) int {
	var c config
	fs := flag.NewFlagSet("issuer add-holder", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\nflags of add-holder:\n", usageText)
		fs.PrintDefaults()
	}
	commonFlags(fs, &c)
	// Flags may come before or after STATUS.
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(rest) != 1 {
		fmt.Fprintln(stderr, "issuer: add-holder takes one status name, for example: issuer add-holder green")
		return 2
	}
	key, err := addHolder(c.holdersPath(), rest[0], c.statuses)
	if err != nil {
		fmt.Fprintln(stderr, "issuer:", err)
		return 1
	}
	fmt.Fprintf(stderr, "issuer: added a holder of status %s to %s (only the key's SHA-256 is stored).\n"+
		"Give the holder this API key; a running issuer reads the file again on SIGHUP or restart:\n", rest[0], c.holdersPath())
	fmt.Fprintln(stdout, key)
	return 0
}

// swappableAttester lets the holders file be reloaded while serving.
type swappableAttester struct{ p atomic.Pointer[fileAttester] }

func (s *swappableAttester) Attest(ctx context.Context, credential string) (Attestation, error) {
	return s.p.Load().Attest(ctx, credential)
}

// newServer opens the state directory, loads the holders, and publishes a
// first directory.
func newServer(c *config, logger *slog.Logger, now func() time.Time) (*server, *swappableAttester, error) {
	st, err := openState(c.stateDir)
	if err != nil {
		return nil, nil, err
	}
	rootPub := filepath.Join(c.stateDir, rootPubFile)
	if st.created {
		logger.Info("created a new issuer state: root key, issuer seed", "dir", c.stateDir)
	}
	fa, err := loadFileAttester(c.holdersPath(), c.statuses)
	if err != nil {
		return nil, nil, err
	}
	att := &swappableAttester{}
	att.p.Store(fa)
	is, err := issue.NewIssuer(issue.Config{
		RootKey:     st.root,
		Seed:        st.seed,
		EpochLength: c.epoch,
		Statuses:    c.statuses,
		Suites:      []token.Suite{token.RSABSSA},
		Epochs:      c.epochs,
		RSAKeys:     issue.FileKeyStore{Dir: filepath.Join(c.stateDir, keysDir)},
	})
	if err != nil {
		return nil, nil, err
	}
	logger.Info("root public key: pin it in wallets and scanners", "key", rootPublicText(is.RootPublicKey()), "file", rootPub)
	p := &publisher{is: is, st: st, epoch: c.epoch, logger: logger}
	logger.Info("preparing the directory (new RSA keys take a few seconds each)")
	if err := p.publish(now()); err != nil {
		return nil, nil, err
	}
	s := &server{
		is:       is,
		pub:      p,
		att:      att,
		lim:      newLimiter(c.rateLimit, c.rateWindow, c.maxHolders),
		limitMsg: fmt.Sprintf("at most %d token requests per %v", c.rateLimit, c.rateWindow),
		sem:      make(chan struct{}, c.maxConcurrent),
		logger:   logger,
		now:      now,
	}
	return s, att, nil
}

// serve runs the service until ctx is done, then shuts down gracefully:
// it stops accepting connections and lets requests in flight finish.
func serve(ctx context.Context, c *config, logger *slog.Logger) error {
	s, att, err := newServer(c, logger, time.Now)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          log.New(redactingWriter{logger}, "", 0),
	}
	bg, stopBG := context.WithCancel(ctx)
	defer stopBG()
	go s.pub.run(bg, time.Now)
	go reloadOnHUP(bg, c, att, logger)

	scheme := "http"
	if c.tlsCert != "" {
		scheme = "https"
	}
	logger.Info("listening", "url", scheme+"://"+ln.Addr().String())
	errc := make(chan error, 1)
	go func() {
		if c.tlsCert != "" {
			errc <- srv.ServeTLS(ln, c.tlsCert, c.tlsKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing requests in flight")
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}

func reloadOnHUP(ctx context.Context, c *config, att *swappableAttester, logger *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			fa, err := loadFileAttester(c.holdersPath(), c.statuses)
			if err != nil {
				logger.Error("holders file not reloaded; keeping the previous one", "error", err)
				continue
			}
			att.p.Store(fa)
			logger.Info("holders file reloaded", "holders", len(fa.holders))
		}
	}
}

// addrPattern matches IPv4 and bracketed IPv6 addresses, with a port.
var addrPattern = regexp.MustCompile(`\[[0-9A-Fa-f:.%a-z]+\](:\d+)?|\b\d{1,3}(\.\d{1,3}){3}(:\d+)?`)

// redactingWriter passes the HTTP server's own error messages (TLS
// handshake failures and the like) to the logger without the client
// addresses they quote.
type redactingWriter struct{ logger *slog.Logger }

func (w redactingWriter) Write(p []byte) (int, error) {
	msg := addrPattern.ReplaceAllString(strings.TrimSpace(string(p)), "[address]")
	w.logger.Warn("http server", "message", msg)
	return len(p), nil
}
