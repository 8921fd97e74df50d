// Package wallet is a statustoken holder's wallet, the commands behind
// cmd/wallet: [Request] fetches the issuer's key directory, checks it
// against a pinned trust policy (the issuer's root key, its log, and the
// witnesses that must have seen the directory in the log), obtains a
// batch of one-time tokens through blind issuance and keeps them in a
// [Store]; [Show] shows the next unused token as a QR code, [Export]
// prints tokens in text form, [List] counts them; [Update] fetches and
// checks the directory only.
//
// Under a directory with a decision policy (token/SPEC.md, "Decisions"),
// Request commits each token request to a new opening (a random salt and
// the holder's statement), asks for exactly the directory's
// tokens_per_request, and checks the issuer's receipt of the answer
// (holder.Holder.CheckReceipt) before it uses or stores anything: an
// answer without a valid receipt is an error wrapping [ErrReceipt], and
// nothing of it is stored. The receipt of a grant, and of a refusal (an
// error wrapping [ErrRefused]), is kept with its opening as a decision.
// Request, Update and [Decisions] fetch the decision log proofs of the
// decisions kept, and report those still missing after the directory's
// decision_log_delay; [Appeal] writes a decision's appeal bundle.
//
// Read commands (Show, Export, List) create nothing: a missing state
// directory is an error wrapping [ErrNoState]. They check the saved
// directory under the saved trust policy each time they load it: damage
// is an error wrapping [ErrDamaged]. Show and Export mark the tokens they
// give out as used before they give them out. Every command holds the
// state's lock from opening it to its end.
package wallet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/statustoken/statustoken/examples/deploy/internal/directory"
	"github.com/statustoken/statustoken/examples/deploy/internal/files"
	"github.com/statustoken/statustoken/holder"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/token/tokenhttp"
)

// Env is what the commands write to and read from. Only Stdout and
// Stderr are required.
type Env struct {
	Stdout, Stderr io.Writer
	// Log gets the commands' diagnostics; none when nil.
	Log *slog.Logger
	// Now is time.Now when nil.
	Now func() time.Time
	// Terminal returns the size of the terminal Stdout is, and whether it
	// is one; when nil, Stdout is measured if it is an *os.File.
	Terminal func() (width, height int, ok bool)
	// Client makes the HTTP requests; when nil, a client that refuses
	// redirects.
	Client *http.Client

	disk disk // the operating system's when nil; tests' runs out
}

// DefaultWidth and DefaultHeight are the terminal size a QR code is
// drawn for when Stdout is not a terminal (or reports no size).
const DefaultWidth, DefaultHeight = 80, 24

func (e *Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Env) log() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (e *Env) terminal() (int, int, bool) {
	if e.Terminal != nil {
		return e.Terminal()
	}
	if f, ok := e.Stdout.(*os.File); ok {
		return terminalSize(f)
	}
	return 0, 0, false
}

func (e *Env) client() *http.Client {
	if e.Client != nil {
		return e.Client
	}
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return errors.New("the issuer redirected; give its final URL with -issuer")
	}}
}

// timeFormat is how times are shown; token expiries are UTC epoch
// boundaries.
const timeFormat = "2006-01-02 15:04 UTC"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// plural returns "1 token", "2 tokens".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Epoch says for which epochs Request asks for tokens.
type Epoch int

const (
	// EpochAuto asks for the current epoch, and, late in it (less than a
	// quarter of the epoch left: after 18:00 UTC for 24-hour epochs),
	// for the next one as well when the directory lists its key.
	EpochAuto Epoch = iota
	// EpochCurrent asks for the current epoch only.
	EpochCurrent
	// EpochNext asks for the next epoch only; its key must be listed.
	EpochNext
)

