// Package witnessclient submits an issuer's log checkpoints to witnesses
// over HTTP (c2sp.org/tlog-witness, add-checkpoint) and collects their
// cosignatures (c2sp.org/tlog-cosignature).
//
// The witnesses come from a file of lines "witness <name> <vkey> <url>",
// the witness lines of a torchwood (Sigsum) policy with the witness's
// base URL. A client remembers nothing: the caller keeps, for each
// witness, the size of the last tree it cosigned, and passes it as the
// old size of the next request.
package witnessclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
)

// Witness is one witness of a witnesses file.
type Witness struct {
	// Name is the witness's name in the trust policy.
	Name string
	// VerifierKey is its c2sp.org/tlog-cosignature vkey.
	VerifierKey string
	// URL is its base URL; requests go to URL + "/add-checkpoint".
	URL string

	verifier note.Verifier
}

// PolicyLine returns the witness's line in a trust policy.
func (w *Witness) PolicyLine() string {
	return fmt.Sprintf("witness %s %s %s", w.Name, w.VerifierKey, w.URL)
}

// MaxWitnessesFile bounds a witnesses file.
const MaxWitnessesFile = 64 << 10

// ParseWitnesses parses a witnesses file: lines "witness <name> <vkey>
// <url>", blank lines and comments from '#'. Names and keys are unique;
// URLs are http or https, without query or fragment.
func ParseWitnesses(text []byte) ([]*Witness, error) {
	if len(text) > MaxWitnessesFile {
		return nil, fmt.Errorf("witnesses file of %d bytes is larger than the limit of %d bytes", len(text), MaxWitnessesFile)
	}
	var ws []*Witness
	names, keys := map[string]bool{}, map[string]bool{}
	for i, line := range strings.Split(string(text), "\n") {
		content, _, _ := strings.Cut(line, "#")
		f := strings.Fields(content)
		if len(f) == 0 {
			continue
		}
		if f[0] != "witness" || len(f) != 4 {
			return nil, fmt.Errorf("line %d: want \"witness <name> <vkey> <url>\"", i+1)
		}
		v, err := torchwood.NewCosignatureVerifier(f[2])
		if err != nil {
			return nil, fmt.Errorf("line %d: %q is not a cosignature verifier key: %v", i+1, f[2], err)
		}
		u, err := url.Parse(strings.TrimRight(f[3], "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, fmt.Errorf("line %d: witness URL %q: want http(s)://host[:port][/path]", i+1, f[3])
		}
		if names[f[1]] || keys[f[2]] {
			return nil, fmt.Errorf("line %d: witness %s listed twice", i+1, f[1])
		}
		names[f[1]], keys[f[2]] = true, true
		ws = append(ws, &Witness{Name: f[1], VerifierKey: f[2], URL: u.String(), verifier: v})
	}
	if len(ws) == 0 {
		return nil, errors.New("no witness lines")
	}
	return ws, nil
}

// Log makes the requests: *issue.Log.
type Log interface {
	WitnessRequest(oldSize int64, checkpoint []byte) ([]byte, error)
}

// Client talks to witnesses.
type Client struct {
	// HTTP is the client to use; one that follows no redirects when nil.
	HTTP *http.Client
	// Timeout bounds each witness's whole exchange (both requests when
	// the first answers 409); 10 seconds when zero.
	Timeout time.Duration
}

// DefaultTimeout is the per-witness timeout when Client.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// maxResponse bounds what is read of a witness's answer.
const maxResponse = 16 << 10

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
	return errors.New("witnesses must not redirect")
}}

// RefusedError is a witness's refusal of a checkpoint: the HTTP status of
// each request made (two when the first answered 409 with another tree
// size), and the text of the last answer.
type RefusedError struct {
	Witness  string
	Statuses []int
	Message  string
}

