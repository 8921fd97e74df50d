// Command issuer is a statustoken issuer service: it publishes the signed
// key directory through a transparency log that witnesses cosign, and
// signs blind token requests (rsabssa, RFC 9474) for holders whose status
// an attester vouches for. The service is package internal/issuer; this
// command is its flags and wiring.
//
//	issuer [serve] -witnesses FILE [flags]   run the service
//	issuer add-holder [flags] DECISION       create an API key for a holder: STATUS, or refused, [:REASON]
//	issuer log-key [flags]                   print the two logs' verifier keys, for the witnesses
//
// Run "issuer -h" for the flags. A new issuer starts with "issuer log-key"
// and "issuer add-holder"; serve refuses a directory without a log key and
// creates nothing there. At each start it checks its state against what
// it published (statuses, issuing-key files, the log) and refuses to start,
// saying what to restore, when they differ; -withdraw KEY-ID withdraws a
// published key on purpose. The service binds its address before it
// publishes anything; it refuses plain HTTP beyond loopback unless given
// -insecure-http (API keys would travel in clear text), and serves HTTPS
// with -tls-cert and -tls-key. SIGHUP reloads the holders file and the TLS
// certificate; SIGINT and SIGTERM stop it gracefully.
//
// Exit status: 0 after a graceful stop, 1 when the service failed, 2 on a
// usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/statustoken/statustoken/examples/deploy/internal/issuer"
	"github.com/statustoken/statustoken/token"
	"k8s.io/klog/v2"
)

func main() {
	// Tessera, under both logs, logs through klog to stderr, around the
	// service's own log; the service logs what matters itself.
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// listen opens the service's listener; tests replace it.
var listen = net.Listen

const usageText = `usage:
  issuer [serve] -witnesses FILE [flags]  run the issuer service
  issuer add-holder [flags] DECISION      create an API key for a holder
                                          whose decision is DECISION (a
                                          status name, or refused, with
                                          :REASON, a reason code, or not),
                                          add it to the holders file and
                                          print it
  issuer log-key [flags]                  print the verifier keys of the log
                                          of directories and of the decision
                                          log, one a line (creating the state
                                          directory and the log keys on first
                                          use), to register both logs with
                                          each witness

A new issuer starts with "issuer log-key" and "issuer add-holder"; the
first "issuer serve" on that state directory creates the root key, the
issuer seed, the decision key and the issuing keys, and writes the trust
policy that wallets and scanners pin to STATE/trust.txt. A directory
without the log keys is refused: nothing is created there. Both logs, of
directories (STATE/log) and of decisions (STATE/decisions), run on
Tessera. Each directory is served once a quorum
of the witnesses (the -witnesses file, lines "witness NAME VKEY URL") has
cosigned the log; a restart within the same epoch serves the same
directory and serial again. Holders authenticate with "Authorization:
Bearer API-KEY"; the demo attester reads API keys and decisions from the
holders file (default STATE/holders; send SIGHUP to reload it, and the TLS
certificate). Rate limits are kept in STATE/ratelimit across restarts.

Decisions are on the record: each directory publishes the reasons of the
decision policy (-reasons), the decision key, the decision log's key, the
token count of every request (-tokens-per-request) and the delay within
which a decision is in the decision log (-decision-log-delay). Every
answer to a token request, a grant (200) or a refusal (403), carries a
receipt signed by the decision key; its record is queued, synced, before
the answer leaves, and appended to the decision log every
-decision-interval, in a random order within each batch, then cosigned by
the witnesses.

At each start the issuer checks its state against what it published, and
refuses to start, saying what to restore or how to proceed, when:
  - -statuses renames a published status code, or moves a name to another
    code (tokens already issued would read as another status);
  - the private key file of a published key whose epoch is not over is
    missing (restore it from a backup, or withdraw the key);
  - STATE/decision.key is not the decision key the last directory lists
    (restore it from a backup);
  - a log is damaged, or older than the last checkpoint the witnesses
    cosigned (restore STATE/log or STATE/decisions from a backup; never
    start a new log).
A published key is withdrawn only on purpose: "-withdraw KEY-ID" replaces
it by a new key in the next directory, and every token issued under it is
refused from then on (the monitor reports the withdrawal).

Plain HTTP is served on loopback addresses only: elsewhere give -tls-cert
and -tls-key, or -insecure-http behind a TLS proxy.

  GET  /.well-known/statustoken-directory
         the signed directory, its signature and log proof in the
         Statustoken-Directory-Signature and Statustoken-Directory-Proof
         headers
  GET  /.well-known/statustoken-directory.sig    the detached signature
  GET  /.well-known/statustoken-directory.proof  the log proof
  GET  /log/checkpoint, /log/tile/...            the log (c2sp.org/tlog-tiles)
  GET  /log/directory/SERIAL[.sig]               every logged directory
  POST /token-request                            a blind token request,
         binary body, with "Authorization: Bearer API-KEY" and the
         holder's Statustoken-Commitment; the answer's receipt in
         Statustoken-Receipt
  GET  /decisions/checkpoint, /decisions/tile/...  the decision log
  GET  /decisions/proof/HEX                      a decision record's proof
         (404 with Retry-After until a cosigned checkpoint holds it)
`

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
	list, err := issuer.ParseStatuses(v)
	if err != nil {
		return err
	}
	*f.list = list
	return nil
}