// RequestOptions are the parameters of Request and Update.
type RequestOptions struct {
	// State is the wallet directory, created (mode 0700) once a directory
	// is accepted, if it is missing.
	State string
	// Issuer is the issuer's base URL.
	Issuer *url.URL
	// Trust is the pinned trust policy.
	Trust *token.Trust
	// Status names the status to request.
	Status string
	// N is the number of tokens per epoch, 1 to holder.MaxTokens.
	N int
	// Epoch chooses the epochs to request tokens for.
	Epoch Epoch
	// APIKey authenticates the holder to the issuer; it is sent with the
	// token request only, and never stored.
	APIKey string
	// Statement is what the holder commits to in each request's receipt
	// (token.Opening), to show an appeal body: DefaultStatement when
	// empty. At most token.MaxStatementSize bytes.
	Statement string
	// Evidence, when not empty, is presented with each token request to
	// an issuer with a decision policy (at most tokenhttp.MaxEvidenceSize
	// bytes, such as a test result); its receipt must say so, with the
	// evidence's SHA-256.
	Evidence []byte
}

// DefaultStatement is the statement of an opening when the holder gives
// none: the opening's random salt alone then shows that the receipt is
// the holder's.
const DefaultStatement = "holder of this wallet"

// Update fetches and checks the issuer's directory and stores it, with
// the trust policy, as Request does, and requests no token: it replaces
// a damaged saved directory. o.Status, o.N, o.Epoch and o.APIKey are
// not used.
func Update(ctx context.Context, e *Env, o RequestOptions) error {
	s, h, err := fetchDirectory(ctx, e, o)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(e.Stderr, "wallet: directory serial %d stored in %s\n", h.Accepted().Serial, o.State)
	return fetchProofs(ctx, e, o, s, h)
}

// Request fetches and checks the issuer's directory, stores it, requests
// o.N tokens of status o.Status for each epoch o.Epoch chooses, and
// stores them. Every HTTP request is made under ctx. The state stays
// locked throughout, so that parallel commands wait for it.
//
// Room for the tokens is reserved on the disk before each token request
// is sent (a temporary file as large as the tokens file can become), so
// that a full disk stops the wallet before the issuer signs anything, or
// counts the request against its rate limit. Should storing the tokens
// fail nonetheless, they are printed on Stdout rather than lost.
func Request(ctx context.Context, e *Env, o RequestOptions) error {
	if o.N < 1 || o.N > holder.MaxTokens {
		return fmt.Errorf("-n must be 1 to %d", holder.MaxTokens)
	}
	if len(o.Statement) > token.MaxStatementSize {
		return fmt.Errorf("-statement is %d bytes long, more than %d", len(o.Statement), token.MaxStatementSize)
	}
	if len(o.Evidence) > tokenhttp.MaxEvidenceSize {
		return fmt.Errorf("the evidence is %d bytes long, more than %d", len(o.Evidence), tokenhttp.MaxEvidenceSize)
	}
	if o.Issuer.Scheme == "http" && !directory.Loopback(o.Issuer) {
		return fmt.Errorf("refusing to send the API key over plain http to %s: use https", o.Issuer.Host)
	}
	s, h, err := fetchDirectory(ctx, e, o)
	if err != nil {
		return err
	}
	defer s.Close()
	log := e.log()
	dir := h.Directory()
	code, ok := statusByName(dir, o.Status)
	if !ok {
		return fmt.Errorf("the directory has no status %q (it has: %s)", o.Status, statusNames(dir))
	}
	epochs, err := requestEpochs(e, dir, code, o.Epoch)
	if err != nil {
		return err
	}
	if err := fetchProofs(ctx, e, o, s, h); err != nil {
		return err
	}
	if n := dir.TokensPerRequest; n != 0 && n != o.N {
		// A request of any other size would stand out to the issuer.
		fmt.Fprintf(e.Stderr, "wallet: the issuer takes exactly %s per request; asking for %d\n", plural(n, "token"), n)
		o.N = n
	}
	for _, at := range epochs {
		pending, req, err := h.Request(code, at, o.N)
		if errors.Is(err, holder.ErrUpdateFirst) {
			// The proof is older than the policy's issue-max-age: the
			// issuer may have cosigned its log since. Fetch it once more.
			log.Debug("directory too old to request tokens under; fetching it again", "checkpoint_time", h.Accepted().Checkpoint.Time().UTC().Format(time.RFC3339))
			pub, ferr := fetch(ctx, e, o)
			if ferr != nil {
				return fmt.Errorf("fetching the directory again: %w", ferr)
			}
			if err := h.Update(pub); err != nil {
				return fmt.Errorf("the issuer's directory is refused: %w", directory.Explain(err, o.Trust, pub))
			}
			if err := s.StoreDirectory(pub, h.Accepted(), o.Trust); err != nil {
				return err
			}
			pending, req, err = h.Request(code, at, o.N)
		}
		switch {
		case errors.Is(err, holder.ErrUpdateFirst):
			return fmt.Errorf("the issuer's directory was last cosigned by a quorum of its witnesses at %s, longer ago than issue-max-age %v of the trust policy, so no token is requested under it: "+
				"try again later; if it stays so, the issuer's witnesses are down, or someone is holding back updates (%w)",
				h.Accepted().Checkpoint.Time().UTC().Format(time.RFC3339), o.Trust.IssueMaxAge(), err)
		case err != nil:
			return err
		}
		if err := requestTokens(ctx, e, o, s, h, pending, req, at); err != nil {
			return err
		}
	}
	return nil
}

