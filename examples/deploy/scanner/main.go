// Command scanner verifies statustoken tokens offline, against a key
// directory checked under a pinned trust policy: signed by the issuer's
// root key, and in the issuer's log as a quorum of its witnesses saw it.
//
//	scanner -trust FILE [flags] [TOKEN]      verify one token (from stdin when TOKEN is absent or -)
//	scanner -trust FILE -batch FILE [flags]  verify a file of tokens, one a line
//	scanner update -trust FILE -issuer URL   fetch and check the directory for offline use
//
// A token is given in its QR text form (HT1:...) or in base64url.
// Verification reads only the local directory files: it performs no I/O
// but the optional spent-token store. The saved directory's log proof must
// be within the trust policy's freshness bound, so run "scanner update"
// regularly (at least once an epoch). With -redis, scanners that share one
// Redis refuse a token already accepted at any of them; when Redis cannot be
// reached, a scanner refuses every token (fail closed) unless -fail-open is
// set, in which case it accepts valid tokens and says that their replay
// check was skipped.
//
// The exit status is 0 when every token is valid, 1 when any is refused,
// and 2 for a usage or setup error.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/statustoken/statustoken/examples/deploy/internal/directory"
	"github.com/statustoken/statustoken/examples/deploy/internal/files"
	"github.com/statustoken/statustoken/examples/deploy/redisstore"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

func main() {
	// Store errors are reported with each token; the Redis client's own
	// log lines would only repeat them.
	redis.SetLogger(quietLogger{})
	a := &app{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, now: time.Now}
	os.Exit(a.run(context.Background(), os.Args[1:]))
}

const usageText = `usage:
  scanner -trust FILE [flags] [TOKEN]      verify one token: TOKEN, or stdin when
                                           TOKEN is absent or -
  scanner -trust FILE -batch FILE [flags]  verify every token in FILE (- for stdin),
                                           one a line
  scanner update -trust FILE -issuer URL   fetch the issuer's directory, check it
                                           under the trust policy and save it

Tokens are in QR text form (HT1:...) or base64url. Verification is offline:
it reads the -directory, -signature and -proof files saved by "scanner
update", whose proof must be fresher than the trust policy's max-age.
With -redis, scanners sharing one Redis refuse a token used at any of them;
without Redis reachable they refuse every token, unless -fail-open.
Exit status: 0 all valid, 1 any refused, 2 usage or setup error.
`

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	now            func() time.Time
}

func (a *app) run(ctx context.Context, args []string) int {
	if len(args) > 0 && args[0] == "update" {
		return a.update(ctx, args[1:])
	}
	return a.verify(ctx, args)
}

func (a *app) usageErr(format string, args ...any) int {
	fmt.Fprintf(a.stderr, "scanner: "+format+"\n", args...)
	return 2
}

// maxInput bounds one token's input: the longest text form, with room for
// surrounding whitespace.
var maxInput = max(token.MaxTextSize, token.MaxBase64Size) + 64

// batchChunk is how many tokens are verified together; it bounds memory
// for files of any length.
const batchChunk = 1024

type verifyFlags struct {
	trust, dirFile, sigFile string
	proofFile               string
	batch                   string
	jsonOut                 bool
	redis                   string
	redisPrefix             string
	redisTimeout            time.Duration
	failOpen                bool
	skew                    time.Duration
}

