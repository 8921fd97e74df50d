// Command wallet is a statustoken holder's wallet: it fetches the issuer's
// key directory and checks it against a pinned trust policy (the issuer's
// root key, its log, and the witnesses that must have seen the directory
// in the log), obtains a batch of one-time tokens through blind issuance,
// keeps them in a local directory, and shows one per scan as a QR code.
//
//	wallet request -trust FILE [flags] get tokens from the issuer
//	wallet update -trust FILE [flags]  fetch and check the directory only
//	wallet show [flags]                show the next unused token and mark it used
//	wallet export [-n N]               print the next N unused tokens, one a line
//	wallet list                        count the stored tokens
//	wallet decisions -trust FILE       list the issuer's decisions and their log status
//	wallet appeal [-decision N] -o FILE write a decision's appeal bundle
//
// The API key that authenticates the holder to the issuer comes from the
// STATUSTOKEN_API_KEY environment variable (or -api-key) and is never
// stored. The wallet's directory (default ./wallet-state, mode 0700) holds
// only the tokens and which are used (tokens.json, mode 0600), the
// issuer's receipts (decisions.json, mode 0600, see below), and the last
// directory accepted with what the wallet accepted (the file accepted:
// serial, status names and log checkpoint) and the trust policy it was
// accepted under, which are public. Only request and update create it;
// show, export and list refuse a missing one, and check the saved
// directory each time: a damaged one is fixed by update. Commands run at
// once on one state take turns (a file lock), so that no token is shown
// twice or lost; a request holds the lock until it ends.
//
// Late in an epoch (less than a quarter of it left: after 18:00 UTC for
// 24-hour epochs) request asks for tokens of the next epoch as well, once
// the issuer's directory lists its key (-epoch); show gives them out once
// that epoch has begun.
//
// show draws the QR code on the terminal when it fits (measured from the
// terminal, 80x24 when standard output is not one): an ed25519 token's
// code fits 80x24, an rsabssa token's needs 65x34 (level L), and
// otherwise show says to open the PNG it writes (by default token.png,
// next to the state directory).
//
// Under an issuer with a decision policy, each token request carries the
// commitment of a new opening (a random salt and the -statement the holder
// chooses, to show an appeal body later), and the wallet asks for exactly
// the directory's tokens_per_request. It checks the issuer's signed
// receipt of every grant and refusal before it uses or stores anything,
// refuses an answer whose receipt is missing or does not check, and keeps
// each receipt with its opening in decisions.json (mode 0600). At each
// request, update and decisions it fetches the inclusion proofs of the
// receipts in the issuer's decision log, and reports a receipt still not
// logged after the directory's decision_log_delay: that receipt is itself
// evidence. appeal writes the file an appeal body checks offline with the
// trust policy alone (token.CheckAppeal).
//
// This file is flags and wiring; the commands are package
// internal/wallet.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/directory"
	"github.com/statustoken/statustoken/examples/deploy/internal/files"
	"github.com/statustoken/statustoken/examples/deploy/internal/wallet"
	"github.com/statustoken/statustoken/holder"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/token/tokenhttp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, a second one stops the wallet at once.
	go func() { <-ctx.Done(); stop() }()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// apiKeyEnv names the environment variable that holds the API key.
const apiKeyEnv = "STATUSTOKEN_API_KEY"

const usageText = `usage: wallet [-log-level LEVEL] [-log-json] COMMAND [flags]

  wallet request -trust FILE [flags] fetch and check the directory, get tokens
                                     (late in an epoch, for the next one too)
  wallet update -trust FILE [flags]  fetch and check the directory only
  wallet show [flags]                show the next unused token as a QR code
                                     (on the terminal if it fits, and in a PNG)
                                     and mark it used
  wallet export [-n N]               print the next N unused tokens in text
                                     form, one a line, and mark them used
  wallet list                        count the stored tokens
  wallet decisions -trust FILE       fetch the decision proofs, list the
                                     issuer's decisions and their log status
                                     (-offline: list without fetching)
  wallet appeal [-decision N] -o FILE
                                     write a decision's appeal bundle

The API key for the issuer is read from $STATUSTOKEN_API_KEY (or -api-key)
and never stored. Run 'wallet COMMAND -h' for a command's flags.

flags (also accepted after COMMAND):
`

// cli is the command line's world: tests replace its parts.
type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time                    // time.Now when nil
	terminal       func() (width, height int, ok bool) // stdout measured when nil

	logLevel string
	logJSON  bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr, getenv: os.Getenv}
	return c.run(ctx, args)
}