// requestEpochs returns a time in each epoch to request tokens for.
func requestEpochs(e *Env, dir *token.Directory, code token.Status, choice Epoch) ([]time.Time, error) {
	now := e.now()
	cur, ok := dir.KeyAt(token.RSABSSA, code, now)
	if !ok {
		// holder.Request says so.
		return []time.Time{now}, nil
	}
	next := cur.ExpiryTime()
	_, listed := dir.KeyAt(token.RSABSSA, code, next)
	switch choice {
	case EpochCurrent:
		return []time.Time{now}, nil
	case EpochNext:
		if !listed {
			return nil, fmt.Errorf("the directory lists no key for the epoch from %s yet: try again later", formatTime(next))
		}
		return []time.Time{next}, nil
	}
	epoch := time.Duration(dir.EpochLength) * time.Second
	if left := next.Sub(now); left < epoch/4 {
		if listed {
			return []time.Time{now, next}, nil
		}
		e.log().Debug("late in the epoch, but the next epoch's key is not listed yet", "epoch_ends", formatTime(next))
	}
	return []time.Time{now}, nil
}

// fetchDirectory fetches the issuer's directory, checks it against the
// trust policy and what the wallet accepted before, and stores it. It
// returns the state, locked, and a Holder for the directory.
func fetchDirectory(ctx context.Context, e *Env, o RequestOptions) (*Store, *holder.Holder, error) {
	// Checked before any request, created only once there is something
	// to keep.
	s, err := open(o.State, e)
	if err != nil {
		return nil, nil, err
	}
	log := e.log()
	base := o.Issuer.String()
	log.Debug("fetching the directory", "url", base+directory.Path)
	start := time.Now()
	pub, err := fetch(ctx, e, o)
	if err != nil {
		s.Close()
		return nil, nil, fmt.Errorf("fetching the directory: %w", err)
	}
	log.Debug("directory fetched", "bytes", len(pub.Directory), "proof_bytes", len(pub.Proof), "elapsed", time.Since(start).Round(time.Millisecond).String())
	h, err := openHolder(e, s, pub, o.Trust)
	if err == nil && s.missing {
		// Created and locked now: check again under the lock, against
		// what a command run in parallel may have accepted meanwhile.
		if err = s.ensure(); err == nil {
			h, err = openHolder(e, s, pub, o.Trust)
		}
	}
	if err == nil {
		err = s.StoreDirectory(pub, h.Accepted(), o.Trust)
	}
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	log.Debug("directory accepted", "serial", h.Accepted().Serial, "log_size", h.Accepted().Checkpoint.Size())
	return s, h, nil
}