func (a *app) verify(ctx context.Context, args []string) int {
	var f verifyFlags
	fl := flag.NewFlagSet("scanner", flag.ContinueOnError)
	fl.SetOutput(a.stderr)
	fl.Usage = func() {
		fmt.Fprintf(a.stderr, "%s\nflags:\n", usageText)
		fl.PrintDefaults()
	}
	fl.StringVar(&f.trust, "trust", "", "pinned trust policy `file`, the issuer's trust.txt (required)")
	fl.StringVar(&f.dirFile, "directory", "directory.json", "directory `file`")
	fl.StringVar(&f.sigFile, "signature", "directory.sig", "directory signature `file`")
	fl.StringVar(&f.proofFile, "proof", "directory.proof", "directory log proof `file`")
	fl.StringVar(&f.batch, "batch", "", "verify every token in this `file` (- for stdin), one a line; # starts a comment")
	fl.BoolVar(&f.jsonOut, "json", false, "print JSON: one object per token (JSON Lines with -batch)")
	fl.StringVar(&f.redis, "redis", "", "shared spent-token store: Redis `address` host:port or redis:// URL")
	fl.StringVar(&f.redisPrefix, "redis-prefix", redisstore.DefaultPrefix, "key `prefix` in Redis; the same for every scanner of a venue")
	fl.DurationVar(&f.redisTimeout, "redis-timeout", redisstore.DefaultTimeout, "give up on Redis after this long (for a batch: for all its tokens together)")
	fl.BoolVar(&f.failOpen, "fail-open", false, "accept valid tokens when Redis is unreachable (their replay check is skipped, and said so); default: refuse them")
	fl.DurationVar(&f.skew, "skew", verify.DefaultSkew, "clock skew tolerated at both ends of a token's validity")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if f.trust == "" {
		return a.usageErr("-trust is required: the issuer's trust policy file (trust.txt)")
	}
	if f.skew < 0 {
		return a.usageErr("-skew must not be negative")
	}
	if f.batch != "" && fl.NArg() > 0 {
		return a.usageErr("give either -batch FILE or one TOKEN, not both")
	}
	if fl.NArg() > 1 {
		return a.usageErr("one token at a time; use -batch FILE for many")
	}
	pinned, err := directory.LoadTrust(f.trust)
	if err != nil {
		return a.usageErr("%v", err)
	}
	dirData, err := files.ReadLimited(f.dirFile, token.MaxDirectorySize)
	if errors.Is(err, fs.ErrNotExist) {
		return a.usageErr("no directory file %s: fetch one with \"scanner update -trust FILE -issuer URL\"", f.dirFile)
	}
	if err != nil {
		return a.usageErr("%v", err)
	}
	sig, err := files.ReadLimited(f.sigFile, token.DirectorySignatureSize)
	if err != nil {
		return a.usageErr("%v", err)
	}
	proof, err := files.ReadLimited(f.proofFile, token.MaxProofSize)
	if errors.Is(err, fs.ErrNotExist) {
		return a.usageErr("no proof file %s: fetch the directory with \"scanner update -trust FILE -issuer URL\"", f.proofFile)
	}
	if err != nil {
		return a.usageErr("%v", err)
	}
	pub := token.Published{Directory: dirData, Signature: sig, Proof: proof}

	opts := &verify.Options{Now: a.now, Skew: f.skew, SpentFailOpen: f.failOpen}
	rep := reporter{out: a.stdout, json: f.jsonOut}
	var store *redisstore.Store
	switch {
	case f.redis != "":
		store, err = redisstore.Open(f.redis, &redisstore.Options{Prefix: f.redisPrefix, Timeout: f.redisTimeout})
		if err != nil {
			return a.usageErr("%v", err)
		}
		defer store.Close()
		opts.Spent = store
		rep.store = "shared"
		rep.failOpen = f.failOpen
	case f.batch != "":
		// Without a shared store, a batch still refuses a token listed
		// twice in it.
		opts.Spent = verify.NewMemoryStore(0, a.now)
		rep.store = "run"
	}
	v, err := verify.New(pub, pinned.Trust, opts)
	if err != nil {
		msg := pinned.Explain(err, pub, 0).Error()
		if errors.Is(err, token.ErrStale) {
			msg += `; run "scanner update" for a fresh directory and proof`
		}
		return a.usageErr("the saved directory %s is refused: %s", f.dirFile, msg)
	}
	// One deadline for the store per call to the verifier, whatever the
	// number of tokens: a batch never waits longer than -redis-timeout for
	// Redis, and once the deadline has passed the store is not asked again.
	var storeTimeout time.Duration
	if store != nil {
		storeTimeout = f.redisTimeout
	}
	chk := &checker{v: v, timeout: storeTimeout}
	if f.batch != "" {
		return a.verifyBatch(ctx, chk, f.batch, &rep)
	}
	input := "-"
	if fl.NArg() == 1 {
		input = fl.Arg(0)
	}
	if input == "-" {
		b, err := io.ReadAll(io.LimitReader(a.stdin, int64(maxInput)+1))
		if err != nil {
			return a.usageErr("reading stdin: %v", err)
		}
		if len(b) > maxInput {
			return rep.report(0, outcome{err: fmt.Errorf("%w: input longer than any token", token.ErrMalformed)})
		}
		input = string(b)
	}
	if strings.TrimSpace(input) == "" {
		return a.usageErr("no token: give one as an argument or on stdin")
	}
	return rep.report(0, chk.one(ctx, input))
}

