// Package monitortest runs an issuer's transparency log for the monitor's
// tests: a real issue.Issuer and issue.Log (replaced by a rogue log for
// records that issue.Log refuses), witnesses that cosign in process, and
// a loopback HTTP server with the log's layout.
package monitortest

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/torchwood"
	"github.com/statustoken/statustoken/internal/logtree"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
	"golang.org/x/mod/sumdb/note"
)

// Origin is the log's origin line.
const Origin = "example.org/health/directory"

// Statuses are the issuer's statuses.
var Statuses = []token.StatusName{{Code: 1, Name: "negative"}, {Code: 2, Name: "positive"}}

// EpochLength is the issuer's epoch length.
const EpochLength = 24 * time.Hour

// Deployment is an issuer, its log, three witnesses of which two cosign
// (the policy's quorum), the trust policy that pins them, and a loopback
// server of the log:
//
//	GET /log/checkpoint, /log/tile/..., /log/directory/<serial>[.sig]
type Deployment struct {
	Root   ed25519.PrivateKey
	Seed   []byte
	Issuer *issue.Issuer
	LogKey string
	// Log is the issuer's log: an issue.Log, which AppendRecord replaces
	// with a log of its own.
	Log       Log
	Witnesses []*torchwood.CosignatureSigner
	// WitnessKeys are the witnesses' private keys, for CosignAt.
	WitnessKeys []ed25519.PrivateKey
	// TrustText is the trust policy's text; Trust is it parsed.
	TrustText []byte
	Trust     *token.Trust
	Server    *httptest.Server

	mu         sync.Mutex
	checkpoint []byte
	dirs, sigs map[uint64][]byte
	intercept  func(w http.ResponseWriter, r *http.Request) bool
}

// New returns a deployment with fresh keys and an empty log, whose server
// is closed when tb ends.
func New(tb testing.TB) *Deployment {
	tb.Helper()
	_, root, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	seed := make([]byte, issue.SeedSize)
	rand.Read(seed)
	logKey, logVKey, err := issue.GenerateLogKey(Origin)
	if err != nil {
		tb.Fatal(err)
	}
	d := &Deployment{Root: root, Seed: seed, LogKey: logKey}
	d.Issuer = d.NewIssuer(tb, seed)
	policy := fmt.Sprintf("root %s\nlog %s\n", base64.StdEncoding.EncodeToString(root.Public().(ed25519.PublicKey)), logVKey)
	for _, name := range []string{"w1.example", "w2.example", "w3.example"} {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		w, err := torchwood.NewCosignatureSigner(name, k)
		if err != nil {
			tb.Fatal(err)
		}
		d.Witnesses = append(d.Witnesses, w)
		d.WitnessKeys = append(d.WitnessKeys, k)
		policy += fmt.Sprintf("witness %s %s\n", name, w.Verifier())
	}
	policy += "group witnesses 2 w1.example w2.example w3.example\nquorum witnesses\nmax-age 48h\n"
	d.TrustText = []byte(policy)
	if d.Trust, err = token.ParseTrust(d.TrustText); err != nil {
		tb.Fatal(err)
	}
	d.start(tb)
	return d
}

// Fork returns a deployment with the same keys and an empty log, on its
// own server: the log rewritten.
func (d *Deployment) Fork(tb testing.TB) *Deployment {
	tb.Helper()
	f := &Deployment{
		Root: d.Root, Seed: d.Seed, Issuer: d.Issuer, LogKey: d.LogKey,
		Witnesses: d.Witnesses, WitnessKeys: d.WitnessKeys, TrustText: d.TrustText, Trust: d.Trust,
	}
	f.start(tb)
	return f
}

func (d *Deployment) start(tb testing.TB) {
	tb.Helper()
	l, err := issue.NewLog(d.LogKey, nil)
	if err != nil {
		tb.Fatal(err)
	}
	d.Log = l
	d.dirs = make(map[uint64][]byte)
	d.sigs = make(map[uint64][]byte)
	d.Server = httptest.NewServer(http.HandlerFunc(d.serve))
	tb.Cleanup(d.Server.Close)
}

// NewIssuer returns an issuer with the deployment's root key and
// configuration and the given seed: another seed gives other keys for the
// same suites, statuses and epochs.
func (d *Deployment) NewIssuer(tb testing.TB, seed []byte) *issue.Issuer {
	tb.Helper()
	is, err := issue.NewIssuer(issue.Config{RootKey: d.Root, Seed: seed, EpochLength: EpochLength, Statuses: Statuses})
	if err != nil {
		tb.Fatal(err)
	}
	return is
}