func (e *RefusedError) Error() string {
	codes := make([]string, len(e.Statuses))
	for i, c := range e.Statuses {
		codes[i] = strconv.Itoa(c)
	}
	msg := fmt.Sprintf("witness %s refused the checkpoint: HTTP %s", e.Witness, strings.Join(codes, " then "))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Last returns the status of the last answer.
func (e *RefusedError) Last() int { return e.Statuses[len(e.Statuses)-1] }

// ErrAhead: the witness has cosigned a larger tree of this log than the
// one submitted: the log's state was lost, or the log forked.
var ErrAhead = errors.New("the witness has cosigned a larger tree of this log")

// Result is what a witness answered.
type Result struct {
	// Line is the witness's verified cosignature line for the
	// checkpoint, ending in a newline.
	Line []byte
	// Size is the size of the tree cosigned: the witness's size from now
	// on.
	Size int64
	// Time is the cosignature's timestamp.
	Time time.Time
}

// AddCheckpoint submits checkpoint, a checkpoint signed by log, to w,
// whose latest cosigned tree of this log has oldSize records as far as
// the caller knows. When w answers 409 with its own size, it retries once
// with that size. It returns w's cosignature, checked against w's key.
func (c *Client) AddCheckpoint(ctx context.Context, w *Witness, log Log, oldSize int64, checkpoint []byte) (*Result, error) {
	text, _, ok := bytes.Cut(checkpoint, []byte("\n\n"))
	if !ok {
		return nil, errors.New("not a signed checkpoint")
	}
	cp, err := torchwood.ParseCheckpoint(string(text) + "\n")
	if err != nil {
		return nil, fmt.Errorf("not a checkpoint: %v", err)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var statuses []int
	for attempt := 0; ; attempt++ {
		body, err := log.WitnessRequest(oldSize, checkpoint)
		if err != nil {
			return nil, err
		}
		code, answer, ctype, err := c.post(ctx, w.URL+"/add-checkpoint", body)
		if err != nil {
			return nil, fmt.Errorf("witness %s: %w", w.Name, err)
		}
		statuses = append(statuses, code)
		switch {
		case code == http.StatusOK:
			line, ts, err := w.check(text, answer)
			if err != nil {
				return nil, fmt.Errorf("witness %s: %w", w.Name, err)
			}
			return &Result{Line: line, Size: cp.N, Time: ts}, nil
		case code == http.StatusConflict && attempt == 0 && strings.HasPrefix(ctype, "text/x.tlog.size"):
			size, err := strconv.ParseInt(strings.TrimSpace(string(answer)), 10, 64)
			if err != nil || size < 0 {
				return nil, &RefusedError{w.Name, statuses, "409 without a tree size"}
			}
			if size > cp.N {
				return nil, fmt.Errorf("witness %s: %w: size %d, the checkpoint's %d", w.Name, ErrAhead, size, cp.N)
			}
			oldSize = size
			continue
		}
		return nil, &RefusedError{w.Name, statuses, firstLine(answer)}
	}
}

func (c *Client) post(ctx context.Context, u string, body []byte) (code int, answer []byte, ctype string, err error) {
	hc := c.HTTP
	if hc == nil {
		hc = noRedirects
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	answer, err = io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return 0, nil, "", fmt.Errorf("reading the answer: %v", err)
	}
	if len(answer) > maxResponse {
		return 0, nil, "", fmt.Errorf("answer larger than %d bytes", maxResponse)
	}
	return resp.StatusCode, answer, resp.Header.Get("Content-Type"), nil
}

// check finds w's valid cosignature of the checkpoint text among the
// signature lines of answer.
func (w *Witness) check(text, answer []byte) ([]byte, time.Time, error) {
	for _, line := range bytes.SplitAfter(answer, []byte("\n")) {
		if !bytes.HasPrefix(line, []byte("— "+w.Name+" ")) || !bytes.HasSuffix(line, []byte("\n")) {
			continue
		}
		msg := append(append(bytes.Clone(text), "\n\n"...), line...)
		n, err := note.Open(msg, note.VerifierList(w.verifier))
		if err != nil || len(n.Sigs) != 1 {
			continue
		}
		ts, err := torchwood.CosignatureTimestamp(n.Sigs[0])
		if err != nil {
			continue
		}
		return bytes.Clone(line), time.Unix(ts, 0), nil
	}
	return nil, time.Time{}, errors.New("the answer holds no valid cosignature by this witness")
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, strings.TrimSpace(line))
	if len(line) > 200 {
		line = line[:200]
	}
	return line
}

// Outcome is one witness's answer in CosignAll.
type Outcome struct {
	Witness *Witness
	Result  *Result
	Err     error
}

// CosignAll submits checkpoint to every witness at once, each with its
// own timeout, and returns their answers in the order of ws. oldSize
// gives each witness's old size.
func (c *Client) CosignAll(ctx context.Context, log Log, checkpoint []byte, ws []*Witness, oldSize func(*Witness) int64) []Outcome {
	out := make([]Outcome, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.AddCheckpoint(ctx, w, log, oldSize(w), checkpoint)
			out[i] = Outcome{Witness: w, Result: r, Err: err}
		}()
	}
	wg.Wait()
	return out
}