// outcome is one token's result. res.Replay says whether and how a valid
// token was checked against replay.
type outcome struct {
	res verify.Result
	err error
}

// checker verifies tokens, giving each call one store deadline.
type checker struct {
	v *verify.Verifier
	// timeout bounds the store time of each call to the verifier, for
	// one token or a whole batch; none when zero.
	timeout time.Duration
}

func (c *checker) storeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.timeout)
}

// one verifies a token in text form or base64url, ignoring surrounding
// whitespace.
func (c *checker) one(ctx context.Context, input string) outcome {
	ctx, cancel := c.storeContext(ctx)
	defer cancel()
	s := strings.TrimSpace(input)
	if strings.HasPrefix(s, token.TextPrefix) {
		res, err := c.v.VerifyText(ctx, s)
		return outcome{res: res, err: err}
	}
	t, err := token.ParseBase64(s)
	if err != nil {
		return outcome{err: err}
	}
	raw, err := t.MarshalBinary()
	if err != nil {
		return outcome{err: err}
	}
	res, err := c.v.Verify(ctx, raw)
	return outcome{res: res, err: err}
}

// textForm returns the token in s, without surrounding whitespace, in its
// text form: s itself when it is one, the text form of a base64url token
// otherwise. Only base64url is decoded here; a text form is decoded by
// the batch itself.
func textForm(s string) (string, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, token.TextPrefix) {
		return s, nil
	}
	t, err := token.ParseBase64(s)
	if err != nil {
		return "", err
	}
	text, err := t.MarshalText()
	if err != nil {
		return "", err
	}
	return string(text), nil
}