func (d *Deployment) log() Log {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.Log
}

// URL returns the issuer's base URL.
func (d *Deployment) URL() string { return d.Server.URL }

// Publish logs, archives and cosigns the issuer's directory at now with
// serial, and returns it.
func (d *Deployment) Publish(tb testing.TB, now time.Time, serial uint64) (dir, sig []byte) {
	tb.Helper()
	dir, sig, err := d.Issuer.Directory(now, serial)
	if err != nil {
		tb.Fatal(err)
	}
	d.Append(tb, dir, sig)
	return dir, sig
}

// Append logs dir, archives it with sig under its serial, and has two
// witnesses cosign the new checkpoint.
func (d *Deployment) Append(tb testing.TB, dir, sig []byte) {
	tb.Helper()
	p, err := token.ParseDirectory(dir)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := d.log().AppendDirectory(dir); errors.Is(err, issue.ErrLog) {
		// issue.Log refuses a serial that does not increase; a rogue
		// issuer with log code of its own would not.
		record, err := token.LogRecord(dir)
		if err != nil {
			tb.Fatal(err)
		}
		d.SetArchive(p.Serial, dir, sig)
		d.AppendRecord(tb, record)
		return
	} else if err != nil {
		tb.Fatal(err)
	}
	d.SetArchive(p.Serial, dir, sig)
	d.Cosign(tb, 2)
}

// AppendRecord appends a raw record to the log, which need not be the
// record of a valid directory nor have a higher serial than the last
// one, and has two witnesses cosign the new checkpoint. Nothing is
// archived. From then on the log is a rogue one: issue.Log refuses such
// records.
func (d *Deployment) AppendRecord(tb testing.TB, record []byte) {
	tb.Helper()
	d.mu.Lock()
	rogue, ok := d.Log.(*rogueLog)
	if !ok {
		s, err := note.NewSigner(d.LogKey)
		if err != nil {
			d.mu.Unlock()
			tb.Fatal(err)
		}
		rogue = &rogueLog{signer: s}
		for i := range d.Log.Size() {
			r, err := d.Log.Record(i)
			if err == nil {
				err = rogue.append(r)
			}
			if err != nil {
				d.mu.Unlock()
				tb.Fatal(err)
			}
		}
		d.Log = rogue
	}
	d.mu.Unlock()
	if err := rogue.append(record); err != nil {
		tb.Fatal(err)
	}
	d.Cosign(tb, 2)
}

// Log is the log a deployment serves: an issue.Log, or a rogue one.
type Log interface {
	AppendDirectory(data []byte) (int64, error)
	Size() int64
	Record(i int64) ([]byte, error)
	Checkpoint() ([]byte, error)
	Cosigned(checkpoint []byte, cosignatures ...[]byte) ([]byte, error)
	Tile(path string) ([]byte, error)
}

// rogueLog is the log of an issuer with log code of its own, signed with
// the log key: it appends any record that parses as one, in any order,
// and adds cosignature lines unchecked.
type rogueLog struct {
	signer note.Signer

	mu   sync.Mutex
	tree logtree.Tree
}

func (l *rogueLog) append(record []byte) error {
	if _, _, err := token.ParseLogRecord(record); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tree.Append(record)
}

func (l *rogueLog) AppendDirectory(data []byte) (int64, error) {
	r, err := token.LogRecord(data)
	if err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.tree.Append(r); err != nil {
		return 0, err
	}
	return l.tree.Size() - 1, nil
}

func (l *rogueLog) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tree.Size()
}

func (l *rogueLog) Record(i int64) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i < 0 || i >= l.tree.Size() {
		return nil, fmt.Errorf("no record %d", i)
	}
	return l.tree.Record(i), nil
}

func (l *rogueLog) Checkpoint() ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tree.Checkpoint(l.signer)
}

func (l *rogueLog) Cosigned(checkpoint []byte, cosignatures ...[]byte) ([]byte, error) {
	out := append([]byte(nil), checkpoint...)
	for _, c := range cosignatures {
		out = append(out, c...)
	}
	return out, nil
}

func (l *rogueLog) Tile(path string) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tree.Tile(path)
}

