// Command wallet is a statustoken holder's wallet: it fetches the issuer's
// key directory and checks it against a pinned trust policy (the issuer's
// root key, its log, and the witnesses that must have seen the directory
// in the log), obtains a batch of one-time tokens through blind issuance,
// keeps them in a local file, and shows one per scan as a QR code.
//
//	wallet request -trust FILE [flags] get tokens from the issuer
//	wallet show [flags]                show the next unused token and mark it used
//	wallet export [-n N]               print the next N unused tokens, one a line
//	wallet list                        count the stored tokens
//
// The API key that authenticates the holder to the issuer comes from the
// STATUSTOKEN_API_KEY environment variable (or -api-key) and is never
// stored. The wallet's directory (default ./wallet-state, mode 0700) holds
// only the tokens and which are used (tokens.json, mode 0600), and the last
// directory accepted with its log checkpoint, which are public.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/directory"
	"github.com/statustoken/statustoken/examples/deploy/internal/files"
	"github.com/statustoken/statustoken/holder"
	"github.com/statustoken/statustoken/token"
)

func main() {
	a := &app{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, now: time.Now}
	a.ansi = isTerminal(os.Stdout)
	os.Exit(a.run(context.Background(), os.Args[1:]))
}

// apiKeyEnv names the environment variable that holds the API key.
const apiKeyEnv = "STATUSTOKEN_API_KEY"

const usageText = `usage:
  wallet request -trust FILE [flags] fetch and check the directory, get tokens
  wallet show [flags]                show the next unused token as a QR code
                                     (terminal and PNG) and mark it used
  wallet export [-n N]               print the next N unused tokens in text
                                     form, one a line, and mark them used
  wallet list                        count the stored tokens

The API key for the issuer is read from $STATUSTOKEN_API_KEY (or -api-key)
and never stored. Run "wallet COMMAND -h" for a command's flags.
`

type app struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time
	ansi           bool
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (a *app) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(a.stderr, usageText)
		return 2
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "request":
		return a.request(ctx, args)
	case "show":
		return a.show(args)
	case "export":
		return a.export(args)
	case "list":
		return a.list(args)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(a.stdout, usageText)
		return 0
	}
	fmt.Fprintf(a.stderr, "wallet: unknown command %q\n\n%s", cmd, usageText)
	return 2
}