func (c *cli) run(ctx context.Context, args []string) int {
	c.logLevel = "info"
	fs := flag.NewFlagSet("wallet", flag.ContinueOnError)
	c.logFlags(fs)
	if code := c.parse(fs, "wallet", args, func() {
		fmt.Fprint(c.stdout, usageText)
		c.printDefaults(fs)
	}); code >= 0 {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprint(c.stderr, usageText)
		c.printDefaults(fs)
		return 2
	}
	cmd, args := fs.Arg(0), fs.Args()[1:]
	switch cmd {
	case "request":
		return c.request(ctx, args, "request")
	case "update":
		return c.request(ctx, args, "update")
	case "decisions":
		return c.request(ctx, args, "decisions")
	case "appeal":
		return c.appeal(args)
	case "show":
		return c.show(args)
	case "export":
		return c.export(args)
	case "list":
		return c.list(args)
	case "help":
		fmt.Fprint(c.stdout, usageText)
		c.printDefaults(fs)
		return 0
	}
	return c.usageError("wallet", fmt.Sprintf("unknown command %q", cmd))
}

func (c *cli) logFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.logLevel, "log-level", c.logLevel, "log `level` on stderr: debug, info, warn or error")
	fs.BoolVar(&c.logJSON, "log-json", c.logJSON, "log in JSON instead of text")
}

func (c *cli) printDefaults(fs *flag.FlagSet) {
	fs.SetOutput(c.stdout)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// usageError reports a usage error of cmd ("wallet" or "wallet show"),
// without the usage text, which would scroll the error away.
func (c *cli) usageError(cmd, msg string) int {
	fmt.Fprintf(c.stderr, "wallet: %s\nrun '%s -h' for usage\n", msg, cmd)
	return 2
}

// parse parses args and returns the exit code to use, or -1 to go on;
// -h prints the usage with help on stdout.
func (c *cli) parse(fs *flag.FlagSet, cmd string, args []string, help func()) int {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			help()
			return 0
		}
		return c.usageError(cmd, err.Error())
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return c.usageError(cmd, fmt.Sprintf("-log-level %q: want debug, info, warn or error", c.logLevel))
	}
	return -1
}

// command returns a flag set for cmd with the common flags: -state and
// the log flags.
func (c *cli) command(name, synopsis string, state *string) (*flag.FlagSet, func([]string) int) {
	fs := flag.NewFlagSet("wallet "+name, flag.ContinueOnError)
	fs.StringVar(state, "state", "wallet-state", "wallet `directory` (mode 0700)")
	c.logFlags(fs)
	parse := func(args []string) int {
		code := c.parse(fs, "wallet "+name, args, func() {
			fmt.Fprintf(c.stdout, "usage: wallet %s\n\nflags:\n", synopsis)
			c.printDefaults(fs)
		})
		if code < 0 && fs.NArg() != 0 {
			return c.usageError("wallet "+name, fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
		}
		return code
	}
	return fs, parse
}

func (c *cli) env() *wallet.Env {
	var level slog.Level
	level.UnmarshalText([]byte(c.logLevel))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(c.stderr, opts)
	if c.logJSON {
		h = slog.NewJSONHandler(c.stderr, opts)
	}
	return &wallet.Env{Stdout: c.stdout, Stderr: c.stderr, Log: slog.New(h), Now: c.now, Terminal: c.terminal}
}

func (c *cli) fail(err error) int {
	fmt.Fprintln(c.stderr, "wallet:", err)
	return 1
}

// epochs are the values of request's -epoch flag.
var epochs = map[string]wallet.Epoch{"auto": wallet.EpochAuto, "current": wallet.EpochCurrent, "next": wallet.EpochNext}

func (c *cli) request(ctx context.Context, args []string, name string) int {
	var o wallet.RequestOptions
	var issuer, trustFile, epoch, evidenceFile string
	var timeout time.Duration
	update := name != "request"
	fs, parse := c.command(name, name+" -trust FILE [flags]", &o.State)
	fs.StringVar(&issuer, "issuer", "http://127.0.0.1:8080", "issuer base `URL` (plain http only to this\nmachine)")
	fs.StringVar(&trustFile, "trust", "", "pinned trust policy `file` (the issuer's trust.txt)")
	if !update {
		fs.StringVar(&o.Status, "status", "green", "status `name` to request: the one the issuer assigns you")
		fs.IntVar(&o.N, "n", 10, fmt.Sprintf("tokens to request per epoch, 1 to %d", holder.MaxTokens))
		fs.StringVar(&epoch, "epoch", "auto", "`epochs` to request for: current, next, or auto (the\n"+
			"current one, and with less than a quarter of it left the next\none too)")
		fs.StringVar(&o.APIKey, "api-key", "", "API key for the issuer (default $"+apiKeyEnv+"; the\n"+
			"variable keeps it out of the process list)")
		fs.StringVar(&o.Statement, "statement", wallet.DefaultStatement, "what each receipt commits you to, kept secret in the\n"+
			"wallet until you show it to an appeal body (for example your\nname and date of birth)")
		fs.StringVar(&evidenceFile, "evidence", "", "present this `file` (at most 2048 bytes, such as a test\n"+
			"result) with each request; its receipt must say so")
	}
	var offline bool
	if name == "decisions" {
		fs.BoolVar(&offline, "offline", false, "list the decisions stored, without contacting the issuer\n(no -trust needed)")
	}
	fs.DurationVar(&timeout, "timeout", 60*time.Second, "give up after this long")
	if code := parse(args); code >= 0 {
		return code
	}
	if offline {
		if err := wallet.Decisions(ctx, c.env(), wallet.RequestOptions{State: o.State}); err != nil {
			return c.fail(err)
		}
		return 0
	}
	if trustFile == "" {
		return c.usageError("wallet "+name, "-trust is required: the issuer's trust policy file (trust.txt)")
	}
	var ok bool
	if o.Epoch, ok = epochs[epoch]; !update && !ok {
		return c.usageError("wallet request", fmt.Sprintf("-epoch %q: want current, next or auto", epoch))
	}
	if !update && (o.N < 1 || o.N > holder.MaxTokens) {
		return c.usageError("wallet request", fmt.Sprintf("-n must be 1 to %d", holder.MaxTokens))
	}
	if !update && (o.Statement == "" || len(o.Statement) > token.MaxStatementSize) {
		return c.usageError("wallet request", fmt.Sprintf("-statement must be 1 to %d bytes", token.MaxStatementSize))
	}
	if o.APIKey == "" {
		o.APIKey = c.getenv(apiKeyEnv)
	}
	if !update && o.APIKey == "" {
		fmt.Fprintf(c.stderr, "wallet: no API key: set %s (or -api-key) to the key the issuer gave you\n", apiKeyEnv)
		return 2
	}
	var err error
	if evidenceFile != "" {
		if o.Evidence, err = files.ReadLimited(evidenceFile, tokenhttp.MaxEvidenceSize); err != nil {
			return c.fail(fmt.Errorf("reading the evidence: %w", err))
		}
		if len(o.Evidence) == 0 {
			return c.fail(fmt.Errorf("the evidence file %s is empty", evidenceFile))
		}
	}
	if o.Trust, err = directory.LoadTrust(trustFile); err != nil {
		return c.fail(err)
	}
	if o.Issuer, err = directory.IssuerURL(issuer); err != nil {
		return c.fail(err)
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	command := map[string]func(context.Context, *wallet.Env, wallet.RequestOptions) error{
		"request": wallet.Request, "update": wallet.Update, "decisions": wallet.Decisions,
	}[name]
	if err := command(rctx, c.env(), o); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(c.stderr, "wallet: interrupted; no token was stored")
			return 130
		}
		if rctx.Err() != nil {
			return c.fail(fmt.Errorf("%w (gave up after -timeout %v)", err, timeout))
		}
		return c.fail(err)
	}
	return 0
}

