// Command scanner verifies statustoken tokens offline, against a key
// directory checked under a pinned trust policy: signed by the issuer's
// root key, and in the issuer's log as a quorum of its witnesses saw it.
//
//	scanner -trust FILE [flags] [TOKEN]       verify one token (from stdin when TOKEN is absent or -)
//	scanner -trust FILE -batch FILE [flags]   verify a file of tokens, one a line
//	scanner -trust FILE -gate [FILE] [flags]  answer tokens as they arrive on stdin, or in FILE as it grows
//	scanner update -trust FILE -issuer URL    fetch and check the directory for offline use
//
// Every answer says how the token was checked against replay: spent-store
// (the Redis that the scanners of a venue share, -redis), this-scanner
// (only the tokens this scanner accepted: without -redis, those in its
// -spent file, kept across runs; with Redis down and -fail-open, those of
// this process), or not-checked (a one-token run with Redis down and
// -fail-open). See package internal/scanner, which does the work; this
// command reads its flags and wires it up.
//
// The exit status is 0 when every token is valid, 1 when any is refused,
// and 2 for a usage or setup error; a gate exits 0 at the end of its
// input or on SIGINT or SIGTERM, whatever it refused.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/statustoken/statustoken/examples/deploy/internal/scanner"
	"github.com/statustoken/statustoken/examples/deploy/redisstore"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// stdin is where tokens are read from; tests replace it.
var stdin io.Reader = os.Stdin

const usageText = `usage:
  scanner -trust FILE [flags] [TOKEN]       verify one token: TOKEN, or stdin
                                            when TOKEN is absent or -
  scanner -trust FILE -batch FILE [flags]   verify every token in FILE
                                            (- for stdin), one a line
  scanner -trust FILE -gate [FILE] [flags]  answer each token as it arrives,
                                            one a line, on stdin or in FILE
                                            as it grows (like tail -f)
  scanner update -trust FILE -issuer URL    fetch the issuer's directory,
                                            check it and save it

Tokens are in QR text form (HT1:...) or base64url (a TOKEN argument that
starts with - goes after --). Verification is offline: it reads the
-directory, -signature and -proof files saved by "scanner update", whose
proof must be fresher than the trust policy's max-age, and the -accepted
state saved with them, which the directory must extend.

Every answer ends with its replay check, "replay check: WORD" in text and
"replay_check": "WORD" in JSON:
  spent-store   checked against the shared spent-token store (-redis): not
                used at any scanner sharing it
  this-scanner  checked only against the tokens this scanner accepted:
                without -redis, those in its -spent file, kept across
                runs; with Redis unreachable and -fail-open, those this
                process saw. A second use here is refused, at another
                scanner it is not
  not-checked   not checked at all: a one-token run (TOKEN or stdin) with
                Redis unreachable and -fail-open
With -batch or -gate, a scanner never accepts a token twice, whatever
Redis does. When Redis is unreachable or times out (-redis-timeout, once
per batch), tokens are refused (fail closed) unless -fail-open; a spend
whose answer was lost is taken back once Redis answers again, so that the
holder's next scan is not refused as already used.

-gate verifies whatever has queued up while the previous batch ran, as one
batch, and prints each answer at once, in input order; it ends at the end
of stdin, or on Ctrl-C.

Exit status: 0 all valid, 1 any refused, 2 usage or setup error; a gate
exits 0 when its input ends or on a signal, 2 on a read error.
`