// flags returns a flag set for cmd with the common -state flag.
func (a *app) flags(cmd, synopsis string, state *string) *flag.FlagSet {
	fs := flag.NewFlagSet("wallet "+cmd, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.Usage = func() {
		fmt.Fprintf(a.stderr, "usage: wallet %s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
	}
	fs.StringVar(state, "state", "wallet-state", "wallet `directory` (mode 0700)")
	return fs
}

// parse parses args and returns the exit code to use, or -1 to go on.
func (a *app) parse(fs *flag.FlagSet, args []string) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(a.stderr, "wallet: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	return -1
}

func (a *app) fail(err error) int {
	fmt.Fprintln(a.stderr, "wallet:", err)
	return 1
}

func (a *app) request(ctx context.Context, args []string) int {
	var state, issuer, trustFile, status, apiKey string
	var n int
	var timeout time.Duration
	fs := a.flags("request", "request -trust FILE [flags]", &state)
	fs.StringVar(&issuer, "issuer", "http://127.0.0.1:8080", "issuer base `URL` (plain http only to this machine)")
	fs.StringVar(&trustFile, "trust", "", "pinned trust policy `file` (the issuer's trust.txt, obtained from its operator)")
	fs.StringVar(&status, "status", "green", "status `name` to request: the one the issuer assigns you")
	fs.IntVar(&n, "n", 10, fmt.Sprintf("tokens to request, 1 to %d", holder.MaxTokens))
	fs.StringVar(&apiKey, "api-key", "", "API key for the issuer (default $"+apiKeyEnv+"; the variable keeps it out of the process list)")
	fs.DurationVar(&timeout, "timeout", 60*time.Second, "give up after this long")
	if c := a.parse(fs, args); c >= 0 {
		return c
	}
	if trustFile == "" {
		fmt.Fprintln(a.stderr, "wallet: -trust is required: the issuer's trust policy file (trust.txt)")
		return 2
	}
	if n < 1 || n > holder.MaxTokens {
		fmt.Fprintf(a.stderr, "wallet: -n must be 1 to %d\n", holder.MaxTokens)
		return 2
	}
	if apiKey == "" {
		apiKey = a.getenv(apiKeyEnv)
	}
	if apiKey == "" {
		fmt.Fprintf(a.stderr, "wallet: no API key: set %s (or -api-key) to the key the issuer gave you\n", apiKeyEnv)
		return 2
	}
	pinned, err := directory.LoadTrust(trustFile)
	if err != nil {
		return a.fail(err)
	}
	base, err := directory.IssuerURL(issuer)
	if err != nil {
		return a.fail(err)
	}
	if base.Scheme == "http" && !directory.Loopback(base) {
		return a.fail(fmt.Errorf("refusing to send the API key over plain http to %s: use https", base.Host))
	}
	w, err := openWallet(state)
	if err != nil {
		return a.fail(err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return errors.New("the issuer redirected; give its final URL with -issuer")
	}}

	pub, err := directory.Fetch(ctx, client, base)
	if err != nil {
		return a.fail(fmt.Errorf("fetching the directory: %w", err))
	}
	h, err := a.openHolder(w, pub, pinned)
	if err != nil {
		return a.fail(err)
	}
	dir := h.Directory()
	code, ok := statusByName(dir, status)
	if !ok {
		return a.fail(fmt.Errorf("the directory has no status %q (it has: %s)", status, statusNames(dir)))
	}
	if err := w.storeDirectory(pub, h.Checkpoint()); err != nil {
		return a.fail(err)
	}
	pending, req, err := h.Request(code, a.now(), n)
	if err != nil {
		return a.fail(err)
	}
	resp, err := postRequest(ctx, client, base.String()+directory.TokenRequestPath, apiKey, req)
	if err != nil {
		return a.fail(err)
	}
	toks, err := h.Finalize(pending, resp)
	if err != nil {
		return a.fail(fmt.Errorf("the issuer's response does not verify under the directory: %w", err))
	}
	w.add(toks)
	if err := w.save(a.now()); err != nil {
		return a.fail(err)
	}
	fmt.Fprintf(a.stderr, "wallet: %d %s tokens stored in %s, valid until %s; %d unused in all\n",
		len(toks), status, filepath.Join(state, tokensFile), toks[0].ExpiryTime().UTC().Format(time.RFC3339), w.unused(a.now()))
	return 0
}

// openHolder returns a Holder for the directory fetched from the issuer,
// checked under the pinned trust policy and against what the wallet
// accepted before: a directory with a lower serial, or another one with
// the same serial, is refused, and its log must extend the checkpoint
// accepted last.
func (a *app) openHolder(w *wallet, pub token.Published, pinned *directory.Pinned) (*holder.Holder, error) {
	serial, prev, cp, err := w.accepted(pinned.Trust)
	if err != nil {
		return nil, err
	}
	h, err := holder.New(pub, pinned.Trust, &holder.Options{Now: a.now, MinSerial: serial, Checkpoint: cp})
	if err == nil {
		err = directory.CheckSameSerial(prev, pub.Directory)
	}
	if err != nil {
		return nil, fmt.Errorf("the issuer's directory is refused: %w", pinned.Explain(err, pub, serial))
	}
	return h, nil
}

// maxResponse bounds what is read of a token response.
const maxResponse = holder.MaxResponseSize

func postRequest(ctx context.Context, c *http.Client, u, apiKey string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sending the token request: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, directory.ResponseError(resp)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("reading the token response: %w", err)
	}
	if len(data) > maxResponse {
		return nil, fmt.Errorf("token response larger than %d bytes", maxResponse)
	}
	return data, nil
}

func statusByName(d *token.Directory, name string) (token.Status, bool) {
	for _, s := range d.Statuses {
		if s.Name == name {
			return s.Code, true
		}
	}
	return 0, false
}

func statusNames(d *token.Directory) string {
	names := make([]string, len(d.Statuses))
	for i, s := range d.Statuses {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}

func (w *wallet) unused(now time.Time) int {
	n := 0
	for _, e := range w.entries {
		if !e.used && live(e.tok, now) {
			n++
		}
	}
	return n
}

// statusName names a token's status from the stored directory, or by its
// code when there is none.
func (w *wallet) statusName(t *token.Token) string {
	if data, err := w.storedDirectory(); err == nil && data != nil {
		if d, err := token.ParseDirectory(data); err == nil {
			if name, ok := d.StatusName(t.Status); ok {
				return name
			}
		}
	}
	return fmt.Sprintf("status %d", t.Status)
}

func (a *app) show(args []string) int {
	var state, pngName string
	var showQR bool
	var scale int
	fs := a.flags("show", "show [flags]", &state)
	fs.StringVar(&pngName, "png", "token.png", "also write the QR code to this PNG `file` (mode 0600); empty for none")
	fs.BoolVar(&showQR, "qr", true, "draw the QR code in the terminal (the token's text form is printed after it either way)")
	fs.IntVar(&scale, "scale", 8, "PNG pixels per QR module, 1 to 32")
	if c := a.parse(fs, args); c >= 0 {
		return c
	}
	if scale < 1 || scale > 32 {
		fmt.Fprintln(a.stderr, "wallet: -scale must be 1 to 32")
		return 2
	}
	w, err := openWallet(state)
	if err != nil {
		return a.fail(err)
	}
	now := a.now()
	toks := w.takeUnused(1, now)
	if len(toks) == 0 {
		return a.fail(errors.New("no unused token left: get more with \"wallet request\""))
	}
	t := toks[0]
	text, err := t.MarshalText()
	if err != nil {
		return a.fail(err)
	}
	modules, err := qrModules(string(text))
	if err != nil {
		return a.fail(err)
	}
	var png []byte
	if pngName != "" {
		if png, err = qrPNG(modules, scale); err != nil {
			return a.fail(err)
		}
	}
	// The token is marked used before it is shown: a token is shown once.
	if err := w.save(now); err != nil {
		return a.fail(err)
	}
	if pngName != "" {
		if err := files.WriteAtomic(pngName, png, 0o600); err != nil {
			return a.fail(err)
		}
	}
	if showQR {
		if err := writeTerminalQR(a.stdout, modules, a.ansi); err != nil {
			return a.fail(err)
		}
	}
	fmt.Fprintf(a.stdout, "%s\n", text)
	where := ""
	if pngName != "" {
		where = "; QR code written to " + pngName
	}
	fmt.Fprintf(a.stderr, "wallet: %s token, valid until %s%s; %d unused left\n",
		w.statusName(t), t.ExpiryTime().UTC().Format(time.RFC3339), where, w.unused(now))
	return 0
}

func (a *app) export(args []string) int {
	var state string
	var n int
	fs := a.flags("export", "export [flags]", &state)
	fs.IntVar(&n, "n", 1, "tokens to print")
	if c := a.parse(fs, args); c >= 0 {
		return c
	}
	if n < 1 {
		fmt.Fprintln(a.stderr, "wallet: -n must be at least 1")
		return 2
	}
	w, err := openWallet(state)
	if err != nil {
		return a.fail(err)
	}
	now := a.now()
	toks := w.takeUnused(n, now)
	if len(toks) < n {
		return a.fail(fmt.Errorf("only %d unused tokens left, %d asked for: get more with \"wallet request\"", len(toks), n))
	}
	var out bytes.Buffer
	for _, t := range toks {
		text, err := t.MarshalText()
		if err != nil {
			return a.fail(err)
		}
		out.Write(text)
		out.WriteByte('\n')
	}
	if err := w.save(now); err != nil {
		return a.fail(err)
	}
	a.stdout.Write(out.Bytes())
	fmt.Fprintf(a.stderr, "wallet: %d tokens exported and marked used; %d unused left\n", n, w.unused(now))
	return 0
}

func (a *app) list(args []string) int {
	var state string
	fs := a.flags("list", "list [flags]", &state)
	if c := a.parse(fs, args); c >= 0 {
		return c
	}
	w, err := openWallet(state)
	if err != nil {
		return a.fail(err)
	}
	type group struct {
		status string
		expiry uint32
	}
	counts := map[group][2]int{}
	now := a.now()
	for _, e := range w.entries {
		if !live(e.tok, now) {
			continue
		}
		g := group{w.statusName(e.tok), e.tok.Expiry}
		c := counts[g]
		if e.used {
			c[1]++
		} else {
			c[0]++
		}
		counts[g] = c
	}
	if len(counts) == 0 {
		fmt.Fprintln(a.stdout, "no tokens: get some with \"wallet request\"")
		return 0
	}
	groups := make([]group, 0, len(counts))
	for g := range counts {
		groups = append(groups, g)
	}
	sort.Slice(groups, func(i, j int) bool {
		if groups[i].expiry != groups[j].expiry {
			return groups[i].expiry < groups[j].expiry
		}
		return groups[i].status < groups[j].status
	})
	for _, g := range groups {
		c := counts[g]
		fmt.Fprintf(a.stdout, "%-10s valid until %s  %3d unused  %3d used\n", g.status,
			time.Unix(int64(g.expiry), 0).UTC().Format(time.RFC3339), c[0], c[1])
	}
	return 0
}