// withdrawFlag collects -withdraw key IDs: 16 hex digits each, repeated
// or separated by commas.
type withdrawFlag struct{ list *[]string }

func (f withdrawFlag) String() string {
	if f.list == nil {
		return ""
	}
	return strings.Join(*f.list, ",")
}

func (f withdrawFlag) Set(v string) error {
	for _, id := range strings.Split(v, ",") {
		id = strings.ToLower(strings.TrimSpace(id))
		if len(id) != 16 || strings.Trim(id, "0123456789abcdef") != "" {
			return fmt.Errorf("%q is not a key ID: want 16 hex digits", id)
		}
		*f.list = append(*f.list, id)
	}
	return nil
}

// commonFlags defines the flags of serve and add-holder; c holds the
// defaults.
func commonFlags(fs *flag.FlagSet, c *issuer.Config) {
	fs.StringVar(&c.StateDir, "state", c.StateDir, "state `directory` (mode 0700): keys, seed, serial, log, holders")
	fs.StringVar(&c.Holders, "holders", "", "holders `file` of the demo attester (default STATE/holders)")
	fs.Var(statusFlag{&c.Statuses}, "statuses", "status codes and names, `CODE=NAME,...`; once published, a code keeps its name and a name its code")
	fs.Var(&reasonsFlag{c: c}, "reasons", "decision policy `file`: lines \"CODE OUTCOMES EVIDENCE TEXT\", OUTCOMES status names or refused separated by commas, EVIDENCE \"evidence\" (required) or \"-\" (default: 1 green,refused - negative test result, 2 red,refused - positive test result, 3 refused - no test on record, 4 refused - administrative)")
}

// reasonsFlag names the reasons file; loadReasons reads it once the
// statuses are known.
type reasonsFlag struct {
	c    *issuer.Config
	file string
}

func (f *reasonsFlag) String() string { return "" }
func (f *reasonsFlag) Set(v string) error {
	f.file = v
	return nil
}

// loadReasons reads the -reasons file of fs, if one was given.
func loadReasons(fs *flag.FlagSet, c *issuer.Config) error {
	f := fs.Lookup("reasons").Value.(*reasonsFlag)
	if f.file == "" {
		return nil
	}
	list, err := issuer.LoadReasons(f.file, c.Statuses)
	if err != nil {
		return fmt.Errorf("-reasons: %v", err)
	}
	c.Reasons = list
	return nil
}

func originFlag(fs *flag.FlagSet, c *issuer.Config) {
	fs.StringVar(&c.LogOrigin, "log-origin", issuer.DefaultOrigin, "`origin` naming the log in its checkpoints, for a new log (a log's origin never changes); give each deployment its own")
}

// flagSet is a subcommand's flags. A parse error prints only the error and
// where to find the usage; -h prints the whole usage on stdout.
type flagSet struct {
	*flag.FlagSet
	cmd            string // "issuer" or "issuer add-holder"...
	stdout, stderr io.Writer
}

func newFlagSet(cmd string, stdout, stderr io.Writer) *flagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, cmd: cmd, stdout: stdout, stderr: stderr}
}

// parse parses args; done reports that the command ends with code.
func (fs *flagSet) parse(args []string) (code int, done bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		fs.help()
		return 0, true
	}
	return fs.usageError("%v", err), true
}

// help prints the usage and the command's flags on stdout.
func (fs *flagSet) help() {
	fmt.Fprintf(fs.stdout, "%s\nflags of %s:\n", usageText, fs.cmd)
	printFlags(fs.stdout, fs.FlagSet)
}