// fetch fetches the issuer's published directory.
func fetch(ctx context.Context, e *Env, o RequestOptions) (token.Published, error) {
	c, err := tokenhttp.NewClient(o.Issuer.String(), e.client())
	if err != nil {
		return token.Published{}, err
	}
	return c.FetchDirectory(ctx)
}

// ErrReceipt is wrapped by the error for an answer to a token request
// whose receipt is missing or does not check: the issuer's fault. The
// answer is not used, and nothing of it is stored.
var ErrReceipt = errors.New("the issuer's receipt is refused")

// ErrRefused is wrapped by the error for a token request the issuer
// refused with a valid receipt, which the wallet stored.
var ErrRefused = errors.New("refused")

// requestTokens sends one token request, at the time at, and stores the
// tokens, with room for them reserved first. Under a directory with a
// decision policy it sends the commitment of a new opening, checks the
// receipt of the answer before it uses it, and stores the receipt, with
// the opening, as a decision: for a grant and a refusal alike.
func requestTokens(ctx context.Context, e *Env, o RequestOptions, s *Store, h *holder.Holder, pending *holder.Pending, req []byte, at time.Time) error {
	log := e.log()
	decisions := h.Directory().HasDecisions()
	var (
		opening token.Opening
		ds      []*decision
		droom   *reserved
	)
	if decisions {
		statement := o.Statement
		if statement == "" {
			statement = DefaultStatement
		}
		var err error
		if opening, err = newOpening(statement); err != nil {
			return err
		}
		if ds, err = s.loadDecisions(); err != nil {
			return err
		}
	}
	room, err := s.reserveTokens(o.N)
	if err == nil && decisions {
		if droom, err = s.reserveDecision(ds, h.Published()); err != nil {
			room.discard()
		}
	}
	if err != nil {
		return fmt.Errorf("no room to store %s in %s, so none was requested: %w", plural(o.N, "token"), o.State, err)
	}
	discard := func() {
		room.discard()
		if droom != nil {
			droom.discard()
		}
	}
	u := o.Issuer.String() + directory.TokenRequestPath
	log.Debug("sending the token request", "url", u, "status", o.Status, "tokens", o.N, "epoch_of", at.UTC().Format(time.RFC3339))
	start := time.Now()
	var commitment *[32]byte
	if decisions {
		c := opening.Commitment()
		commitment = &c
	}
	a, err := postRequest(ctx, e, o, req, commitment)
	if err != nil {
		discard()
		if errors.Is(err, ErrReceipt) {
			if rerr := recordIncident(o.State, e.now(), o.Issuer.String(), 0, err.Error(), req, commitment, nil); rerr != nil {
				return fmt.Errorf("%w (recording it failed: %v)", err, rerr)
			}
			return fmt.Errorf("%w; recorded in %s", err, filepath.Join(o.State, IncidentsFile))
		}
		return err
	}
	log.Debug("token response received", "bytes", len(a.body), "elapsed", time.Since(start).Round(time.Millisecond).String())
	if decisions && a.code != http.StatusOK && a.code != http.StatusForbidden {
		// No decision taken: no receipt.
		discard()
		return a.err
	}
	var receiptErr error
	if decisions {
		r, err := h.CheckReceipt(req, *commitment, a.receipt)
		switch {
		case err != nil:
		case (r.Outcome == token.Refused) != (a.code == http.StatusForbidden):
			err = fmt.Errorf("the receipt's outcome %d contradicts the answer", r.Outcome)
		case r.Evidence != (len(o.Evidence) > 0) || (r.Evidence && r.EvidenceSHA256 != sha256.Sum256(o.Evidence)):
			// The issuer's record would misstate what the holder showed.
			err = fmt.Errorf("%w: the receipt misstates the evidence presented", token.ErrReceiptMismatch)
		}
		if err != nil {
			discard()
			what := "its receipt does not check"
			if len(a.receipt) == 0 {
				what = "it carries no receipt"
			}
			problem := fmt.Sprintf("the issuer answered %s, but %s (%v)", fmt.Sprint(a.code, " ", http.StatusText(a.code)), what, err)
			recorded := "recorded in " + filepath.Join(o.State, IncidentsFile)
			if rerr := recordIncident(o.State, e.now(), o.Issuer.String(), a.code, problem, req, commitment, a.receipt); rerr != nil {
				recorded = fmt.Sprintf("recording it failed (%v)", rerr)
			}
			return fmt.Errorf("%w: the issuer answered %s, but %s (%w): this is the issuer's fault, not yours; no token was stored; %s; keep this message as evidence",
				ErrReceipt, fmt.Sprint(a.code, " ", http.StatusText(a.code)), what, err, recorded)
		}
		d := &decision{receipt: r, raw: a.receipt, cited: h.Published(), dir: h.Directory(), opening: opening, received: e.now()}
		ds = append(ds, d)
		if r.Outcome == token.Refused {
			room.discard()
			if err := s.saveDecisions(ds, droom); err != nil {
				return fmt.Errorf("the issuer refused the request (%s), and storing its receipt failed: %w", d.outcomeText(), err)
			}
			if a.message != "" {
				fmt.Fprintf(e.Stderr, "wallet: the issuer says: %s\n", a.message)
			}
			return fmt.Errorf("%w: %s; receipt kept as decision %d: appeal with 'wallet appeal -decision %d -o FILE'", ErrRefused, d.reasonText(), len(ds), len(ds))
		}
		receiptErr = s.saveDecisions(ds, droom)
		droom = nil
		if receiptErr == nil {
			fmt.Fprintf(e.Stderr, "wallet: receipt kept as decision %d (%s)\n", len(ds), d.outcomeText())
		}
	} else if a.err != nil {
		discard()
		return a.err
	}
	toks, err := h.Finalize(pending, a.body)
	if err != nil {
		room.discard()
		return fmt.Errorf("the issuer's response does not verify under the directory: %w", err)
	}
	if receiptErr != nil {
		room.discard()
		// The receipt and the opening's salt and statement, for an appeal.
		fmt.Fprintf(e.Stdout, "receipt %s\nopening %s %q\n", base64.StdEncoding.EncodeToString(a.receipt),
			base64.StdEncoding.EncodeToString(opening.Salt[:]), opening.Statement)
		return keepPrinted(e, toks, fmt.Errorf("storing the issuer's receipt: %w", receiptErr))
	}
	s.Add(toks)
	before := len(s.entries)
	now := e.now()
	if err := s.saveReserved(room, now); err != nil {
		return keepPrinted(e, toks, err)
	}
	if dropped := before - len(s.entries); dropped > 0 {
		log.Debug("expired tokens dropped", "tokens", dropped)
	}
	valid := "valid until " + formatTime(toks[0].ExpiryTime())
	if from := notBefore(toks[0], h.Directory()); from.After(now) {
		valid = "valid from " + formatTime(from) + " until " + formatTime(toks[0].ExpiryTime())
	}
	fmt.Fprintf(e.Stderr, "wallet: %s stored in %s, %s; %d unused in all\n",
		plural(len(toks), o.Status+" token"), filepath.Join(o.State, TokensFile), valid, s.unused(now))
	return nil
}