func (a *app) verifyBatch(ctx context.Context, chk *checker, name string, rep *reporter) int {
	var in io.Reader = a.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return a.usageErr("%v", err)
		}
		defer f.Close()
		in = f
	}
	lr := newLineReader(in, maxInput)
	b := chk.v.NewBatch()
	var (
		lines    []int
		pending  []outcome
		texts    []string // the tokens of pending to verify, in text form
		idx      []int    // texts[j] is pending[idx[j]]
		results  = make([]verify.Result, 0, batchChunk)
		errs     = make([]error, 0, batchChunk)
		valid    int
		refused  int
		readErr  error
		finished bool
	)
	flush := func() {
		if len(texts) > 0 {
			results, errs = results[:len(texts)], errs[:len(texts)]
			bctx, cancel := chk.storeContext(ctx)
			b.VerifyText(bctx, texts, results, errs)
			cancel()
			for j, i := range idx {
				pending[i] = outcome{res: results[j], err: errs[j]}
			}
		}
		// Tokens refused before the batch are reported in line order
		// with the rest.
		for i, o := range pending {
			if rep.report(lines[i], o) == 0 {
				valid++
			} else {
				refused++
			}
		}
		lines, pending, texts, idx = lines[:0], pending[:0], texts[:0], idx[:0]
		clear(results[:cap(results)])
		clear(errs[:cap(errs)])
	}
	for !finished {
		n, line, tooLong, err := lr.next()
		switch {
		case err == io.EOF:
			finished = true
			continue
		case err != nil:
			readErr = err
			finished = true
			continue
		}
		text := strings.TrimSpace(line)
		if !tooLong && (text == "" || strings.HasPrefix(text, "#")) {
			continue
		}
		var o outcome
		if tooLong {
			o.err = fmt.Errorf("%w: line longer than any token", token.ErrMalformed)
		} else if text, o.err = textForm(text); o.err == nil {
			texts, idx = append(texts, text), append(idx, len(pending))
		}
		lines, pending = append(lines, n), append(pending, o)
		if len(pending) == batchChunk {
			flush()
		}
	}
	flush()
	if readErr != nil {
		fmt.Fprintf(a.stderr, "scanner: reading %s: %v\n", name, readErr)
		return 2
	}
	if valid+refused == 0 {
		fmt.Fprintf(a.stderr, "scanner: no tokens in %s\n", name)
		return 1
	}
	if !rep.json {
		fmt.Fprintf(a.stdout, "%d valid, %d refused\n", valid, refused)
	}
	if refused > 0 {
		return 1
	}
	return 0
}

// lineReader yields lines of at most limit bytes; longer lines are skipped
// whole and reported as too long.
type lineReader struct {
	r     *bufio.Reader
	limit int
	n     int
}

func newLineReader(r io.Reader, limit int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, limit+2), limit: limit}
}

func (l *lineReader) next() (n int, line string, tooLong bool, err error) {
	b, err := l.r.ReadSlice('\n')
	if err == io.EOF && len(b) > 0 {
		err = nil
	}
	if err == bufio.ErrBufferFull {
		for err == bufio.ErrBufferFull {
			_, err = l.r.ReadSlice('\n')
		}
		if err == io.EOF {
			err = nil
		}
		if err != nil {
			return 0, "", false, err
		}
		l.n++
		return l.n, "", true, nil
	}
	if err != nil {
		return 0, "", false, err
	}
	l.n++
	return l.n, string(b), false, nil
}

// reporter prints outcomes, for people or as JSON.
type reporter struct {
	out      io.Writer
	json     bool
	store    string // "", "run" (this batch only) or "shared"
	failOpen bool
}

// jsonResult is the JSON form of one outcome.
type jsonResult struct {
	Line        int    `json:"line,omitempty"`
	Valid       bool   `json:"valid"`
	Status      string `json:"status,omitempty"`
	StatusCode  int    `json:"status_code,omitempty"`
	Suite       string `json:"suite,omitempty"`
	KeyID       string `json:"key_id,omitempty"`
	Expiry      string `json:"expiry,omitempty"`
	ReplayCheck string `json:"replay_check,omitempty"`
	Reason      string `json:"reason,omitempty"`
	Error       string `json:"error,omitempty"`
}

// report prints one outcome and returns 0 for a valid token, 1 otherwise.
func (r *reporter) report(line int, o outcome) int {
	code := 0
	if o.err != nil {
		code = 1
	}
	replay := r.replayCheck(o)
	if r.json {
		j := jsonResult{Line: line, Valid: o.err == nil, ReplayCheck: replay}
		if o.err == nil {
			j.Status, j.StatusCode, j.Suite = o.res.StatusName, int(o.res.Status), o.res.Suite.String()
			j.KeyID, j.Expiry = o.res.KeyID.String(), o.res.Expiry.UTC().Format(time.RFC3339)
		} else {
			j.Reason, j.Error = reason(o.err), r.message(o.err)
		}
		enc := json.NewEncoder(r.out)
		enc.Encode(j)
		return code
	}
	prefix := ""
	if line > 0 {
		prefix = fmt.Sprintf("line %d: ", line)
	}
	if o.err != nil {
		fmt.Fprintf(r.out, "%sREFUSED  %s\n", prefix, r.message(o.err))
		return code
	}
	var check string
	switch replay {
	case "passed":
		if r.store == "shared" {
			check = "passed (shared store)"
		} else {
			check = "passed (within this batch only; no -redis)"
		}
	case "skipped":
		check = "SKIPPED: spent-token store unavailable, accepted because of -fail-open"
	default:
		check = "not done (no -redis store)"
	}
	fmt.Fprintf(r.out, "%sVALID    %s (%s, key %s, valid until %s); replay check: %s\n", prefix,
		o.res.StatusName, o.res.Suite, o.res.KeyID, o.res.Expiry.UTC().Format(time.RFC3339), check)
	return code
}

