// Package monitor audits an issuer's directory transparency log: it
// checks the log's latest checkpoint under the pinned trust policy and
// against the one it verified before, then every directory version the
// log records, against its archive, the root key, the directory rules and
// the public rules across versions. When a verified version publishes a
// decision policy, it also replays the decision log that the version
// names and counts its records (DESIGN.md, section 11).
//
// The issuer serves, under its base URL:
//
//	/log/checkpoint                       the latest checkpoint, cosigned by witnesses
//	/log/tile/<L>/<N>[.p/<W>]             hash tiles (c2sp.org/tlog-tiles)
//	/log/tile/entries/<N>[.p/<W>]         entry bundles of directory records
//	/log/directory/<serial>               the exact bytes of a published directory
//	/log/directory/<serial>.sig           its detached root signature
//	/decisions/checkpoint                 the decision log's checkpoint
//	/decisions/tile/...                   its tiles and entry bundles of decision records
//
// # Decision tallies
//
// The decision log's checkpoint must be signed by the decision log key
// of the newest verified version with a decision policy, cosigned by a
// quorum of the trust policy's witnesses, and extend the one verified
// before. Each record (token.DecisionRecord) is counted in the tally of
// its epoch by (outcome, reason, evidence presented or not), named as
// the directory in force names them; the tallies are kept in the State,
// so each run adds only the new records. The policy in force in an epoch
// is every reason that a verified version listing keys for that epoch
// publishes. A record is an alarm when no verified version with a
// decision policy lists keys for its epoch, when its reason is not in
// that epoch's policy or cannot lead to its outcome, or when every
// listing of its reason for that outcome requires evidence and the
// record says none was presented. A decision checkpoint that is missing,
// not signed and cosigned so, or does not extend the one before is an
// alarm; one older than the trust policy's max-age is a warning (a quiet
// log may not be cosigned again, but wallets cannot prove new decisions
// in it). The tallies count what the issuer logged: a decision it never
// logged is missing from them, and only the holder of its receipt can
// show it (token.CheckAppeal).
//
// Findings are alarms (lines "ALARM: ..."), which a deployment must act
// on, or warnings ("WARNING: ..."), which may be legitimate but are worth
// a look. An alarm about a record is reported by the run that examines
// it; the state counts it, and later runs' summaries mention it.
// An alarm is any failed verification or broken rule:
//
//   - the checkpoint is malformed, not signed by the pinned log key, or
//     not cosigned by a quorum of the pinned witnesses;
//   - it does not extend the checkpoint verified before: another origin, a
//     smaller tree, another tree of the same size, or a larger tree whose
//     first records hash to another root (recomputed from the tiles);
//   - a tile is withheld, or does not match the checkpoint's tree;
//   - a record is not a directory record, or its serial is not above
//     every serial before it in the log;
//   - a logged directory's archive or signature is withheld, its bytes do
//     not hash to the record, its root signature does not verify, it
//     breaks a directory rule (token.OpenDirectory: at most one key per
//     suite, status and epoch, among others), or its serial is not the
//     record's;
//   - a key returns in a version after a version that did not list it,
//     or a key ID appears for another suite, status or epoch;
//   - a status code published before gets another name, or a name
//     published before another code (tokens already issued would read as
//     another status; wallets and scanners refuse such a directory);
//   - the checkpoint's quorum time (the newest time from which a quorum
//     of the witnesses cosigned it) is older than the trust policy's
//     max-age: wallets and scanners refuse proofs that old, so either the
//     witnesses stopped cosigning or this monitor is shown an old
//     checkpoint, which would hide newer versions from it (a freeze). The
//     records of a stale checkpoint are still examined.
//
// Warnings: a (suite, status, epoch) given another key than before, a key
// withdrawn before its epoch ended (or before it started), a changed
// epoch length.
//
// An unreachable issuer or a transient failure (network, timeout, 5xx) is
// no finding: Run returns an error, with the state reached so far, and
// the next run continues from there.
package monitor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"filippo.io/torchwood"
	"github.com/statustoken/statustoken/token"
	"golang.org/x/mod/sumdb/tlog"
)

// DefaultTimeout is the timeout of each HTTP request when Config.Client
// is nil.
const DefaultTimeout = 30 * time.Second