// keepPrinted prints tokens that could not be stored on Stdout, one a
// line, so that nothing the issuer signed is lost.
func keepPrinted(e *Env, toks []*token.Token, err error) error {
	for _, t := range toks {
		text, merr := t.MarshalText()
		if merr != nil {
			return merr
		}
		fmt.Fprintf(e.Stdout, "%s\n", text)
	}
	return fmt.Errorf("storing the tokens failed (%w): the %s signed are printed above, one a line; keep them and show each once",
		err, plural(len(toks), "token"))
}

// notBefore returns the start of the epoch of t under d: its expiry less
// the epoch length.
func notBefore(t *token.Token, d *token.Directory) time.Time {
	if d == nil {
		return time.Time{}
	}
	return t.ExpiryTime().Add(-time.Duration(d.EpochLength) * time.Second)
}

// openHolder returns a Holder for the directory fetched from the issuer,
// checked under the pinned trust policy and against what the wallet
// accepted before: a directory with a lower serial, or another one with
// the same serial, is refused, as is one that renames a status, and its
// log must extend the checkpoint accepted last.
func openHolder(e *Env, s *Store, pub token.Published, trust *token.Trust) (*holder.Holder, error) {
	acc, err := s.accepted(trust)
	if err != nil {
		return nil, err
	}
	h, err := holder.New(pub, trust, &holder.Options{Now: e.now, Accepted: acc})
	var le *token.LoadError
	if errors.As(err, &le) && (le.Err == token.ErrRollback || le.Err == token.ErrInconsistent || le.Err == token.ErrStatusRenamed) {
		// The issuer's directory does not extend what the wallet saved:
		// if the saved files are damaged, that is the fault.
		if _, serr := s.saved(e.now()); errors.Is(serr, ErrDamaged) {
			return nil, serr
		}
	}
	if err != nil {
		return nil, fmt.Errorf("the issuer's directory is refused: %w", directory.Explain(err, trust, pub))
	}
	return h, nil
}