// replayCheck says what became of the replay check: "passed", "skipped"
// (store unavailable, failed open), "failed" (replayed, or the store
// refused) or "off" (no store).
func (r *reporter) replayCheck(o outcome) string {
	switch {
	case o.err == nil && o.res.Replay == verify.ReplayStoreDown:
		return "skipped"
	case o.err == nil && o.res.Replay == verify.ReplayChecked:
		return "passed"
	case o.err == nil, r.store == "":
		return "off"
	case errors.Is(o.err, verify.ErrReplayed), errors.Is(o.err, verify.ErrStoreUnavailable), storeError(o.err):
		return "failed"
	}
	// Refused before the store was asked.
	return ""
}

// storeError reports whether err came from the spent-token store rather
// than from the token.
func storeError(err error) bool {
	return reason(err) == "store_error"
}

func reason(err error) string {
	for _, c := range []struct {
		err  error
		name string
	}{
		{token.ErrMalformed, "malformed"},
		{verify.ErrExpired, "expired"},
		{verify.ErrTooFarAhead, "too_far_ahead"},
		{verify.ErrKeyMismatch, "key_mismatch"},
		{verify.ErrUnknownKey, "unknown_key"},
		{verify.ErrNotYetValid, "not_yet_valid"},
		{verify.ErrInvalidSignature, "invalid_signature"},
		{verify.ErrReplayed, "replayed"},
		{verify.ErrStoreUnavailable, "store_unavailable"},
		{verify.ErrRandomness, "randomness"},
	} {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	return "store_error"
}

func (r *reporter) message(err error) string {
	switch reason(err) {
	case "malformed":
		msg := "malformed: not a statustoken v1 token"
		if detail := strings.TrimPrefix(strings.TrimPrefix(err.Error(), token.ErrMalformed.Error()), ": "); detail != "" && detail != err.Error() {
			msg += " (" + detail + ")"
		}
		return msg
	case "expired":
		return "expired"
	case "too_far_ahead":
		return "expiry further ahead than the directory allows"
	case "key_mismatch":
		return "token fields do not match its key"
	case "unknown_key":
		return "unknown key: not in this directory (withdrawn, or update the directory)"
	case "not_yet_valid":
		return "not valid yet"
	case "invalid_signature":
		return "invalid signature"
	case "replayed":
		return "already used: this token was presented before"
	case "randomness":
		return "the scanner's random source failed, so no token of this batch was accepted: scan again"
	case "store_unavailable":
		return "spent-token store unavailable, so the token is refused (fail closed; -fail-open would accept it): " +
			strings.TrimPrefix(err.Error(), verify.ErrStoreUnavailable.Error()+": ")
	}
	return "spent-token store refused the token: " + err.Error()
}

func (a *app) update(ctx context.Context, args []string) int {
	var trustFile, issuer, dirFile, sigFile, proofFile, cpFile string
	var timeout time.Duration
	fl := flag.NewFlagSet("scanner update", flag.ContinueOnError)
	fl.SetOutput(a.stderr)
	fl.Usage = func() {
		fmt.Fprintf(a.stderr, "usage: scanner update -trust FILE -issuer URL [flags]\n\n"+
			"Fetches the issuer's directory with its signature and log proof, checks them under\n"+
			"the pinned trust policy (root signature, format rules, the log, a quorum of fresh\n"+
			"witness cosignatures), refuses one older than the saved directory or whose log does\n"+
			"not extend the saved checkpoint, and saves it.\n\nflags:\n")
		fl.PrintDefaults()
	}
	fl.StringVar(&trustFile, "trust", "", "pinned trust policy `file`, the issuer's trust.txt (required)")
	fl.StringVar(&issuer, "issuer", "http://127.0.0.1:8080", "issuer base `URL`")
	fl.StringVar(&dirFile, "directory", "directory.json", "directory `file` to write")
	fl.StringVar(&sigFile, "signature", "directory.sig", "signature `file` to write")
	fl.StringVar(&proofFile, "proof", "directory.proof", "log proof `file` to write")
	fl.StringVar(&cpFile, "checkpoint", "directory.checkpoint", "accepted log checkpoint `file` to read and write")
	fl.DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fl.NArg() != 0 {
		return a.usageErr("unexpected argument %q", fl.Arg(0))
	}
	if trustFile == "" {
		return a.usageErr("-trust is required: the issuer's trust policy file (trust.txt)")
	}
	pinned, err := directory.LoadTrust(trustFile)
	if err != nil {
		return a.usageErr("%v", err)
	}
	base, err := directory.IssuerURL(issuer)
	if err != nil {
		return a.usageErr("%v", err)
	}
	// What was accepted before: the saved directory's serial and bytes,
	// and the log checkpoint.
	var minSerial uint64
	prev, err := files.ReadLimited(dirFile, token.MaxDirectorySize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		prev = nil
	case err != nil:
		return a.usageErr("%v", err)
	default:
		d, err := token.ParseDirectory(prev)
		if err != nil {
			return a.usageErr("the saved directory %s is unreadable: %v", dirFile, err)
		}
		minSerial = d.Serial
	}
	var cp *token.Checkpoint
	cpText, err := files.ReadLimited(cpFile, token.MaxProofSize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return a.usageErr("%v", err)
	default:
		if cp, err = token.ParseCheckpoint(cpText, pinned.Trust); err != nil {
			return a.usageErr("the saved log checkpoint %s does not verify under the pinned trust policy (%v): if the policy changed on purpose, remove that file", cpFile, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pub, err := directory.Fetch(ctx, &http.Client{}, base)
	if err != nil {
		fmt.Fprintf(a.stderr, "scanner: fetching the directory: %v\n", err)
		return 1
	}
	v, err := verify.New(pub, pinned.Trust, &verify.Options{Now: a.now, MinSerial: minSerial, Checkpoint: cp})
	if err == nil {
		err = directory.CheckSameSerial(prev, pub.Directory)
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "scanner: the issuer's directory is refused: %v\n", pinned.Explain(err, pub, minSerial))
		return 1
	}
	d := v.Directory()
	newCP, err := v.Checkpoint().MarshalText()
	if err != nil {
		return a.usageErr("%v", err)
	}
	// The directory goes last but for the checkpoint: a reader between
	// two writes sees an old directory with a new signature or proof,
	// which fails, never a mismatch that passes; a scanner stopped before
	// the checkpoint is written keeps the older one, which every later
	// log extends.
	for _, f := range []struct {
		name string
		data []byte
	}{{sigFile, pub.Signature}, {proofFile, pub.Proof}, {dirFile, pub.Directory}, {cpFile, newCP}} {
		if err := files.WriteAtomic(f.name, f.data, 0o644); err != nil {
			return a.usageErr("%v", err)
		}
	}
	fmt.Fprintf(a.stdout, "directory serial %d with %d keys saved to %s (signature %s, log proof %s; log size %d)\n",
		d.Serial, len(d.Keys), dirFile, sigFile, proofFile, v.Checkpoint().Size())
	return 0
}
