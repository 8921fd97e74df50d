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
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
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
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Witness is a witness in memory, with an Ed25519 cosignature key.
type Witness struct {
	Name string
	key  ed25519.PrivateKey

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
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic("witnesstest: " + err.Error())
	}
	return &Witness{Name: name, key: k, logs: make(map[string]*logState)}
}

// encodedKey is the key as a cosignature/v1 vkey carries it: the
// algorithm byte 0x04, then the public key.
func (w *Witness) encodedKey() []byte {
	return append([]byte{0x04}, w.key.Public().(ed25519.PublicKey)...)
}

// keyHash is the key ID of signature lines: the first four bytes of
// SHA-256(name, newline, encoded key).
func (w *Witness) keyHash() uint32 {
	h := sha256.Sum256(append([]byte(w.Name+"\n"), w.encodedKey()...))
	return binary.BigEndian.Uint32(h[:4])
}

// VerifierKey returns the witness's c2sp.org/tlog-cosignature vkey.
func (w *Witness) VerifierKey() string {
	return fmt.Sprintf("%s+%08x+%s", w.Name, w.keyHash(), base64.StdEncoding.EncodeToString(w.encodedKey()))
}

// PublicKey returns the witness's Ed25519 public key.
func (w *Witness) PublicKey() ed25519.PublicKey { return w.key.Public().(ed25519.PublicKey) }

// Signer returns a note.Signer that cosigns with timestamp t.
func (w *Witness) Signer(t time.Time) note.Signer { return cosigner{w, t.Unix()} }

type cosigner struct {
	w *Witness
	t int64
}

func (c cosigner) Name() string    { return c.w.Name }
func (c cosigner) KeyHash() uint32 { return c.w.keyHash() }

// Sign signs "cosignature/v1", the time and the checkpoint text; the
// signature is the time, 8 bytes big-endian, then the Ed25519 signature.
func (c cosigner) Sign(msg []byte) ([]byte, error) {
	m := []byte("cosignature/v1\ntime " + strconv.FormatInt(c.t, 10) + "\n")
	m = append(m, msg...)
	sig := binary.BigEndian.AppendUint64(nil, uint64(c.t))
	return append(sig, ed25519.Sign(c.w.key, m)...), nil
}

// CosignatureLine returns the witness's signature line for a signed
// checkpoint at time t, as the witness protocol answers it.
func (w *Witness) CosignatureLine(checkpoint []byte, t time.Time) ([]byte, error) {
	text, _, ok := bytes.Cut(checkpoint, []byte("\n\n"))
	if !ok {
		return nil, errors.New("witnesstest: not a signed note")
	}
	signed, err := note.Sign(&note.Note{Text: string(text) + "\n"}, w.Signer(t))
	if err != nil {
		return nil, err
	}
	return signed[len(text)+2:], nil
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
	return fmt.Sprintf("witness %s %s %s", w.Name, w.VerifierKey(), url)
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
	text, _, _ := bytes.Cut(signed, []byte("\n\n"))
	cosigned, err := note.Sign(&note.Note{Text: string(text) + "\n"}, w.Signer(now))
	if err != nil {
		return nil, 0, http.StatusInternalServerError, "signing failed"
	}
	l.size, l.hash = c.N, c.Hash
	return cosigned[len(text)+2:], 0, http.StatusOK, ""
}