// answer is the issuer's answer to a token request.
type answer struct {
	code    int    // its HTTP status
	body    []byte // of a 200 answer
	receipt []byte // of a 200 or 403 answer to a request with a commitment
	message string // the issuer's message on a refusal
	err     error  // the error for any answer but 200
}

// postRequest sends a token request, with the holder's commitment when
// not nil, and returns the answer; an error only when there is none, or
// when a receipt header is not even well-formed (ErrReceipt).
func postRequest(ctx context.Context, e *Env, o RequestOptions, req []byte, commitment *[32]byte) (*answer, error) {
	c, err := tokenhttp.NewClient(o.Issuer.String(), e.client())
	if err != nil {
		return nil, err
	}
	a := &answer{code: http.StatusOK}
	var d *tokenhttp.Decision
	if commitment == nil {
		a.body, err = c.RequestTokens(ctx, o.APIKey, req)
	} else if d, err = c.RequestDecision(ctx, o.APIKey, req, *commitment, o.Evidence); err == nil {
		a.body, a.receipt = d.Response, d.Receipt
		if d.Refusal != nil {
			a.code, a.message, a.err = d.Refusal.Code, d.Refusal.Message, d.Refusal
		}
	}
	var se *tokenhttp.StatusError
	switch {
	case errors.As(err, &se):
		a.code, a.message, a.err = se.Code, se.Message, err
	case errors.Is(err, tokenhttp.ErrMalformedResponse) && commitment != nil:
		return nil, fmt.Errorf("%w: the issuer's answer is malformed (%w): this is the issuer's fault, not yours; no token was stored; keep this message as evidence", ErrReceipt, err)
	case err != nil:
		return nil, fmt.Errorf("sending the token request: %w", err)
	}
	return a, nil
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

// noUnused explains why s has no unused token to give out at now.
func (s *Store) noUnused(now time.Time, d *token.Directory) error {
	c := s.count(now)
	if from, n := s.later(now, d); n > 0 {
		return fmt.Errorf("no token valid yet: %d valid from %s", n, formatTime(from))
	}
	switch {
	case len(s.entries) == 0:
		return fmt.Errorf("no tokens in %s: run 'wallet request' first", s.dir)
	case c.expired == len(s.entries) && c.expired == 1:
		return fmt.Errorf("1 token, expired at %s; run 'wallet request' for new ones", formatTime(c.lastExpiry))
	case c.expired == len(s.entries):
		return fmt.Errorf("%d tokens, all expired (the last at %s); run 'wallet request' for new ones", c.expired, formatTime(c.lastExpiry))
	}
	var parts []string
	if c.used > 0 {
		parts = append(parts, fmt.Sprintf("%d used", c.used))
	}
	if c.expired > 0 {
		parts = append(parts, fmt.Sprintf("%d expired", c.expired))
	}
	return fmt.Errorf("no unused token left (%s); run 'wallet request' for new ones", strings.Join(parts, ", "))
}

// DefaultPNG is where Show writes the QR code's PNG by default:
// token.png next to the state directory (beside it, not in it).
func DefaultPNG(state string) string {
	return filepath.Join(filepath.Dir(filepath.Clean(state)), "token.png")
}

// ShowOptions are the parameters of Show.
type ShowOptions struct {
	// State is the wallet directory; it must exist.
	State string
	// PNG names the PNG file to write the QR code to (mode 0600); none
	// when empty.
	PNG string
	// QR draws the QR code on Stdout if it fits the terminal.
	QR bool
	// Scale is the PNG's pixels per module, 1 to 32.
	Scale int
}

// Show marks the next unused token used and shows it: its QR code in the
// PNG file, on Stdout the QR code if it fits the terminal (level M, or L
// where M does not fit) and its text form.
//
// When Stdout is a terminal, the code is drawn in colours that scan on
// dark and light backgrounds, after the text form and with the token's
// status, expiry and the count left beside it, so that on an 80x24
// terminal an ed25519 token's whole code stays on the screen. Otherwise
// the code is drawn for 80x24 without colours, then the text form (the
// last line), and the status line goes to Stderr.
func Show(e *Env, o ShowOptions) error {
	if o.Scale < 1 || o.Scale > 32 {
		return errors.New("-scale must be 1 to 32")
	}
	s, err := openState(o.State, e)
	if err != nil {
		return err
	}
	defer s.Close()
	now := e.now()
	d, err := s.saved(now)
	if err != nil {
		return err
	}
	toks := s.take(1, now, d)
	if len(toks) == 0 {
		return s.noUnused(now, d)
	}
	t := toks[0]
	text, err := t.MarshalText()
	if err != nil {
		return err
	}
	var pngData []byte
	if o.PNG != "" {
		m, err := Modules(string(text), "M", PNGQuietZone)
		if err != nil {
			return err
		}
		if pngData, err = PNG(m, o.Scale); err != nil {
			return err
		}
	}
	w, h, tty := e.terminal()
	if !tty || w <= 0 || h <= 0 {
		w, h = DefaultWidth, DefaultHeight
	}
	var qrm [][]bool
	if o.QR {
		var level string
		if qrm, level, err = terminalQR(string(text), w, h); err != nil {
			return err
		}
		e.log().Debug("terminal", "tty", tty, "width", w, "height", h, "qr_level", level, "qr_modules", len(qrm))
	}
	// The token is marked used before it is shown: a token is shown once.
	if err := s.Save(now); err != nil {
		return err
	}
	if o.PNG != "" {
		if err := files.WriteAtomic(o.PNG, pngData, 0o600); err != nil {
			return err
		}
	}
	status := statusName(d, t.Status)
	expiry := formatTime(t.ExpiryTime())
	left := s.unused(now)
	if o.QR && qrm == nil {
		where := "use -png FILE to write it to a PNG file"
		if o.PNG == DefaultPNG(o.State) {
			where = "open " + o.PNG + " (written next to the state) or use -png FILE"
		} else if o.PNG != "" {
			where = "open " + o.PNG
		}
		fmt.Fprintf(e.Stderr, "wallet: this token's QR code is too large for %s %dx%d terminal: %s\n", article(w), w, h, where)
	}
	if tty && qrm != nil {
		return showOnTerminal(e, qrm, text, w, []string{
			status + " token",
			"valid until " + expiry,
			fmt.Sprintf("%d unused left", left),
		}, o.PNG)
	}
	if qrm != nil {
		if err := writeTerminalQR(e.Stdout, qrm, false, nil, 0); err != nil {
			return err
		}
	}
	fmt.Fprintf(e.Stdout, "%s\n", text)
	where := ""
	if o.PNG != "" {
		where = "; QR code written to " + o.PNG
	}
	fmt.Fprintf(e.Stderr, "wallet: %s token, valid until %s%s; %d unused left\n", status, expiry, where, left)
	return nil
}

// article returns the article for a number: "an" 80, "a" 100.
func article(n int) string {
	s := strconv.Itoa(n)
	if strings.HasPrefix(s, "8") || s == "11" || s == "18" {
		return "an"
	}
	return "a"
}

// sideGap separates the QR code from the lines beside it.
const sideGap = 3

// showOnTerminal writes the text form, then the code, in colours, with
// info beside it when the terminal is wide enough and above it
// otherwise, so that the code is the last thing on the screen.
func showOnTerminal(e *Env, m [][]bool, text []byte, width int, info []string, pngName string) error {
	fmt.Fprintf(e.Stdout, "%s\n", text)
	cols, _ := TerminalSize(m)
	room := width - cols - sideGap
	widest := 0
	for _, l := range info {
		widest = max(widest, utf8.RuneCountInString(l))
	}
	if widest > room {
		if pngName != "" {
			info = append(info, "PNG: "+pngName)
		}
		fmt.Fprintln(e.Stdout, strings.Join(info, "; "))
		return writeTerminalQR(e.Stdout, m, true, nil, 0)
	}
	// The PNG's name, or its base name, if it fits.
	for _, name := range []string{pngName, filepath.Base(pngName)} {
		if line := "PNG: " + name; pngName != "" && utf8.RuneCountInString(line) <= room {
			info = append(info, line)
			break
		}
	}
	return writeTerminalQR(e.Stdout, m, true, info, sideGap)
}

// Export marks the next n unused tokens used and prints their text
// forms, one a line, on Stdout.
func Export(e *Env, state string, n int) error {
	if n < 1 {
		return errors.New("-n must be at least 1")
	}
	s, err := openState(state, e)
	if err != nil {
		return err
	}
	defer s.Close()
	now := e.now()
	d, err := s.saved(now)
	if err != nil {
		return err
	}
	toks := s.take(n, now, d)
	if len(toks) == 0 {
		return s.noUnused(now, d)
	}
	if len(toks) < n {
		return fmt.Errorf("only %s left, %d asked for; run 'wallet request' for more", plural(len(toks), "unused token"), n)
	}
	var out bytes.Buffer
	for _, t := range toks {
		text, err := t.MarshalText()
		if err != nil {
			return err
		}
		out.Write(text)
		out.WriteByte('\n')
	}
	if err := s.Save(now); err != nil {
		return err
	}
	e.Stdout.Write(out.Bytes())
	fmt.Fprintf(e.Stderr, "wallet: %s exported and marked used; %d unused left\n", plural(n, "token"), s.unused(now))
	return nil
}

// List prints on Stdout the stored tokens by status and expiry, expired
// ones marked, and a line that sums them up.
func List(e *Env, state string) error {
	s, err := openState(state, e)
	if err != nil {
		return err
	}
	defer s.Close()
	now := e.now()
	d, err := s.saved(now)
	if err != nil {
		return err
	}
	type group struct {
		status  string
		expiry  uint32
		expired bool
	}
	counts := map[group][2]int{}
	for _, en := range s.entries {
		g := group{statusName(d, en.tok.Status), en.tok.Expiry, !live(en.tok, now)}
		c := counts[g]
		if en.used {
			c[1]++
		} else {
			c[0]++
		}
		counts[g] = c
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
		when := "valid until"
		if g.expired {
			when = "expired at "
		}
		fmt.Fprintf(e.Stdout, "%-10s %s %s  %3d unused  %3d used\n", g.status, when,
			formatTime(time.Unix(int64(g.expiry), 0)), c[0], c[1])
	}
	c := s.count(now)
	if c.unused == 0 {
		fmt.Fprintln(e.Stdout, s.noUnused(now, d))
		return nil
	}
	line := plural(c.unused, "unused token") + " left"
	if c.expired > 0 {
		line += fmt.Sprintf(" (and %d expired)", c.expired)
	}
	fmt.Fprintln(e.Stdout, line)
	return nil
}
