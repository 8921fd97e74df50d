// Command monitor audits an issuer's directory transparency log: the
// latest checkpoint, cosigned by a quorum of the pinned witnesses and
// extending the one verified before, and every directory version the log
// records, against its archive, the root key, the directory rules and the
// rules across versions (a withdrawn key never returns; a status keeps
// its code and name; serials increase). When the directory publishes a
// decision policy, it also replays the decision log and prints, per
// epoch, the number of decisions by outcome, reason and evidence
// presented or not, with an alarm for each decision that the policy in
// force does not allow. See package internal/monitor for every check.
//
//	monitor -issuer URL -trust FILE [-state FILE] [-json]
//	monitor check-appeal -trust FILE BUNDLE
//
// It prints each version (serial, epochs, keys), the decision tallies
// and a summary on stdout; findings are lines "ALARM: ..." and
// "WARNING: ...". With -state it continues where the last run stopped
// (the tallies too), and saves its progress there even when the run is
// incomplete; without it, it audits the whole log.
//
// check-appeal checks an appeal bundle (token.CheckAppeal) offline with
// the trust policy alone and prints what it proves: the issuer, the
// outcome, the reason's text, the epoch, whether evidence was presented,
// and the holder's statement; or what broke. A receipt that is valid but
// not proven in the decision log is reported as NOT LOGGED: after the
// directory's decision log delay, that is evidence against the issuer.
// Its exit status: 0 valid, 1 not valid, 2 on a usage error.
//
// Exit status: 0 when the audit completed without alarm (warnings
// allowed), 1 on any alarm or when the audit could not complete (the
// issuer unreachable, a transient failure), 2 on a usage error or an
// unusable trust policy or state file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/directory"
	"github.com/statustoken/statustoken/examples/deploy/internal/files"
	"github.com/statustoken/statustoken/examples/deploy/internal/monitor"
	"github.com/statustoken/statustoken/token"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usageText = `usage: monitor -issuer URL -trust FILE [-state FILE] [-json]
       monitor check-appeal -trust FILE BUNDLE

Audits the issuer's directory transparency log, and its decision log if
it publishes a decision policy (tallies per epoch by outcome, reason and
evidence). Exit status: 0 clean, 1 on any alarm or an incomplete audit,
2 on a usage error. "monitor check-appeal -h" describes the other form.

flags:
`

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
		case "", "0", "false":
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

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "check-appeal" {
		return checkAppeal(args[1:], stdout, stderr)
	}
	fl := flag.NewFlagSet("monitor", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() {
		fmt.Fprint(stderr, usageText)
		printFlags(stderr, fl)
	}
	issuer := fl.String("issuer", "", "the issuer's base `URL`; its log is under URL/log/")
	trustFile := fl.String("trust", "", "the pinned trust policy `file` (trust.txt: root, log, witnesses, quorum, max-age)")
	stateFile := fl.String("state", "", "state `file`: read to continue from the last run, written after this one (mode 0600)")
	jsonOut := fl.Bool("json", false, "write the report as one JSON object instead of text")
	timeout := fl.Duration("timeout", monitor.DefaultTimeout, "timeout of each HTTP request")
	logLevel := fl.String("log-level", "info", "log `level` on stderr: debug, info, warn or error")
	logJSON := fl.Bool("log-json", false, "log in JSON instead of text")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "monitor: "+format+"\n", a...)
		return 2
	}
	if fl.NArg() != 0 {
		return usage("unexpected argument %q", fl.Arg(0))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usage("-log-level %q: want debug, info, warn or error", *logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	var logger *slog.Logger
	if *logJSON {
		logger = slog.New(slog.NewJSONHandler(stderr, opts))
	} else {
		logger = slog.New(slog.NewTextHandler(stderr, opts))
	}
	if *issuer == "" || *trustFile == "" {
		return usage("-issuer and -trust are required (-h for help)")
	}
	u, err := directory.IssuerURL(*issuer)
	if err != nil {
		return usage("%v", err)
	}
	if *timeout <= 0 {
		return usage("-timeout must be positive")
	}
	text, err := files.ReadLimited(*trustFile, token.MaxTrustSize)
	if err != nil {
		return usage("reading the trust policy: %v", err)
	}
	trust, err := token.ParseTrust(text)
	if err != nil {
		return usage("%s: %v", *trustFile, err)
	}
	var state *monitor.State
	if *stateFile != "" {
		b, err := files.ReadLimited(*stateFile, monitor.MaxStateSize)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			logger.Info("no state file yet: auditing the log from its first record", "state", *stateFile)
		case err != nil:
			return usage("reading the state: %v", err)
		default:
			if state, err = monitor.ParseState(b); err != nil {
				return usage("%s: %v", *stateFile, err)
			}
		}
	}

	if u.Scheme == "http" && !directory.Loopback(u) {
		// Everything is signed, so a network attacker cannot hide a
		// misbehaving log from the monitor for longer than the trust
		// policy's max-age, but it can raise false alarms.
		logger.Warn("plain http to another host: a network attacker can raise false alarms", "issuer", u.String())
	}
	logger.Info("auditing", "issuer", u.String(), "log", trust.LogOrigin())
	start := time.Now()
	report, err := monitor.Run(ctx, monitor.Config{
		Issuer: u.String(),
		Trust:  trust,
		State:  state,
		Client: &http.Client{Timeout: *timeout},
		Logger: logger,
		JSON:   *jsonOut,
	}, stdout)
	if report == nil {
		// The configuration or the state was refused before any request.
		return usage("%v", err)
	}
	code := 0
	if err != nil {
		logger.Error("audit incomplete", "error", err)
		code = 1
	}
	if *stateFile != "" && report.State != nil {
		b, serr := report.State.Marshal()
		if serr == nil {
			serr = files.WriteAtomic(*stateFile, b, 0o600)
		}
		if serr != nil {
			logger.Error("cannot save the state", "state", *stateFile, "error", serr)
			code = 1
		}
	}
	logger.Info("audit done", "alarms", report.Alarms, "warnings", report.Warnings,
		"records", report.End-report.Start, "elapsed", time.Since(start).Round(time.Millisecond).String())
	if report.Alarms > 0 {
		code = 1
	}
	return code
}