// Config configures a Run.
type Config struct {
	// Issuer is the issuer's base URL, http or https, such as
	// "https://issuer.example"; the log is under Issuer + "/log/".
	Issuer string
	// Trust is the pinned trust policy (token.ParseTrust).
	Trust *token.Trust
	// State is the state an earlier Run returned, or nil to audit the log
	// from its first record. Run does not modify it.
	State *State
	// Client makes the requests; nil for one with DefaultTimeout.
	Client *http.Client
	// Now returns the current time, for the checkpoint's age; nil for
	// time.Now.
	Now func() time.Time
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
	// JSON makes Run write the Report as one JSON object when it ends,
	// instead of text lines as it goes.
	JSON bool
}

// Report is what a Run found.
type Report struct {
	Checkpoint *CheckpointReport `json:"checkpoint,omitempty"`
	// Start and End bound the records examined in this run, [Start, End).
	Start    int64           `json:"start"`
	End      int64           `json:"end"`
	Versions []VersionReport `json:"versions"`
	Findings []Finding       `json:"findings"`
	Alarms   int             `json:"alarms"`
	Warnings int             `json:"warnings"`
	// Decisions is the replay of the decision log, nil when no verified
	// directory version names one.
	Decisions *DecisionReport `json:"decisions,omitempty"`
	// Error is the error Run returned, if any.
	Error string `json:"error,omitempty"`
	// State is what the next Run continues from: the Config's state if
	// the checkpoint was refused, else the one reached (also when Run
	// returns an error). Persist it with State.Marshal.
	State *State `json:"-"`
}

// CheckpointReport describes the checkpoint a Run fetched.
type CheckpointReport struct {
	Origin string `json:"origin"`
	Size   int64  `json:"size"`
	// Hash is the tree's root hash in base64.
	Hash string `json:"hash"`
	// Time is the newest of the witnesses' cosignature times, and Age how
	// long ago it was.
	Time time.Time `json:"time"`
	Age  string    `json:"age"`
	// PreviousSize is the size of the checkpoint verified before, or -1.
	PreviousSize int64 `json:"previous_size"`
	// Verified: signed, cosigned by a quorum and extending the previous one.
	Verified bool `json:"verified"`
}

// VersionReport describes one record of the log, a directory version.
type VersionReport struct {
	Index  int64  `json:"index"`
	Serial uint64 `json:"serial"`
	// SHA256 is the directory hash the record holds, in hex.
	SHA256 string `json:"sha256"`
	// Verified: the archive matches the record, its root signature and
	// every directory rule hold. The rules across versions may still have
	// found alarms.
	Verified    bool          `json:"verified"`
	EpochLength uint32        `json:"epoch_length,omitempty"`
	Epochs      []EpochReport `json:"epochs,omitempty"`
	// Withdrawn lists the keys of earlier versions that this one does
	// not list.
	Withdrawn []KeyReport `json:"withdrawn,omitempty"`
}

// EpochReport lists a version's keys of one epoch.
type EpochReport struct {
	NotBefore time.Time   `json:"not_before"`
	Expiry    time.Time   `json:"expiry"`
	Keys      []KeyReport `json:"keys"`
}

// KeyReport describes one key.
type KeyReport struct {
	ID         token.KeyID  `json:"key_id"`
	Suite      token.Suite  `json:"suite"`
	Status     token.Status `json:"status"`
	StatusName string       `json:"status_name"`
	NotBefore  time.Time    `json:"not_before"`
	Expiry     time.Time    `json:"expiry"`
	// Change is what this version changed about the key: "new",
	// "replaces <key ID>", "returns", "reused", or for a withdrawn key
	// "epoch ended" or "before its epoch ended"; empty for a key listed
	// as before.
	Change string `json:"change,omitempty"`
}

// Level is a finding's severity.
type Level string

const (
	Alarm   Level = "alarm"
	Warning Level = "warning"
)

// Finding is one alarm or warning.
type Finding struct {
	Level Level `json:"level"`
	// Index and Serial locate the record, if the finding is about one.
	Index  *int64  `json:"index,omitempty"`
	Serial *uint64 `json:"serial,omitempty"`
	// Decision locates the decision log's record, if the finding is
	// about one.
	Decision *int64 `json:"decision,omitempty"`
	Message  string `json:"message"`
}