// Cosign makes the served checkpoint the log's current one, cosigned by
// the first n witnesses.
func (d *Deployment) Cosign(tb testing.TB, n int) {
	tb.Helper()
	l := d.log()
	checkpoint, err := l.Checkpoint()
	if err != nil {
		tb.Fatal(err)
	}
	text, _, _ := strings.Cut(string(checkpoint), "\n\n")
	var cosignatures [][]byte
	for _, w := range d.Witnesses[:n] {
		signed, err := note.Sign(&note.Note{Text: text + "\n"}, w)
		if err != nil {
			tb.Fatal(err)
		}
		_, line, _ := strings.Cut(string(signed), "\n\n")
		cosignatures = append(cosignatures, []byte(line))
	}
	cosigned, err := l.Cosigned(checkpoint, cosignatures...)
	if err != nil {
		tb.Fatal(err)
	}
	d.mu.Lock()
	d.checkpoint = cosigned
	d.mu.Unlock()
}

// CosignAt makes the served checkpoint the log's current one, cosigned
// by witness i at times[i] (c2sp.org/tlog-cosignature), for the first
// len(times) witnesses.
func (d *Deployment) CosignAt(tb testing.TB, times ...time.Time) {
	tb.Helper()
	l := d.log()
	checkpoint, err := l.Checkpoint()
	if err != nil {
		tb.Fatal(err)
	}
	text, _, _ := strings.Cut(string(checkpoint), "\n\n")
	var lines [][]byte
	for i, at := range times {
		w := d.Witnesses[i]
		msg := fmt.Sprintf("cosignature/v1\ntime %d\n%s\n", at.Unix(), text)
		sig := binary.BigEndian.AppendUint32(nil, w.KeyHash())
		sig = binary.BigEndian.AppendUint64(sig, uint64(at.Unix()))
		sig = append(sig, ed25519.Sign(d.WitnessKeys[i], []byte(msg))...)
		lines = append(lines, []byte("\u2014 "+w.Name()+" "+base64.StdEncoding.EncodeToString(sig)+"\n"))
	}
	cosigned, err := l.Cosigned(checkpoint, lines...)
	if err != nil {
		tb.Fatal(err)
	}
	d.mu.Lock()
	d.checkpoint = cosigned
	d.mu.Unlock()
}

// SetArchive serves dir and sig for serial; a nil one is not served.
func (d *Deployment) SetArchive(serial uint64, dir, sig []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	set := func(m map[uint64][]byte, b []byte) {
		if b == nil {
			delete(m, serial)
		} else {
			m[serial] = b
		}
	}
	set(d.dirs, dir)
	set(d.sigs, sig)
}

// Archive returns what is served for serial.
func (d *Deployment) Archive(serial uint64) (dir, sig []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dirs[serial], d.sigs[serial]
}

// Intercept makes f see every request first; it answers those for which
// it returns true.
func (d *Deployment) Intercept(f func(w http.ResponseWriter, r *http.Request) bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.intercept = f
}

func (d *Deployment) serve(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	intercept := d.intercept
	d.mu.Unlock()
	if intercept != nil && intercept(w, r) {
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/log/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	var body []byte
	switch {
	case path == "checkpoint":
		d.mu.Lock()
		body = d.checkpoint
		d.mu.Unlock()
	case strings.HasPrefix(path, "tile/"):
		body, _ = d.log().Tile(path)
	case strings.HasPrefix(path, "directory/"):
		name := strings.TrimPrefix(path, "directory/")
		m := d.dirs
		if n, ok := strings.CutSuffix(name, ".sig"); ok {
			name, m = n, d.sigs
		}
		serial, err := strconv.ParseUint(name, 10, 64)
		if err != nil || strconv.FormatUint(serial, 10) != name {
			break
		}
		d.mu.Lock()
		body = m[serial]
		d.mu.Unlock()
	}
	if body == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(body)
}

// Sign returns the root signature of directory bytes data, whatever they
// hold (SPEC.md, "Directory signature").
func (d *Deployment) Sign(data []byte) []byte {
	return ed25519.Sign(d.Root, append([]byte("statustoken/v1 directory"), data...))
}

// Record returns the log record of directory bytes data under serial,
// whatever they hold: version 1, the serial, the SHA-256 of data.
func Record(serial uint64, data []byte) []byte {
	h := sha256.Sum256(data)
	r := binary.BigEndian.AppendUint64([]byte{1}, serial)
	return append(r, h[:]...)
}
