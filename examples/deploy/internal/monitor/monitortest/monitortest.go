// Package monitortest runs an issuer's transparency log for the monitor's
// tests: a real issue.Issuer and issue.Log (replaced by a rogue log for
// records that issue.Log refuses), witnesses that cosign in process
// (issuetest), and a loopback HTTP server with the log's layout.
package monitortest

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
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

	"github.com/statustoken/statustoken/internal/logtree"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/issue/issuetest"
	"github.com/statustoken/statustoken/token"
	"golang.org/x/mod/sumdb/note"
)

// Origin is the log's origin line, and DecisionOrigin the decision
// log's.
const (
	Origin         = "example.org/health/directory"
	DecisionOrigin = "example.org/health/decisions"
)

// DecisionLogDelay is the decision log delay of NewWithDecisions.
const DecisionLogDelay = time.Hour

// Reasons is the decision policy of NewWithDecisions: a test result
// (evidence required) leads to either status; "no test on record" and
// "administrative" lead to a refusal.
var Reasons = []token.Reason{
	{Code: 1, Text: "test result", Outcomes: []token.Outcome{1, 2}, EvidenceRequired: true},
	{Code: 2, Text: "no test on record", Outcomes: []token.Outcome{token.Refused}},
	{Code: 3, Text: "administrative", Outcomes: []token.Outcome{token.Refused}},
}

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
	Witnesses []*issuetest.Witness
	// TrustText is the trust policy's text; Trust is it parsed.
	TrustText []byte
	Trust     *token.Trust
	Server    *httptest.Server

	// DecisionLogKey is the decision log's note signer key, empty
	// without a decision policy.
	DecisionLogKey string

	mu         sync.Mutex
	checkpoint []byte
	dirs, sigs map[uint64][]byte
	intercept  func(w http.ResponseWriter, r *http.Request) bool
	decisions  *logtree.Tree
	decSigner  note.Signer
	decCheck   []byte
}

// New returns a deployment with fresh keys and an empty log, whose server
// is closed when tb ends.
func New(tb testing.TB) *Deployment {
	tb.Helper()
	return newDeployment(tb, issue.Config{EpochLength: EpochLength, Statuses: Statuses})
}

