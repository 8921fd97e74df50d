// Command issuer is a statustoken issuer service: it publishes the signed
// key directory through a transparency log that witnesses cosign, and
// signs blind token requests (rsabssa, RFC 9474) for holders whose status
// an attester vouches for.
//
//	issuer [serve] -witnesses FILE [flags]   run the service
//	issuer add-holder [flags] STATUS         create an API key for a holder of STATUS
//	issuer log-key [flags]                   print the log's verifier key, for the witnesses
//
// State lives in one directory (default ./issuer-state, mode 0700): the
// root key that signs directories, the issuer seed, the RSA issuing keys,
// the last directory serial, the log (its key, records, an archive of the
// directories logged, the witnesses' tree sizes) and the demo attester's
// holders file. On first run the service creates the keys and writes the
// root public key to root.pub and the trust policy, which wallets and
// scanners pin, to trust.txt.
//
// Every directory goes into the log; it is served only once a quorum of
// the witnesses (from the -witnesses file: lines "witness NAME VKEY URL")
// has cosigned a checkpoint that includes it, with its proof. The issuer
// has the witnesses cosign the log again every -cosign-every, so that the
// proof stays within the trust policy's freshness bound (two epochs).
//
// HTTP interface:
//
//	GET  /.well-known/statustoken-directory        the directory's exact bytes; its
//	                                               signature and log proof (base64) in the
//	                                               Statustoken-Directory-Signature and
//	                                               Statustoken-Directory-Proof headers
//	GET  /.well-known/statustoken-directory.sig    the detached 64-byte signature
//	GET  /.well-known/statustoken-directory.proof  the log proof (c2sp.org/tlog-proof@v1)
//	GET  /log/checkpoint                           the latest cosigned checkpoint
//	GET  /log/tile/...                             the log's tiles (c2sp.org/tlog-tiles)
//	GET  /log/directory/SERIAL[.sig]               every logged directory and its signature
//	POST /token-request                            a blind token request (binary body),
//	                                               with "Authorization: Bearer API-KEY"
//	GET  /healthz                                  "ok"
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

	"github.com/statustoken/statustoken/examples/deploy/internal/logstore"
	"github.com/statustoken/statustoken/examples/deploy/internal/witnessclient"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usageText = `usage:
  issuer [serve] -witnesses FILE [flags]   run the issuer service
  issuer add-holder [flags] STATUS         create an API key for a holder of STATUS,
                                           add it to the holders file and print it
  issuer log-key [flags]                   print the log's verifier key (creating the
                                           log key on first use), to register the log
                                           with each witness

The service keeps its keys and its log in the state directory, creating
them on first run, and writes the trust policy that wallets and scanners pin
to STATE/trust.txt. Each directory is served once a quorum of the witnesses
(the -witnesses file, lines "witness NAME VKEY URL") has cosigned the log.
Holders authenticate with "Authorization: Bearer API-KEY"; the demo
attester reads API keys and statuses from the holders file (default
STATE/holders; send SIGHUP to reload it).

  GET  /.well-known/statustoken-directory        the signed directory (signature and log
                                                 proof in the Statustoken-Directory-Signature
                                                 and Statustoken-Directory-Proof headers)
  GET  /.well-known/statustoken-directory.sig    the detached 64-byte signature
  GET  /.well-known/statustoken-directory.proof  the log proof
  GET  /log/checkpoint, /log/tile/...            the log (c2sp.org/tlog-tiles)
  GET  /log/directory/SERIAL[.sig]               every logged directory, for monitors
  POST /token-request                            a blind token request, binary body,
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

	witnesses      string
	quorum         int
	logOrigin      string
	logOriginSet   bool
	cosignEvery    time.Duration
	cosignRetry    time.Duration
	witnessTimeout time.Duration
}

// origin is the log origin to open the log state with: -log-origin when
// given, else the existing log's, else the default.
func (c *config) origin() (string, error) {
	if c.logOriginSet {
		return c.logOrigin, nil
	}
	have, err := logstore.Origin(c.stateDir)
	if err != nil || have != "" {
		return have, err
	}
	return c.logOrigin, nil
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
	fs.StringVar(&c.stateDir, "state", "issuer-state", "state `directory` (mode 0700): keys, seed, serial, log, holders")
	fs.StringVar(&c.holders, "holders", "", "holders `file` of the demo attester (default STATE/holders)")
	c.statuses = []token.StatusName{{Code: 1, Name: "green"}, {Code: 2, Name: "red"}}
	fs.Var(statusFlag{&c.statuses}, "statuses", "status codes and names, `CODE=NAME,...`; codes name keys, so keep them stable")
}

func originFlag(fs *flag.FlagSet, c *config) {
	fs.StringVar(&c.logOrigin, "log-origin", defaultOrigin, "`origin` naming the log in its checkpoints, for a new log (a log's origin never changes); give each deployment its own")
}

// sawFlag reports whether the flag name was set on the command line.
func sawFlag(fs *flag.FlagSet, name string) bool {
	seen := false
	fs.Visit(func(f *flag.Flag) { seen = seen || f.Name == name })
	return seen
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
	case "log-key":
		return logKeyCommand(args, stdout, stderr)
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
	fs.StringVar(&c.witnesses, "witnesses", "", "witnesses `file`: lines \"witness NAME VKEY URL\" (required)")
	fs.IntVar(&c.quorum, "quorum", 2, "witnesses that must cosign each checkpoint")
	originFlag(fs, &c)
	fs.DurationVar(&c.cosignEvery, "cosign-every", time.Hour, "have the witnesses cosign the log again this often, to keep the proof fresh (at most one epoch)")
	fs.DurationVar(&c.cosignRetry, "cosign-retry", time.Minute, "retry a cosigning round without a quorum after this long")
	fs.DurationVar(&c.witnessTimeout, "witness-timeout", witnessclient.DefaultTimeout, "give up on a witness after this long")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	c.logOriginSet = sawFlag(fs, "log-origin")
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
	case c.witnesses == "":
		fmt.Fprintln(stderr, "issuer: -witnesses is required: a file of lines \"witness NAME VKEY URL\", one for each witness that cosigns the log")
		return 2
	case c.quorum < 1:
		fmt.Fprintln(stderr, "issuer: -quorum must be at least 1")
		return 2
	case c.cosignEvery < time.Second || c.cosignEvery > c.epoch:
		fmt.Fprintln(stderr, "issuer: -cosign-every must be from 1s to the epoch length, so that proofs stay fresh within two epochs")
		return 2
	case c.cosignRetry < 100*time.Millisecond || c.witnessTimeout < 100*time.Millisecond:
		fmt.Fprintln(stderr, "issuer: -cosign-retry and -witness-timeout must be at least 100ms")
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

func logKeyCommand(args []string, stdout, stderr io.Writer) int {
	var c config
	fs := flag.NewFlagSet("issuer log-key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\nflags of log-key:\n", usageText)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.stateDir, "state", "issuer-state", "state `directory` (mode 0700)")
	originFlag(fs, &c)
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
	c.logOriginSet = sawFlag(fs, "log-origin")
	origin, err := c.origin()
	if err != nil {
		fmt.Fprintln(stderr, "issuer:", err)
		return 1
	}
	logs, err := logstore.Open(c.stateDir, origin)
	if err != nil {
		fmt.Fprintln(stderr, "issuer:", err)
		return 1
	}
	defer logs.Close()
	l := logs.Log()
	if logs.Created {
		fmt.Fprintf(stderr, "issuer: created the log key of %s in %s\n", l.Origin(), c.stateDir)
	}
	fmt.Fprintf(stderr, "issuer: register the log with each witness, for litewitness:\n"+
		"  witnessctl add-log -db DB -origin %s\n  witnessctl add-key -db DB -origin %s -key %s\n", l.Origin(), l.Origin(), l.VerifierKey())
	fmt.Fprintln(stdout, l.VerifierKey())
	return 0
}

// swappableAttester lets the holders file be reloaded while serving.
type swappableAttester struct{ p atomic.Pointer[fileAttester] }

func (s *swappableAttester) Attest(ctx context.Context, credential string) (Attestation, error) {
	return s.p.Load().Attest(ctx, credential)
}

// newServer opens the state directory and the log, loads the holders and
// the witnesses, writes the trust policy, and publishes a first directory.
// When the witnesses do not cosign it, the directory served before the
// restart is served meanwhile (none on a first run: the directory paths
// answer 503 until a quorum cosigns), and the cosigning is retried.
func newServer(ctx context.Context, c *config, logger *slog.Logger, now func() time.Time) (*server, *swappableAttester, error) {
	st, err := openState(c.stateDir)
	if err != nil {
		return nil, nil, err
	}
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
	logs, ws, trust, err := openLog(c, st, logger)
	if err != nil {
		return nil, nil, err
	}
	logger.Info("trust policy: pin it in wallets and scanners", "file", filepath.Join(c.stateDir, trustFile),
		"root", rootPublicText(is.RootPublicKey()), "log", logs.Log().VerifierKey(), "witnesses", len(ws), "quorum", c.quorum)
	p := &publisher{
		is: is, st: st, logs: logs, witnesses: ws, trust: trust, quorum: c.quorum,
		client: &witnessclient.Client{Timeout: c.witnessTimeout},
		epoch:  c.epoch, cosignEvery: c.cosignEvery, retry: c.cosignRetry, logger: logger,
	}
	p.cur = p.restore()
	logger.Info("preparing the directory (new RSA keys take a few seconds each)")
	if err := p.publish(ctx, now()); err != nil {
		if p.latest == nil {
			// The directory could not even be made or logged.
			logs.Close()
			return nil, nil, err
		}
		logger.Error("publication incomplete", "error", err, "serving_serial", servingSerial(p.current()))
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

func servingSerial(p *published) any {
	if p == nil {
		return "none"
	}
	return p.serial
}

// serve runs the service until ctx is done, then shuts down gracefully:
// it stops accepting connections and lets requests in flight finish.
func serve(ctx context.Context, c *config, logger *slog.Logger) error {
	s, att, err := newServer(ctx, c, logger, time.Now)
	if err != nil {
		return err
	}
	defer s.pub.logs.Close()
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