// String returns the finding's text line, "ALARM: ..." or "WARNING: ...".
func (f Finding) String() string {
	var b strings.Builder
	b.WriteString(strings.ToUpper(string(f.Level)))
	b.WriteString(": ")
	switch {
	case f.Index != nil && f.Serial != nil:
		fmt.Fprintf(&b, "record %d (serial %d): ", *f.Index, *f.Serial)
	case f.Index != nil:
		fmt.Fprintf(&b, "record %d: ", *f.Index)
	case f.Decision != nil:
		fmt.Fprintf(&b, "decision record %d: ", *f.Decision)
	}
	b.WriteString(f.Message)
	return b.String()
}

// Run audits the log of the issuer at cfg.Issuer and writes what it
// finds to out, as text lines while it goes or as one JSON object at the
// end (cfg.JSON). It returns the report, whose Alarms counts the alarms,
// and an error if it could not complete the audit: a bad Config or State
// (then the report is nil), or an unreachable issuer, a transient
// failure or a canceled ctx (then the report and its State are those
// reached so far).
func Run(ctx context.Context, cfg Config, out io.Writer) (*Report, error) {
	m, err := newMonitor(cfg, out)
	if err != nil {
		return nil, err
	}
	// The decision log's checkpoint is fetched before the directory
	// log's: every directory an honest decision cites was logged before
	// the decision, so the audit of the directory log that follows knows
	// the policy of every epoch the checkpoint's records may name.
	decisions, decErr := m.dec.get(ctx, "checkpoint", token.MaxProofSize)
	err = m.run(ctx)
	if err == nil && m.report.State == m.st {
		err = m.decisions(ctx, decisions, decErr)
	}
	if err != nil {
		m.report.Error = err.Error()
	}
	if s := m.report.State; s != nil && s != m.st {
		// The checkpoint was refused: the state stays, with the alarms.
		s.Alarms += m.report.Alarms
	}
	m.summary(err)
	return m.report, err
}

type monitor struct {
	cfg    Config
	out    io.Writer
	log    *slog.Logger
	now    func() time.Time
	f      *fetcher
	dec    *fetcher
	report *Report
	// decFindings counts the findings about decision records reported
	// in this run, up to maxDecisionFindings.
	decFindings int
	// prev is the state's checkpoint, nil for a first run.
	prev     *token.Checkpoint
	prevTree tlog.Tree
	// st is the working state; it becomes report.State once the new
	// checkpoint is accepted.
	st   *State
	keys map[token.KeyID]*KeyState
}