func (c *cli) appeal(args []string) int {
	var o wallet.AppealOptions
	fs, parse := c.command("appeal", "appeal [-decision N] -o FILE [flags]", &o.State)
	fs.IntVar(&o.Decision, "decision", 0, "the decision's `number`, as 'wallet decisions' lists them\n(default the last)")
	fs.StringVar(&o.Out, "o", "", "write the appeal bundle to this new `file` (mode 0600: it\n"+
		"holds your statement)")
	if code := parse(args); code >= 0 {
		return code
	}
	if o.Out == "" {
		return c.usageError("wallet appeal", "-o is required: the file to write the appeal bundle to")
	}
	if o.Decision < 0 {
		return c.usageError("wallet appeal", "-decision must be 1 or more")
	}
	if err := wallet.Appeal(c.env(), o); err != nil {
		return c.fail(err)
	}
	return 0
}

func (c *cli) show(args []string) int {
	var o wallet.ShowOptions
	fs, parse := c.command("show", "show [flags]", &o.State)
	fs.StringVar(&o.PNG, "png", "", "also write the QR code to this PNG `file` (mode 0600); empty\n"+
		"for none (default: token.png next to the -state directory)")
	fs.BoolVar(&o.QR, "qr", true, "draw the QR code on the terminal if it fits (the token's\n"+
		"text form is printed either way)")
	fs.IntVar(&o.Scale, "scale", 8, "PNG pixels per QR module, 1 to 32")
	if code := parse(args); code >= 0 {
		return code
	}
	pngSet := false
	fs.Visit(func(f *flag.Flag) { pngSet = pngSet || f.Name == "png" })
	if !pngSet {
		o.PNG = wallet.DefaultPNG(o.State)
	}
	if o.Scale < 1 || o.Scale > 32 {
		return c.usageError("wallet show", "-scale must be 1 to 32")
	}
	if err := wallet.Show(c.env(), o); err != nil {
		return c.fail(err)
	}
	return 0
}

func (c *cli) export(args []string) int {
	var state string
	var n int
	fs, parse := c.command("export", "export [flags]", &state)
	fs.IntVar(&n, "n", 1, "tokens to print")
	if code := parse(args); code >= 0 {
		return code
	}
	if n < 1 {
		return c.usageError("wallet export", "-n must be at least 1")
	}
	if err := wallet.Export(c.env(), state, n); err != nil {
		return c.fail(err)
	}
	return 0
}

func (c *cli) list(args []string) int {
	var state string
	_, parse := c.command("list", "list [flags]", &state)
	if code := parse(args); code >= 0 {
		return code
	}
	if err := wallet.List(c.env(), state); err != nil {
		return c.fail(err)
	}
	return 0
}