// NewWithDecisions returns a deployment as New does, whose issuer
// publishes the decision policy Reasons, with a fresh decision key and
// an empty decision log.
func NewWithDecisions(tb testing.TB) *Deployment {
	tb.Helper()
	skey, vkey, err := issue.GenerateLogKey(DecisionOrigin)
	if err != nil {
		tb.Fatal(err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	d := newDeployment(tb, issue.Config{
		EpochLength: EpochLength, Statuses: Statuses,
		DecisionKey: key, Reasons: Reasons, DecisionLogKey: vkey, DecisionLogDelay: DecisionLogDelay,
	})
	d.DecisionLogKey = skey
	if d.decSigner, err = note.NewSigner(skey); err != nil {
		tb.Fatal(err)
	}
	d.decisions = new(logtree.Tree)
	return d
}

func newDeployment(tb testing.TB, cfg issue.Config) *Deployment {
	tb.Helper()
	cfg.Seed = make([]byte, issue.SeedSize)
	rand.Read(cfg.Seed)
	p, err := issuetest.NewPublisher(cfg, &issuetest.Options{Origin: Origin})
	if err != nil {
		tb.Fatal(err)
	}
	d := &Deployment{Root: p.RootKey, Seed: cfg.Seed, Issuer: p.Issuer, LogKey: p.LogKey,
		Witnesses: p.Witnesses, TrustText: p.TrustText, Trust: p.Trust}
	d.start(tb)
	return d
}

// Decide has the issuer decide outcome for reason at now, about a
// random request under the directory of serial, with evidence or
// without, and appends the decision record to the decision log (not yet
// cosigned: see CosignDecisions). It returns the receipt.
func (d *Deployment) Decide(tb testing.TB, now time.Time, serial uint64, outcome token.Outcome, reason uint16, evidence bool) []byte {
	tb.Helper()
	dec := issue.Decision{Request: make([]byte, 64), Outcome: outcome, Reason: reason, Serial: serial}
	rand.Read(dec.Request)
	rand.Read(dec.Commitment[:])
	if evidence {
		dec.Evidence = []byte("a laboratory's signed result")
	}
	receipt, record, err := d.Issuer.Decide(dec, now)
	if err != nil {
		tb.Fatal(err)
	}
	d.AppendDecision(tb, record)
	return receipt
}

// AppendDecision appends raw bytes to the decision log, whatever they
// hold, as an issuer with log code of its own could; they are not yet
// cosigned.
func (d *Deployment) AppendDecision(tb testing.TB, record []byte) {
	tb.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.decisions == nil {
		tb.Fatal("monitortest: the deployment has no decision log")
	}
	if err := d.decisions.Append(record); err != nil {
		tb.Fatal(err)
	}
}

// Appeal has the issuer decide outcome for reason at now, about a
// random request under the directory of serial (published with Publish
// or Append), and returns the holder's appeal bundle with statement:
// the receipt, the proof of its record under a new decision checkpoint
// cosigned by two witnesses, the directory with its proof under the
// served checkpoint, and the opening. Unless logged, the record is left
// out of the decision log and the bundle carries no decision proof, as a
// wallet writes it for a receipt it never got a proof of.
func (d *Deployment) Appeal(tb testing.TB, now time.Time, serial uint64, outcome token.Outcome, reason uint16, evidence bool, statement string, logged bool) []byte {
	tb.Helper()
	op := token.Opening{Statement: []byte(statement)}
	rand.Read(op.Salt[:])
	dec := issue.Decision{Request: make([]byte, 64), Commitment: op.Commitment(), Outcome: outcome, Reason: reason, Serial: serial}
	rand.Read(dec.Request)
	if evidence {
		dec.Evidence = []byte("a laboratory's signed result")
	}
	receipt, record, err := d.Issuer.Decide(dec, now)
	if err != nil {
		tb.Fatal(err)
	}
	var decProof []byte
	if logged {
		d.AppendDecision(tb, record)
		d.CosignDecisions(tb, 2)
		d.mu.Lock()
		decProof, err = d.decisions.Proof(d.decisions.Size()-1, d.decisions.Size(), d.decCheck)
		d.mu.Unlock()
		if err != nil {
			tb.Fatal(err)
		}
	}
	d.mu.Lock()
	checkpoint := d.checkpoint
	d.mu.Unlock()
	dir, sig := d.Archive(serial)
	l, ok := d.log().(*issue.Log)
	if dir == nil || !ok {
		tb.Fatalf("monitortest: no directory of serial %d in an issue.Log", serial)
	}
	want, err := token.LogRecord(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var dirProof []byte
	for i := range l.Size() {
		if r, err := l.Record(i); err == nil && string(r) == string(want) {
			if dirProof, err = l.Proof(i, checkpoint); err != nil {
				tb.Fatal(err)
			}
		}
	}
	a := &token.Appeal{
		Receipt: receipt, DecisionProof: decProof,
		Directory: token.Published{Directory: dir, Signature: sig, Proof: dirProof},
		Opening:   op,
	}
	b, err := a.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// ForkDecisions replaces the decision log with an empty one under the
// same key: the log rewritten. The served checkpoint stays until
// CosignDecisions.
func (d *Deployment) ForkDecisions() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.decisions = new(logtree.Tree)
}

// DecisionRecord returns a decision record's bytes, whatever its fields hold.
func DecisionRecord(epoch time.Time, outcome token.Outcome, reason uint16, evidence bool) []byte {
	r := binary.BigEndian.AppendUint32([]byte{1}, uint32(epoch.Unix()))
	r = append(r, byte(outcome))
	r = binary.BigEndian.AppendUint16(r, reason)
	e := byte(0)
	if evidence {
		e = 1
	}
	r = append(r, e)
	c := make([]byte, 32)
	rand.Read(c)
	return append(r, c...)
}

// CosignDecisions makes the served decision checkpoint the decision
// log's current one, cosigned by the first n witnesses now.
func (d *Deployment) CosignDecisions(tb testing.TB, n int) {
	tb.Helper()
	d.mu.Lock()
	checkpoint, err := d.decisions.Checkpoint(d.decSigner)
	d.mu.Unlock()
	if err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		line, err := d.Witnesses[i].Cosign(checkpoint, time.Now())
		if err != nil {
			tb.Fatal(err)
		}
		checkpoint = append(checkpoint, line...)
	}
	d.mu.Lock()
	d.decCheck = checkpoint
	d.mu.Unlock()
}

// DecisionCheckpointOf returns the decision log's checkpoint signed by
// the note signer key skey instead of the decision log's, cosigned by
// the first two witnesses now.
func (d *Deployment) DecisionCheckpointOf(tb testing.TB, skey string) []byte {
	tb.Helper()
	s, err := note.NewSigner(skey)
	if err != nil {
		tb.Fatal(err)
	}
	d.mu.Lock()
	checkpoint, err := d.decisions.Checkpoint(s)
	d.mu.Unlock()
	if err != nil {
		tb.Fatal(err)
	}
	for i := range 2 {
		line, err := d.Witnesses[i].Cosign(checkpoint, time.Now())
		if err != nil {
			tb.Fatal(err)
		}
		checkpoint = append(checkpoint, line...)
	}
	return checkpoint
}

// DecisionCheckpoint returns the served decision checkpoint.
func (d *Deployment) DecisionCheckpoint() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.decCheck
}

// SetDecisionCheckpoint serves checkpoint as the decision log's, nil for
// none.
func (d *Deployment) SetDecisionCheckpoint(checkpoint []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.decCheck = checkpoint
}

// Fork returns a deployment with the same keys and an empty log, on its
// own server: the log rewritten.
func (d *Deployment) Fork(tb testing.TB) *Deployment {
	tb.Helper()
	f := &Deployment{
		Root: d.Root, Seed: d.Seed, Issuer: d.Issuer, LogKey: d.LogKey,
		Witnesses: d.Witnesses, TrustText: d.TrustText, Trust: d.Trust,
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
// the first n witnesses, now.
func (d *Deployment) Cosign(tb testing.TB, n int) {
	tb.Helper()
	cs := make([]issuetest.Cosigner, n)
	for i := range cs {
		cs[i] = issuetest.Cosigner{Witness: i, Time: time.Now()}
	}
	d.cosign(tb, cs)
}

// CosignAt makes the served checkpoint the log's current one, cosigned
// by witness i at times[i] (c2sp.org/tlog-cosignature), for the first
// len(times) witnesses.
func (d *Deployment) CosignAt(tb testing.TB, times ...time.Time) {
	tb.Helper()
	cs := make([]issuetest.Cosigner, len(times))
	for i, at := range times {
		cs[i] = issuetest.Cosigner{Witness: i, Time: at}
	}
	d.cosign(tb, cs)
}

func (d *Deployment) cosign(tb testing.TB, cs []issuetest.Cosigner) {
	tb.Helper()
	l := d.log()
	var cosigned []byte
	var err error
	if len(cs) == 0 {
		cosigned, err = l.Checkpoint()
	} else {
		cosigned, err = cosignLog(l, d.Witnesses, cs)
	}
	if err != nil {
		tb.Fatal(err)
	}
	d.mu.Lock()
	d.checkpoint = cosigned
	d.mu.Unlock()
}

// cosignLog returns l's checkpoint cosigned as cs say, by witnesses.
func cosignLog(l Log, witnesses []*issuetest.Witness, cs []issuetest.Cosigner) ([]byte, error) {
	checkpoint, err := l.Checkpoint()
	if err != nil {
		return nil, err
	}
	lines := make([][]byte, len(cs))
	for i, c := range cs {
		if lines[i], err = witnesses[c.Witness].Cosign(checkpoint, c.Time); err != nil {
			return nil, err
		}
	}
	return l.Cosigned(checkpoint, lines...)
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
	if path, ok := strings.CutPrefix(r.URL.Path, "/decisions/"); ok {
		d.serveDecisions(w, r, path)
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

func (d *Deployment) serveDecisions(w http.ResponseWriter, r *http.Request, path string) {
	d.mu.Lock()
	var body []byte
	switch {
	case d.decisions == nil:
	case path == "checkpoint":
		body = d.decCheck
	case strings.HasPrefix(path, "tile/"):
		body, _ = d.decisions.Tile(path)
	}
	d.mu.Unlock()
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
