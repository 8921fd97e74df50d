// Package witnesstest provides c2sp.org/tlog-witness witnesses in the
// test process, and a log with witnesses that publishes directories, for
// the tests of the deployment examples. The end-to-end test runs real
// litewitness processes instead (see internal/litewitnesstest).
//
// A Witness keeps, for each log registered with AddLog, the latest tree
// it cosigned, and cosigns a new checkpoint only if a consistency proof
// shows that it extends that tree, as the protocol requires: it answers
// 409 with its tree size when the client's old size is not its own, and
// 422 when the proof does not verify.
package witnesstest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"filippo.io/torchwood"
	"github.com/statustoken/statustoken/issue/issuetest"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Witness is a witness in memory: the cosignature key of an
// issuetest.Witness, and the state a real witness keeps.
type Witness struct {
	*issuetest.Witness

	// Now returns the time put in cosignatures; time.Now when nil. Set it
	// before the witness serves.
	Now func() time.Time

	// Offline makes the witness answer every request with 503.
	Offline atomic.Bool
	// Requests counts the add-checkpoint requests received.
	Requests atomic.Int64

	mu   sync.Mutex
	logs map[string]*logState
}

type logState struct {
	verifier note.Verifier
	size     int64
	hash     tlog.Hash
}

// New returns a witness named name (URL-like, such as "w1.example") with a
// new random key.
func New(name string) *Witness {
	w, err := issuetest.NewWitness(name, nil)
	if err != nil {
		panic("witnesstest: " + err.Error())
	}
	return &Witness{Witness: w, logs: make(map[string]*logState)}
}

// AddLog registers a log by its note verifier key, at tree size zero, as
// "witnessctl add-log" and "add-key" do.
func (w *Witness) AddLog(vkey string) error {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.logs[v.Name()] = &logState{verifier: v}
	return nil
}

// Size returns the size of the latest tree the witness cosigned for the
// log origin, or -1 for a log it does not know.
func (w *Witness) Size(origin string) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if l, ok := w.logs[origin]; ok {
		return l.size
	}
	return -1
}

// Start serves the witness on a loopback port until the test ends and
// returns its URL.
func (w *Witness) Start(t interface{ Cleanup(func()) }) string {
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	return srv.URL
}

// Line returns the line of a witnesses file for the witness at url.
func (w *Witness) Line(url string) string {
	return fmt.Sprintf("witness %s %s %s", w.Name(), w.VerifierKey(), url)
}

// ServeHTTP answers POST /add-checkpoint.
func (w *Witness) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/add-checkpoint" {
		http.NotFound(rw, r)
		return
	}
	w.Requests.Add(1)
	if w.Offline.Load() {
		http.Error(rw, "offline", http.StatusServiceUnavailable)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<10))
	if err != nil {
		http.Error(rw, "reading the body", http.StatusBadRequest)
		return
	}
	line, size, code, msg := w.addCheckpoint(body)
	switch code {
	case http.StatusOK:
		rw.Write(line)
	case http.StatusConflict:
		rw.Header().Set("Content-Type", "text/x.tlog.size")
		rw.WriteHeader(code)
		fmt.Fprintf(rw, "%d\n", size)
	default:
		http.Error(rw, msg, code)
	}
}

func (w *Witness) addCheckpoint(body []byte) (line []byte, size int64, code int, msg string) {
	head, signed, ok := bytes.Cut(body, []byte("\n\n"))
	if !ok {
		return nil, 0, http.StatusBadRequest, "no empty line before the checkpoint"
	}
	lines := strings.Split(string(head), "\n")
	oldText, ok := strings.CutPrefix(lines[0], "old ")
	old, err := strconv.ParseInt(oldText, 10, 64)
	if !ok || err != nil || old < 0 || len(lines) > 64 {
		return nil, 0, http.StatusBadRequest, "malformed old size or proof"
	}
	var proof tlog.TreeProof
	for _, l := range lines[1:] {
		h, err := tlog.ParseHash(l)
		if err != nil {
			return nil, 0, http.StatusBadRequest, "malformed proof hash"
		}
		proof = append(proof, h)
	}
	origin, _, _ := strings.Cut(string(signed), "\n")
	w.mu.Lock()
	defer w.mu.Unlock()
	l, known := w.logs[origin]
	if !known {
		return nil, 0, http.StatusNotFound, "unknown log"
	}
	n, err := note.Open(signed, note.VerifierList(l.verifier))
	if err != nil {
		return nil, 0, http.StatusForbidden, "not signed by the log"
	}
	c, err := torchwood.ParseCheckpoint(n.Text)
	if err != nil || c.Origin != origin {
		return nil, 0, http.StatusBadRequest, "malformed checkpoint"
	}
	switch {
	case old > c.N:
		return nil, 0, http.StatusBadRequest, "old size beyond the checkpoint"
	case old != l.size:
		return nil, l.size, http.StatusConflict, ""
	case old > 0 && tlog.CheckTree(proof, c.N, c.Hash, old, l.hash) != nil:
		return nil, 0, http.StatusUnprocessableEntity, "bad consistency proof"
	}
	now := time.Now()
	if w.Now != nil {
		now = w.Now()
	}
	line, err = w.Cosign(signed, now)
	if err != nil {
		return nil, 0, http.StatusInternalServerError, "signing failed"
	}
	l.size, l.hash = c.N, c.Hash
	return line, 0, http.StatusOK, ""
}