// helpWidth bounds the lines of the help text.
const helpWidth = 80

// printFlags prints the flags of fs as flag.PrintDefaults does, but with
// each usage wrapped to helpWidth columns, indented by spaces.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	const indent = "      "
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		line := "  -" + f.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintln(w, line)
		switch f.DefValue {
		case "", "0", "false", "[]":
		default:
			usage += " (default " + f.DefValue + ")"
		}
		line = indent
		for _, word := range strings.Fields(usage) {
			if len(line) > len(indent) && len(line)+1+len(word) > helpWidth {
				fmt.Fprintln(w, line)
				line = indent
			}
			if len(line) > len(indent) {
				line += " "
			}
			line += word
		}
		fmt.Fprintln(w, line)
	})
}

// usageError prints a usage error in two lines and returns exit code 2.
func (fs *flagSet) usageError(format string, args ...any) int {
	fmt.Fprintf(fs.stderr, "issuer: "+format+"\n", args...)
	fmt.Fprintf(fs.stderr, "run '%s -h' for usage\n", fs.cmd)
	return 2
}

// sawFlag reports whether the flag name was set on the command line.
func (fs *flagSet) sawFlag(name string) bool {
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
		return serveCommand(ctx, args, stdout, stderr)
	case "add-holder":
		return addHolderCommand(args, stdout, stderr)
	case "log-key":
		return logKeyCommand(args, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usageText)
		return 0
	}
	fmt.Fprintf(stderr, "issuer: unknown command %q\nrun 'issuer -h' for usage\n", cmd)
	return 2
}

func serveCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := issuer.DefaultConfig()
	fs := newFlagSet("issuer", stdout, stderr)
	commonFlags(fs.FlagSet, &c)
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen `address` (port 0 picks a free port); plain HTTP only on loopback, unless -insecure-http")
	fs.DurationVar(&c.Epoch, "epoch", c.Epoch, "epoch length, 1h to 168h: tokens expire at the end of their key's epoch")
	fs.IntVar(&c.Epochs, "epochs", c.Epochs, "epochs the directory lists, the current one included (1 to 16)")
	fs.IntVar(&c.RateLimit, "rate-limit", c.RateLimit, "token requests each holder may make per rate window")
	fs.DurationVar(&c.RateWindow, "rate-window", c.RateWindow, "rate-limit window")
	fs.IntVar(&c.MaxHolders, "max-holders", c.MaxHolders, "holders tracked at once by the rate limiter (bounds its memory)")
	fs.IntVar(&c.MaxConcurrent, "max-concurrent", c.MaxConcurrent, "token requests signed at once")
	fs.IntVar(&c.TokensPerRequest, "tokens-per-request", c.TokensPerRequest, "the one number of tokens every request asks for, published in the directory")
	fs.DurationVar(&c.DecisionInterval, "decision-interval", c.DecisionInterval, "append the queued decision records to the decision log, in a random order, this often")
	fs.DurationVar(&c.DecisionLogDelay, "decision-log-delay", c.DecisionLogDelay, "the longest time from a receipt to its record in a cosigned checkpoint of the decision log, published (1m to 24h, at least twice -decision-interval plus -cosign-retry and -witness-timeout)")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "serve HTTPS with this certificate `file` (PEM; reloaded on SIGHUP)")
	fs.StringVar(&c.TLSKey, "tls-key", "", "private key `file` for -tls-cert (PEM)")
	fs.BoolVar(&c.InsecureHTTP, "insecure-http", false, "serve plain HTTP on a non-loopback address, behind a TLS proxy")
	fs.StringVar(&c.Witnesses, "witnesses", "", "witnesses `file`: lines \"witness NAME VKEY URL\" (required)")
	fs.IntVar(&c.Quorum, "quorum", c.Quorum, "witnesses that must cosign each checkpoint")
	originFlag(fs.FlagSet, &c)
	fs.DurationVar(&c.CosignEvery, "cosign-every", c.CosignEvery, "have the witnesses cosign the log again this often, to keep the proof fresh (at most half of -issue-max-age)")
	fs.DurationVar(&c.IssueMaxAge, "issue-max-age", c.IssueMaxAge, "the trust policy's issue-max-age: wallets request tokens only under a proof cosigned no longer ago (1m to two epochs)")
	fs.DurationVar(&c.CosignRetry, "cosign-retry", c.CosignRetry, "retry a cosigning round without a quorum after this long")
	fs.DurationVar(&c.WitnessTimeout, "witness-timeout", c.WitnessTimeout, "give up on a witness after this long")
	fs.BoolVar(&c.Republish, "republish", false, "publish a new directory, with a new serial, at start even when the one in the log is still current")
	fs.Var(withdrawFlag{&c.Withdraw}, "withdraw", "withdraw the published key `KEY-ID` (hex, as the refusal or the monitor names it; repeat or separate with commas): a new key takes its place in the next directory and every token issued under it is refused from then on; the only way to start when its private key file is lost")
	logLevel := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	logJSON := fs.Bool("log-json", false, "log in JSON instead of text")
	if code, done := fs.parse(args); done {
		return code
	}
	if !fs.sawFlag("log-origin") {
		c.LogOrigin = "" // the existing log's, else the default
	}
	if fs.NArg() != 0 {
		return fs.usageError("unexpected argument %q", fs.Arg(0))
	}
	level, ok := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[strings.ToLower(*logLevel)]
	if !ok {
		return fs.usageError("-log-level %q: want debug, info, warn or error", *logLevel)
	}
	if err := loadReasons(fs.FlagSet, &c); err != nil {
		return fs.usageError("%v", err)
	}
	if err := c.Check(); err != nil {
		return fs.usageError("%v", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	var logger *slog.Logger
	if *logJSON {
		logger = slog.New(slog.NewJSONHandler(stderr, opts))
	} else {
		logger = slog.New(slog.NewTextHandler(stderr, opts))
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	c.Reload = hup
	c.Listen = listen
	if err := issuer.Serve(ctx, c, logger); err != nil {
		logger.Error("issuer stopped", "error", err)
		return 1
	}
	return 0
}

func addHolderCommand(args []string, stdout, stderr io.Writer) int {
	c := issuer.DefaultConfig()
	fs := newFlagSet("issuer add-holder", stdout, stderr)
	commonFlags(fs.FlagSet, &c)
	// Flags may come before or after STATUS.
	var rest []string
	for {
		if code, done := fs.parse(args); done {
			return code
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(rest) != 1 {
		return fs.usageError("add-holder takes one decision, for example: issuer add-holder green, or issuer add-holder refused:4")
	}
	if err := loadReasons(fs.FlagSet, &c); err != nil {
		return fs.usageError("%v", err)
	}
	key, err := issuer.AddHolder(c.HoldersPath(), rest[0], c.Statuses, c.Policy())
	if err != nil {
		fmt.Fprintln(stderr, "issuer:", err)
		return 1
	}
	fmt.Fprintf(stderr, "issuer: added a holder with decision %s to %s (only the key's SHA-256 is stored).\n"+
		"Give the holder this API key; a running issuer reads the file again on SIGHUP or restart:\n", rest[0], c.HoldersPath())
	fmt.Fprintln(stdout, key)
	return 0
}

func logKeyCommand(args []string, stdout, stderr io.Writer) int {
	c := issuer.DefaultConfig()
	fs := newFlagSet("issuer log-key", stdout, stderr)
	fs.StringVar(&c.StateDir, "state", c.StateDir, "state `directory` (mode 0700)")
	originFlag(fs.FlagSet, &c)
	if code, done := fs.parse(args); done {
		return code
	}
	if fs.NArg() != 0 {
		return fs.usageError("unexpected argument %q", fs.Arg(0))
	}
	if !fs.sawFlag("log-origin") {
		c.LogOrigin = ""
	}
	infos, err := issuer.LogKey(c.StateDir, c.LogOrigin)
	if err != nil {
		fmt.Fprintln(stderr, "issuer:", err)
		return 1
	}
	fmt.Fprintf(stderr, "issuer: register both logs with each witness, for litewitness:\n")
	for _, info := range infos {
		if info.Created {
			fmt.Fprintf(stderr, "issuer: created the log key of %s in %s\n", info.Origin, c.StateDir)
		}
		fmt.Fprintf(stderr, "  witnessctl add-log -db DB -origin %s\n  witnessctl add-key -db DB -origin %s -key %s\n", info.Origin, info.Origin, info.VerifierKey)
	}
	for _, info := range infos {
		fmt.Fprintln(stdout, info.VerifierKey)
	}
	return 0
}