const updateUsageText = `usage: scanner update -trust FILE -issuer URL [flags]

Fetches the issuer's directory with its signature and log proof, checks
them under the pinned trust policy (root signature, format rules, the log,
a quorum of fresh witness cosignatures), refuses one older than the saved
directory, one that renames a status accepted before, and one whose log
does not extend the saved checkpoint, and saves it. What it accepted is
kept in the -accepted file (made, for a scanner that saved directories
before it existed, from the saved -directory and -checkpoint files).
It follows no redirect: give the issuer's own URL as -issuer.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "update" {
		return runUpdate(ctx, args[1:], stdout, stderr)
	}
	return runVerify(ctx, args, stdout, stderr)
}

// usageErr prints a usage error and where to find the usage, and returns
// exit status 2.
func usageErr(stderr io.Writer, format string, args ...any) int {
	io.WriteString(stderr, scanner.Wrap("scanner: "+fmt.Sprintf(format, args...))+"run 'scanner -h' for usage\n")
	return 2
}

// setupErr prints an error of the scanner's files or configuration and
// returns exit status 2.
func setupErr(stderr io.Writer, err error) int {
	return fail(stderr, 2, err)
}

// fail prints an error, wrapped to scanner.Width columns, and returns
// code.
func fail(stderr io.Writer, code int, err error) int {
	io.WriteString(stderr, scanner.Wrap("scanner: "+err.Error()))
	return code
}

// logFlags are the flags of the log on stderr, for every subcommand.
type logFlags struct {
	level string
	json  bool
}

func (l *logFlags) register(fl *flag.FlagSet) {
	fl.StringVar(&l.level, "log-level", "info", "log `level` on stderr: debug, info, warn or error")
	fl.BoolVar(&l.json, "log-json", false, "log in JSON instead of text")
}

func (l *logFlags) logger(stderr io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.level)); err != nil {
		return nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", l.level)
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(stderr, opts)
	if l.json {
		h = slog.NewJSONHandler(stderr, opts)
	}
	return slog.New(h), nil
}

// parse parses args, flags and arguments in any order (a "--" ends the
// flags), and returns the arguments. On -h it prints the usage to stdout;
// on an error it prints the error and a pointer to -h. done is true when
// the command should exit with code.
func parse(fl *flag.FlagSet, usage string, args []string, stdout, stderr io.Writer) (pos []string, code int, done bool) {
	var discard bytes.Buffer
	fl.SetOutput(&discard)
	fl.Usage = func() {}
	for {
		if err := fl.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, usage, "\nflags:\n")
				printFlags(stdout, fl)
				return nil, 0, true
			}
			return nil, usageErr(stderr, "%v", err), true
		}
		rest := fl.Args()
		if len(rest) == 0 {
			return pos, 0, false
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), 0, false
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// printFlags prints the flags as flag.PrintDefaults does, with each
// flag's text wrapped to scanner.Width columns.
func printFlags(w io.Writer, fl *flag.FlagSet) {
	fl.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		head := "  -" + f.Name
		if name != "" {
			head += " " + name
		}
		switch f.DefValue {
		case "", "0", "0s", "false":
		default:
			if _, ok := f.Value.(interface{ IsBoolFlag() bool }); ok {
				break
			}
			if _, ok := f.Value.(flag.Getter).Get().(string); ok {
				usage += fmt.Sprintf(" (default %q)", f.DefValue)
			} else {
				usage += fmt.Sprintf(" (default %v)", f.DefValue)
			}
		}
		fmt.Fprintln(w, head)
		io.WriteString(w, scanner.WrapIndent(usage, "      ", "      "))
	})
}

// gateFlag is -gate, alone (stdin) or as -gate=FILE.
type gateFlag struct {
	on   bool
	file string
}

func (g *gateFlag) String() string {
	if g == nil || !g.on {
		return "false"
	}
	return "true"
}

func (g *gateFlag) Set(s string) error {
	switch s {
	case "true":
		g.on = true
	case "false":
		g.on, g.file = false, ""
	default:
		g.on, g.file = true, s
	}
	return nil
}

func (g *gateFlag) IsBoolFlag() bool { return true }

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var (
		cfg   scanner.Config
		batch string
		gate  gateFlag
		logs  logFlags
	)
	fl := flag.NewFlagSet("scanner", flag.ContinueOnError)
	fl.StringVar(&cfg.TrustFile, "trust", "", "pinned trust policy `file`, the issuer's trust.txt (required)")
	fl.StringVar(&cfg.DirectoryFile, "directory", "directory.json", "directory `file`")
	fl.StringVar(&cfg.SignatureFile, "signature", "directory.sig", "directory signature `file`")
	fl.StringVar(&cfg.ProofFile, "proof", "directory.proof", "directory log proof `file`")
	fl.StringVar(&batch, "batch", "", "verify every token in this `file` (- for stdin), one a line; # starts a comment")
	fl.Var(&gate, "gate", "gate mode: answer tokens as they arrive, on stdin, or in the file given as -gate=FILE or as the argument, followed as it grows")
	fl.BoolVar(&cfg.JSON, "json", false, "print one JSON object per token (JSON Lines)")
	fl.StringVar(&cfg.Redis, "redis", "", "shared spent-token store: Redis `address` host:port or redis:// URL")
	fl.StringVar(&cfg.RedisPrefix, "redis-prefix", redisstore.DefaultPrefix, "key `prefix` in Redis; the same for every scanner of a venue")
	fl.DurationVar(&cfg.RedisTimeout, "redis-timeout", redisstore.DefaultTimeout, "give up on Redis after this long: for one token, or for a whole batch")
	fl.BoolVar(&cfg.FailOpen, "fail-open", false, "accept valid tokens when Redis is unreachable, with replay check this-scanner (not-checked for one token); default: refuse them")
	fl.DurationVar(&cfg.Skew, "skew", verify.DefaultSkew, "clock skew tolerated at both ends of a token's validity; 0 for none")
	fl.StringVar(&cfg.SpentFile, "spent", "", "spent-token `file` used without -redis: the tokens accepted, across runs (default spent.tokens beside the -directory file)")
	fl.StringVar(&cfg.AcceptedFile, "accepted", "", acceptedUsage)
	fl.StringVar(&cfg.LegacyCheckpointFile, "checkpoint", "directory.checkpoint", checkpointUsage)
	logs.register(fl)
	pos, code, done := parse(fl, usageText, args, stdout, stderr)
	if done {
		return code
	}
	if cfg.SpentFile == "" {
		cfg.SpentFile = filepath.Join(filepath.Dir(cfg.DirectoryFile), "spent.tokens")
	}
	if cfg.AcceptedFile == "" {
		cfg.AcceptedFile = acceptedBeside(cfg.DirectoryFile)
	}
	switch {
	case cfg.TrustFile == "":
		return usageErr(stderr, "-trust is required: the issuer's trust policy file (trust.txt)")
	case cfg.Skew < 0:
		return usageErr(stderr, "-skew must not be negative")
	case cfg.RedisTimeout <= 0:
		return usageErr(stderr, "-redis-timeout must be positive")
	case batch != "" && gate.on:
		return usageErr(stderr, "give either -batch or -gate, not both")
	case batch != "" && len(pos) > 0:
		return usageErr(stderr, "give either -batch FILE or one TOKEN, not both")
	case gate.on && gate.file != "" && len(pos) > 0, gate.on && len(pos) > 1:
		return usageErr(stderr, "-gate follows one file: unexpected argument %q", pos[len(pos)-1])
	case len(pos) > 1:
		return usageErr(stderr, "one token at a time; use -batch FILE or -gate for many")
	case batch == "" && !gate.on && len(pos) == 1 && isFile(pos[0]):
		return usageErr(stderr, "%q is a file, not a token: to verify the tokens in a file, one a line, use -batch FILE", pos[0])
	}
	logger, err := logs.logger(stderr)
	if err != nil {
		return usageErr(stderr, "%v", err)
	}
	// Store errors are reported with each token and in warnings; the
	// Redis client's own lines go to the debug log.
	redis.SetLogger(redisLogger{logger})
	cfg.Logger = logger
	cfg.Single = batch == "" && !gate.on
	s, err := scanner.New(cfg)
	if err != nil {
		return setupErr(stderr, err)
	}
	defer s.Close()

	switch {
	case gate.on:
		name := gate.file
		if name == "" && len(pos) == 1 {
			name = pos[0]
		}
		in := stdin
		if name != "" && name != "-" {
			f, err := scanner.Follow(ctx, name)
			if err != nil {
				return setupErr(stderr, err)
			}
			defer f.Close()
			in = f
		}
		logger.Info("gate open", "input", inputName(name), "directory_serial", s.Directory().Serial)
		sum, err := s.Gate(ctx, in, stdout)
		logger.Info("gate closed", "valid", sum.Valid, "refused", sum.Refused)
		if err != nil {
			return fail(stderr, 2, err)
		}
		return 0
	case batch != "":
		in, name := stdin, "stdin"
		if batch != "-" {
			f, err := os.Open(batch)
			if err != nil {
				return setupErr(stderr, err)
			}
			defer f.Close()
			in, name = f, batch
		}
		sum, err := s.Batch(ctx, in, name, stdout)
		switch {
		case err != nil && ctx.Err() != nil:
			fmt.Fprintf(stderr, "scanner: interrupted after %d valid, %d refused\n", sum.Valid, sum.Refused)
			return 2
		case err != nil:
			return fail(stderr, 2, err)
		case sum.Valid+sum.Refused == 0:
			return fail(stderr, 1, fmt.Errorf("no tokens in %s", name))
		case sum.Refused > 0:
			return 1
		}
		return 0
	}
	input := "-"
	if len(pos) == 1 {
		input = pos[0]
	}
	if input == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, int64(scanner.MaxInput)+1))
		if err != nil {
			return setupErr(stderr, fmt.Errorf("reading stdin: %v", err))
		}
		input = string(b)
	}
	valid, err := s.Scan(ctx, input, stdout)
	switch {
	case errors.Is(err, scanner.ErrNoToken):
		return usageErr(stderr, "%v", err)
	case err != nil:
		return fail(stderr, 2, err)
	case !valid:
		return 1
	}
	return 0
}

// isFile reports whether arg, given where a token is expected, names a
// file or folder instead.
func isFile(arg string) bool {
	if arg == "-" || strings.HasPrefix(arg, token.TextPrefix) {
		return false
	}
	_, err := os.Stat(arg)
	return err == nil
}

func inputName(name string) string {
	if name == "" || name == "-" {
		return "stdin"
	}
	return name
}

// The -accepted and -checkpoint flags, the same for verifying and for
// update.
const (
	acceptedUsage   = "accepted state `file`, which update writes and every run reads: the serial, status names and log checkpoint of the directories accepted, which the saved directory must extend (default: the -directory file's name, ending in .accepted for its extension: directory.accepted)"
	checkpointUsage = "log checkpoint `file` of an older scanner, read only while the -accepted file does not exist"
)

// acceptedBeside returns the default accepted state file of the directory
// file dir: its name with .accepted for its extension.
func acceptedBeside(dir string) string {
	if name := strings.TrimSuffix(dir, filepath.Ext(dir)) + ".accepted"; name != dir {
		return name
	}
	return dir + ".accepted"
}

func runUpdate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var (
		cfg     scanner.UpdateConfig
		timeout time.Duration
		logs    logFlags
	)
	fl := flag.NewFlagSet("scanner update", flag.ContinueOnError)
	fl.StringVar(&cfg.TrustFile, "trust", "", "pinned trust policy `file`, the issuer's trust.txt (required)")
	fl.StringVar(&cfg.Issuer, "issuer", "http://127.0.0.1:8080", "issuer base `URL`")
	fl.StringVar(&cfg.DirectoryFile, "directory", "directory.json", "directory `file` to write")
	fl.StringVar(&cfg.SignatureFile, "signature", "directory.sig", "signature `file` to write")
	fl.StringVar(&cfg.ProofFile, "proof", "directory.proof", "log proof `file` to write")
	fl.StringVar(&cfg.AcceptedFile, "accepted", "", acceptedUsage)
	fl.StringVar(&cfg.LegacyCheckpointFile, "checkpoint", "directory.checkpoint", checkpointUsage)
	fl.DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	logs.register(fl)
	pos, code, done := parse(fl, updateUsageText, args, stdout, stderr)
	if done {
		return code
	}
	if len(pos) != 0 {
		return usageErr(stderr, "update: unexpected argument %q", pos[0])
	}
	if timeout <= 0 {
		return usageErr(stderr, "update: -timeout must be positive")
	}
	if cfg.AcceptedFile == "" {
		cfg.AcceptedFile = acceptedBeside(cfg.DirectoryFile)
	}
	logger, err := logs.logger(stderr)
	if err != nil {
		return usageErr(stderr, "%v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u, err := scanner.Update(ctx, cfg)
	var se *scanner.SetupError
	switch {
	case errors.As(err, &se):
		return setupErr(stderr, err)
	case err != nil:
		return fail(stderr, 1, err)
	}
	logger.Debug("directory saved", "serial", u.Serial, "keys", u.Keys, "log_size", u.LogSize)
	io.WriteString(stdout, scanner.Wrap(u.String(&cfg)))
	return 0
}

// redisLogger sends the Redis client's log lines to the debug log.
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.DebugContext(ctx, "redis client: "+strings.TrimSpace(fmt.Sprintf(format, v...)))
}