func newMonitor(cfg Config, out io.Writer) (*monitor, error) {
	if cfg.Trust == nil || cfg.Trust.Root() == nil {
		return nil, errors.New("monitor: no trust policy")
	}
	u, err := url.Parse(strings.TrimRight(cfg.Issuer, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("monitor: issuer URL %q: want http(s)://host[:port][/path]", cfg.Issuer)
	}
	m := &monitor{cfg: cfg, out: out, log: cfg.Logger, now: cfg.Now, report: &Report{Versions: []VersionReport{}, Findings: []Finding{}}}
	if m.out == nil {
		m.out = io.Discard
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.now == nil {
		m.now = time.Now
	}
	hc := cfg.Client
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	m.f = &fetcher{base: u.String() + "/log/", hc: hc}
	m.dec = &fetcher{base: u.String() + "/decisions/", hc: hc}
	if cfg.State != nil {
		if err := cfg.State.check(); err != nil {
			return nil, fmt.Errorf("monitor: %v", err)
		}
		m.st = cfg.State.clone()
		m.prev, err = token.ParseCheckpoint([]byte(m.st.Checkpoint), cfg.Trust)
		if err != nil {
			return nil, fmt.Errorf("monitor: the state's checkpoint does not verify under the trust policy (was the policy changed?): %v", err)
		}
		origin, tree, err := treeOf(m.prev)
		if err != nil || origin != cfg.Trust.LogOrigin() {
			return nil, fmt.Errorf("monitor: the state's checkpoint is not one of the pinned log %q", cfg.Trust.LogOrigin())
		}
		if m.st.Next > tree.N {
			return nil, fmt.Errorf("monitor: the state has examined %d records of a checkpoint of %d", m.st.Next, tree.N)
		}
		m.prevTree = tree
	} else {
		m.st = &State{Format: StateFormat}
	}
	m.keys = make(map[token.KeyID]*KeyState, len(m.st.Keys))
	for _, k := range m.st.Keys {
		m.keys[k.ID] = k
	}
	if m.st.Slots == nil {
		m.st.Slots = make(map[string]token.KeyID)
	}
	m.report.Start, m.report.End = m.st.Next, m.st.Next
	if cfg.State != nil {
		m.report.State = cfg.State.clone()
	}
	return m, nil
}

// treeOf returns the origin and tree of a verified checkpoint.
func treeOf(c *token.Checkpoint) (string, tlog.Tree, error) {
	signed, err := c.MarshalText()
	if err != nil {
		return "", tlog.Tree{}, err
	}
	// A note is its text, a blank line and the signature lines; the text
	// of a checkpoint has no blank line.
	i := bytes.Index(signed, []byte("\n\n"))
	if i < 0 {
		return "", tlog.Tree{}, errors.New("not a signed note")
	}
	cp, err := torchwood.ParseCheckpoint(string(signed[:i+1]))
	if err != nil {
		return "", tlog.Tree{}, err
	}
	return cp.Origin, cp.Tree, nil
}

// newestCosignature returns the time of the newest cosignature of the
// verified checkpoint c.
func newestCosignature(c *token.Checkpoint) time.Time {
	var newest time.Time
	for _, cs := range c.Cosignatures() {
		if cs.Time.After(newest) {
			newest = cs.Time
		}
	}
	return newest
}

// finding records a finding and, in text mode, prints it unless the
// caller prints it later with its record (deferred).
func (m *monitor) finding(level Level, index *int64, serial *uint64, deferred bool, format string, args ...any) {
	m.add(Finding{Level: level, Index: index, Serial: serial, Message: fmt.Sprintf(format, args...)}, deferred)
}

func (m *monitor) add(f Finding, deferred bool) {
	level := f.Level
	m.report.Findings = append(m.report.Findings, f)
	if level == Alarm {
		m.report.Alarms++
		m.st.Alarms++
	} else {
		m.report.Warnings++
	}
	m.log.Debug("finding", "level", string(level), "message", f.Message)
	if !deferred {
		m.printf("%s\n", f)
	}
}

func (m *monitor) printf(format string, args ...any) {
	if !m.cfg.JSON {
		fmt.Fprintf(m.out, format, args...)
	}
}

func (m *monitor) run(ctx context.Context) error {
	signed, err := m.f.get(ctx, "checkpoint", token.MaxProofSize)
	var missing *missingError
	if errors.As(err, &missing) {
		m.finding(Alarm, nil, nil, false, "checkpoint: the issuer does not serve its log's checkpoint (%v)", err)
		return nil
	}
	if err != nil {
		return err
	}
	m.log.Debug("fetched the checkpoint", "bytes", len(signed))
	cp, err := token.ParseCheckpoint(signed, m.cfg.Trust)
	switch {
	case errors.Is(err, token.ErrQuorum):
		m.finding(Alarm, nil, nil, false, "checkpoint: not signed by the pinned log key and cosigned by a quorum of the pinned witnesses")
		return nil
	case err != nil:
		m.finding(Alarm, nil, nil, false, "checkpoint: malformed: %v", err)
		return nil
	}
	origin, tree, err := treeOf(cp)
	if err != nil || origin != m.cfg.Trust.LogOrigin() {
		m.finding(Alarm, nil, nil, false, "checkpoint: not a checkpoint of the pinned log %q", m.cfg.Trust.LogOrigin())
		return nil
	}
	newest := newestCosignature(cp)
	age := m.now().Sub(newest).Truncate(time.Second)
	cr := &CheckpointReport{
		Origin: origin, Size: tree.N, Hash: base64.StdEncoding.EncodeToString(tree.Hash[:]),
		Time: newest.UTC(), Age: age.String(), PreviousSize: -1,
	}
	m.report.Checkpoint = cr
	when := age.String() + " ago"
	if age < 0 {
		when = (-age).String() + " in the future"
	}
	m.printf("checkpoint %s: %s, root hash %s, newest cosignature %s (%s)\n",
		origin, plural(tree.N, "record"), cr.Hash, cr.Time.Format(time.RFC3339), when)
	// The checkpoint's quorum time (token.Checkpoint.Time) is the newest
	// time at which the cosignatures dated then or later still make a
	// quorum: what wallets and scanners measure freshness from.
	if maxAge := m.cfg.Trust.MaxAge(); cp.Time().Unix() < m.now().Unix()-int64(maxAge/time.Second) {
		// Wallets and scanners refuse a proof this old, so either the
		// witnesses stopped cosigning (no directory can be published) or
		// this monitor is shown an old checkpoint while wallets get newer
		// ones (a freeze that hides new versions from it).
		m.finding(Alarm, nil, nil, false, "checkpoint: stale: fewer than a quorum of the witnesses cosigned it in the trust policy's max-age %s (newest cosignature %s): the witnesses stopped cosigning, or this monitor is shown an old checkpoint that hides newer directories", maxAge, when)
	}

	if m.prev != nil {
		cr.PreviousSize = m.prevTree.N
		ok, err := m.consistent(ctx, m.f, "log", m.prevTree, tree)
		if err != nil || !ok {
			return err
		}
	} else {
		m.printf("log: no checkpoint verified before; auditing from the first record\n")
	}
	cr.Verified = true
	m.st.Checkpoint = string(signed)
	m.report.State = m.st

	if m.st.Next >= tree.N {
		return nil
	}
	client, err := torchwood.NewClient(m.f)
	if err != nil {
		return err
	}
	var recErr error
	for i, entry := range client.AllEntries(ctx, tree, m.st.Next) {
		if i != m.st.Next {
			recErr = fmt.Errorf("monitor: the tile client skipped from record %d to %d", m.st.Next, i)
			break
		}
		if recErr = m.record(ctx, i, entry); recErr != nil {
			break
		}
		m.st.Next = i + 1
		m.report.End = m.st.Next
	}
	if recErr != nil {
		return recErr
	}
	if err := client.Err(); err != nil {
		return m.tileFailure(ctx, fmt.Sprintf("record %d", m.st.Next), err)
	}
	if m.st.Next < tree.N {
		return fmt.Errorf("monitor: the log's entries stopped at record %d of %d", m.st.Next, tree.N)
	}
	return nil
}

// consistent checks that tree extends prev, the tree of the checkpoint
// verified before of the log that f reads ("log" or "decisions"),
// recomputing the previous root hash from the tiles of tree (each of
// which the tlog hash reader checks against tree's root hash).
func (m *monitor) consistent(ctx context.Context, f *fetcher, name string, prev, tree tlog.Tree) (bool, error) {
	where := "checkpoint"
	if name != "log" {
		where = name + " checkpoint"
	}
	inconsistent := func(format string, args ...any) {
		m.finding(Alarm, nil, nil, false, where+": inconsistent with the checkpoint verified before (%s, root hash %s): "+format,
			append([]any{plural(prev.N, "record"), base64.StdEncoding.EncodeToString(prev.Hash[:])}, args...)...)
	}
	switch {
	case tree.N < prev.N:
		inconsistent("the log shrank to %s", plural(tree.N, "record"))
		return false, nil
	case tree.N == prev.N && tree.Hash != prev.Hash:
		inconsistent("another tree of the same size: the log was rewritten or forked")
		return false, nil
	case tree.N == prev.N:
		m.printf("%s: the same tree as the checkpoint verified before\n", name)
		return true, nil
	}
	h, err := tlog.TreeHash(prev.N, torchwood.TileHashReaderWithContext(ctx, tree, f))
	if err != nil {
		return false, m.tileFailure(ctx, where, err)
	}
	if h != prev.Hash {
		inconsistent("its first %s hash to %s: the log was rewritten or forked", plural(prev.N, "record"), base64.StdEncoding.EncodeToString(h[:]))
		return false, nil
	}
	m.printf("%s: extends the checkpoint of %s verified before (checked against the tiles)\n", name, plural(prev.N, "record"))
	return true, nil
}

// tileFailure turns an error of the tile readers into an alarm (a tile
// withheld, or not matching the tree) or returns it (a transient failure).
func (m *monitor) tileFailure(ctx context.Context, where string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var missing *missingError
	var fe *fetchError
	switch {
	case errors.As(err, &missing):
		m.finding(Alarm, nil, nil, false, "%s: the issuer withholds a tile of its log: %v", where, missing)
		return nil
	case errors.As(err, &fe):
		return err
	}
	m.finding(Alarm, nil, nil, false, "%s: the log's tiles do not match the checkpoint: %v", where, err)
	return nil
}

// record examines record i of the log.
func (m *monitor) record(ctx context.Context, i int64, entry []byte) error {
	first := len(m.report.Findings)
	v, err := m.examine(ctx, i, entry)
	if err != nil {
		// Undo this record's findings: the next run examines it again.
		for _, f := range m.report.Findings[first:] {
			if f.Level == Alarm {
				m.report.Alarms--
				m.st.Alarms--
			} else {
				m.report.Warnings--
			}
		}
		m.report.Findings = m.report.Findings[:first]
		return err
	}
	m.report.Versions = append(m.report.Versions, *v)
	m.printVersion(v)
	for _, f := range m.report.Findings[first:] {
		m.printf("%s\n", f)
	}
	return nil
}

func (m *monitor) examine(ctx context.Context, i int64, entry []byte) (*VersionReport, error) {
	idx := &i
	serial, sum, err := token.ParseLogRecord(entry)
	if err != nil {
		m.finding(Alarm, idx, nil, true, "not a directory record (%d bytes): %v", len(entry), err)
		return &VersionReport{Index: i}, nil
	}
	ser := &serial
	alarm := func(format string, args ...any) { m.finding(Alarm, idx, ser, true, format, args...) }
	v := &VersionReport{Index: i, Serial: serial, SHA256: hex.EncodeToString(sum[:])}
	// The serial check comes before any fetch that may fail, but its
	// state change comes after, so that a retried record is checked the
	// same way.
	if last := m.st.LastSerial; last != nil && serial <= *last {
		alarm("the serial does not increase: it follows serial %d earlier in the log", *last)
	}
	name := "directory/" + strconv.FormatUint(serial, 10)
	data, err := m.f.get(ctx, name, token.MaxDirectorySize)
	var sig []byte
	if err == nil {
		sig, err = m.f.get(ctx, name+".sig", token.DirectorySignatureSize)
	}
	var missing *missingError
	if errors.As(err, &missing) {
		alarm("archive missing: %v", missing)
		m.advanceSerial(serial)
		return v, nil
	}
	if err != nil {
		return nil, err
	}
	m.advanceSerial(serial)
	m.log.Debug("fetched a directory", "serial", serial, "bytes", len(data))
	got := sha256.Sum256(data)
	d, openErr := token.OpenDirectory(data, sig, m.cfg.Trust.Root())
	if got != sum {
		msg := fmt.Sprintf("hash mismatch: the archived directory's SHA-256 is %x, not the %x the log records", got, sum)
		if openErr == nil {
			msg += fmt.Sprintf("; it carries a valid root signature (serial %d): the issuer signed a directory that this record does not log", d.Serial)
		}
		alarm("%s", msg)
		return v, nil
	}
	switch {
	case errors.Is(openErr, token.ErrDirectorySignature):
		alarm("bad root signature: the logged directory's signature does not verify under the pinned root key")
		return v, nil
	case openErr != nil:
		alarm("the logged directory breaks the directory rules: %v", openErr)
		return v, nil
	case d.Serial != serial:
		alarm("the logged directory has serial %d, not its record's", d.Serial)
		return v, nil
	}
	v.Verified = true
	m.apply(v, d)
	return v, nil
}

func (m *monitor) advanceSerial(serial uint64) {
	if m.st.LastSerial == nil || serial > *m.st.LastSerial {
		m.st.LastSerial = &serial
	}
}

func (m *monitor) summary(err error) {
	r := m.report
	if m.cfg.JSON {
		b, jerr := json.MarshalIndent(r, "", "  ")
		if jerr == nil {
			m.out.Write(append(b, '\n'))
		}
		return
	}
	verified := 0
	for _, v := range r.Versions {
		if v.Verified {
			verified++
		}
	}
	size := "no verified checkpoint"
	if r.Checkpoint != nil && r.Checkpoint.Verified {
		size = "tree of " + plural(r.Checkpoint.Size, "record")
	}
	records := "no new records"
	if r.End > r.Start {
		records = fmt.Sprintf("records %d..%d examined", r.Start, r.End-1)
	}
	m.printf("summary: %s, %s, %d of %d versions verified, %s, %s",
		size, records, verified, len(r.Versions), plural(r.Alarms, "alarm"), plural(r.Warnings, "warning"))
	if r.State != nil && r.State.Alarms > r.Alarms {
		m.printf(" (%d in earlier runs)", r.State.Alarms-r.Alarms)
	}
	m.printf("\n")
	if err != nil {
		m.printf("incomplete: %v\n", err)
	}
}

func plural[T int | int64](n T, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
