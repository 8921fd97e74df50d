package monitor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/monitor"
	"github.com/statustoken/statustoken/examples/deploy/internal/monitor/monitortest"
	"github.com/statustoken/statustoken/token"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// run audits d's log from state and returns the report and the text
// output.
func run(t *testing.T, d *monitortest.Deployment, state *monitor.State) (*monitor.Report, string) {
	t.Helper()
	var out bytes.Buffer
	r, err := monitor.Run(context.Background(), monitor.Config{Issuer: d.URL(), Trust: d.Trust, State: state}, &out)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	t.Logf("output:\n%s", out.String())
	return r, out.String()
}

// wantAlarm checks that r has exactly n alarms, one of which matches re,
// and that the text output shows it as an ALARM line.
func wantAlarm(t *testing.T, r *monitor.Report, out string, n int, re string) {
	t.Helper()
	if r.Alarms != n {
		t.Errorf("%d alarms, want %d", r.Alarms, n)
	}
	rx := regexp.MustCompile(re)
	found := false
	for _, f := range r.Findings {
		if f.Level == monitor.Alarm && rx.MatchString(f.Message) {
			found = true
		}
	}
	if !found {
		t.Errorf("no alarm matching %q in %+v", re, r.Findings)
	}
	if !regexp.MustCompile(`(?m)^ALARM: .*` + re).MatchString(out) {
		t.Errorf("no line ALARM: ... %q in the output", re)
	}
}

func clean(t *testing.T, r *monitor.Report) {
	t.Helper()
	if r.Alarms != 0 || r.Warnings != 0 {
		t.Errorf("%d alarms and %d warnings, want none: %+v", r.Alarms, r.Warnings, r.Findings)
	}
}

// history publishes three versions a day apart: each lists the current
// and the next epoch, so each withdraws the key of the epoch that ended.
func history(t *testing.T, d *monitortest.Deployment) [][]byte {
	var dirs [][]byte
	for i := range 3 {
		dir, _ := d.Publish(t, t0.Add(time.Duration(i)*day), uint64(i+1))
		dirs = append(dirs, dir)
	}
	return dirs
}

func TestCleanHistory(t *testing.T) {
	d := monitortest.New(t)
	dirs := history(t, d)
	r, out := run(t, d, nil)
	clean(t, r)
	if len(r.Versions) != 3 || r.Start != 0 || r.End != 3 {
		t.Fatalf("%d versions, records %d..%d, want 3, 0..3", len(r.Versions), r.Start, r.End)
	}
	for i, v := range r.Versions {
		dir, err := token.ParseDirectory(dirs[i])
		if err != nil {
			t.Fatal(err)
		}
		if !v.Verified || v.Serial != uint64(i+1) || len(v.Epochs) != 2 {
			t.Errorf("version %d: %+v", i, v)
		}
		if !strings.Contains(out, "record "+strconv.Itoa(i)+": serial "+strconv.Itoa(i+1)+", sha256 "+v.SHA256+": verified") {
			t.Errorf("output lacks record %d's line", i)
		}
		for _, k := range dir.Keys {
			name, _ := dir.StatusName(k.Status)
			line := regexp.MustCompile(`(?m)^    ed25519 +` + name + ` +` + k.ID.String())
			if !line.MatchString(out) {
				t.Errorf("output lacks key %v of version %d", k.ID, i)
			}
			epoch := "  epoch " + k.NotBeforeTime().Format(time.RFC3339) + ".." + k.ExpiryTime().Format(time.RFC3339)
			if !strings.Contains(out, epoch) {
				t.Errorf("output lacks %q", epoch)
			}
		}
		if i > 0 && (len(v.Withdrawn) != 2 || v.Withdrawn[0].Change != "epoch ended") {
			t.Errorf("version %d withdraws %+v, want the 2 keys of the ended epoch", i, v.Withdrawn)
		}
	}
	if !strings.Contains(out, "summary: tree of 3 records, records 0..2 examined, 3 of 3 versions verified, 0 alarms, 0 warnings") {
		t.Errorf("unexpected summary")
	}

	// A rerun continues: nothing new, then one more version.
	st := roundTrip(t, r.State)
	r, out = run(t, d, st)
	clean(t, r)
	if len(r.Versions) != 0 || !strings.Contains(out, "log: the same tree") {
		t.Errorf("rerun examined %d versions", len(r.Versions))
	}
	d.Publish(t, t0.Add(3*day), 4)
	r, out = run(t, d, roundTrip(t, r.State))
	clean(t, r)
	if len(r.Versions) != 1 || r.Versions[0].Index != 3 || !strings.Contains(out, "log: extends the checkpoint of 3 records") {
		t.Errorf("third run: %+v", r.Versions)
	}
}

func TestKeyReturns(t *testing.T) {
	d := monitortest.New(t)
	d.Publish(t, t0, 1)
	d.Publish(t, t0.Add(day), 2) // withdraws the first epoch's keys
	d.Publish(t, t0, 3)          // lists them again
	r, out := run(t, d, nil)
	wantAlarm(t, r, out, 2, `key [0-9a-f]{16} \(ed25519 (negative|positive), epoch 2026-11-26T00:00:00Z\.\.2026-11-27T00:00:00Z\) returns after serial 2 withdrew it`)
	if !strings.Contains(out, "ALARM: record 2 (serial 3): key") {
		t.Errorf("the alarm does not name the record")
	}
}

func TestReplacedKeys(t *testing.T) {
	d := monitortest.New(t)
	d.Publish(t, t0, 1)
	other := d.NewIssuer(t, bytes.Repeat([]byte{7}, 32))
	dir, sig, err := other.Directory(t0, 2)
	if err != nil {
		t.Fatal(err)
	}
	d.Append(t, dir, sig)
	r, out := run(t, d, nil)
	if r.Alarms != 0 || r.Warnings != 4 {
		t.Fatalf("%d alarms, %d warnings, want 0 and 4: %+v", r.Alarms, r.Warnings, r.Findings)
	}
	if !regexp.MustCompile(`(?m)^WARNING: record 1 \(serial 2\): key [0-9a-f]{16} replaces key [0-9a-f]{16} for ed25519 negative`).MatchString(out) {
		t.Errorf("no replacement warning line")
	}
	// The first issuer's keys return.
	d.Publish(t, t0, 3)
	r, out = run(t, d, r.State)
	wantAlarm(t, r, out, 4, `returns after serial 2 withdrew it`)
}

func TestWithdrawnEarly(t *testing.T) {
	d := monitortest.New(t)
	dir, _ := d.Publish(t, t0, 1)
	// A version that lists only the current epoch's negative key: it
	// withdraws the three others, one of the current epoch and two of the
	// next.
	p, _ := token.ParseDirectory(dir)
	p.Serial = 2
	p.Keys = p.Keys[:1]
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	d.Append(t, b, d.Sign(b))
	r, out := run(t, d, nil)
	if r.Alarms != 0 || r.Warnings != 3 || !strings.Contains(out, "is withdrawn before its epoch ended") {
		t.Errorf("findings %+v", r.Findings)
	}
}

func TestHashMismatch(t *testing.T) {
	d := monitortest.New(t)
	d.Publish(t, t0, 1)
	d.Publish(t, t0.Add(day), 2)
	// The archive serves another directory with serial 2, validly signed.
	dir, sig, err := d.Issuer.Directory(t0.Add(2*day), 2)
	if err != nil {
		t.Fatal(err)
	}
	d.SetArchive(2, dir, sig)
	r, out := run(t, d, nil)
	wantAlarm(t, r, out, 1, `hash mismatch: the archived directory's SHA-256 is [0-9a-f]{64}, not the [0-9a-f]{64} the log records; it carries a valid root signature`)
	if r.Versions[1].Verified || !strings.Contains(out, "record 1: serial 2, sha256 "+r.Versions[1].SHA256+": NOT VERIFIED") {
		t.Errorf("version 1 shown as verified")
	}
}

func TestBadSignature(t *testing.T) {
	d := monitortest.New(t)
	d.Publish(t, t0, 1)
	dir, sig, err := d.Issuer.Directory(t0.Add(day), 2)
	if err != nil {
		t.Fatal(err)
	}
	sig[0] ^= 1
	d.Append(t, dir, sig)
	// A directory signed by another root key.
	stranger := monitortest.New(t)
	dir, sig, err = stranger.Issuer.Directory(t0.Add(day), 3)
	if err != nil {
		t.Fatal(err)
	}
	d.Append(t, dir, sig)
	r, out := run(t, d, nil)
	wantAlarm(t, r, out, 2, `bad root signature`)
	if !strings.Contains(out, "ALARM: record 2 (serial 3): bad root signature") {
		t.Errorf("no alarm for the stranger's directory")
	}
}

func TestMissingArchive(t *testing.T) {
	d := monitortest.New(t)
	history(t, d)
	dir, sig := d.Archive(3)
	d.SetArchive(2, nil, nil)
	d.SetArchive(3, dir, nil)
	r, out := run(t, d, nil)
	wantAlarm(t, r, out, 2, `archive missing: directory/2: the issuer answered 404`)
	wantAlarm(t, r, out, 2, `archive missing: directory/3.sig`)
	if !r.Versions[0].Verified || r.Versions[1].Verified {
		t.Errorf("versions %+v", r.Versions)
	}
	// Alarms are reported once; the state remembers them.
	d.SetArchive(3, dir, sig)
	r, out = run(t, d, r.State)
	clean(t, r)
	if !strings.Contains(out, "(2 in earlier runs)") {
		t.Errorf("the summary does not mention the earlier alarms")
	}
}

func TestTooFewCosignatures(t *testing.T) {
	d := monitortest.New(t)
	d.Publish(t, t0, 1)
	r, _ := run(t, d, nil)
	st := r.State
	d.Publish(t, t0.Add(day), 2)
	d.Cosign(t, 1)
	r, out := run(t, d, st)
	wantAlarm(t, r, out, 1, `checkpoint: not signed by the pinned log key and cosigned by a quorum of the pinned witnesses`)
	if len(r.Versions) != 0 || r.State.Next != 1 || r.State.Checkpoint != st.Checkpoint {
		t.Errorf("the refused checkpoint advanced the state: %+v", r.State)
	}
	// Without a state, there is nothing to keep.
	r, _ = run(t, d, nil)
	if r.Alarms != 1 || r.State != nil {
		t.Errorf("first run: %d alarms, state %v", r.Alarms, r.State)
	}
}

func TestRewrittenLog(t *testing.T) {
	d := monitortest.New(t)
	history(t, d)
	r, _ := run(t, d, nil)
	st := roundTrip(t, r.State)

	// The same keys, another history of the same size.
	f := d.Fork(t)
	f.Publish(t, t0, 1)
	f.Publish(t, t0.Add(day), 2)
	f.Publish(t, t0.Add(5*day), 3)
	r, out := run(t, f, st)
	wantAlarm(t, r, out, 1, `checkpoint: inconsistent with the checkpoint verified before \(3 records, root hash \S+\): another tree of the same size`)
	if r.State.Checkpoint != st.Checkpoint || len(r.Versions) != 0 {
		t.Errorf("the rewritten log advanced the state")
	}

	// A larger tree that does not start with the first.
	f.Publish(t, t0.Add(6*day), 4)
	r, out = run(t, f, st)
	wantAlarm(t, r, out, 1, `its first 3 records hash to \S+: the log was rewritten or forked`)

	// A smaller one.
	g := d.Fork(t)
	g.Publish(t, t0, 1)
	r, out = run(t, g, st)
	wantAlarm(t, r, out, 1, `the log shrank to 1 record`)
}

func TestSerialNotIncreasing(t *testing.T) {
	d := monitortest.New(t)
	d.Publish(t, t0, 1)
	d.Publish(t, t0.Add(day), 3)
	d.Publish(t, t0.Add(2*day), 2)
	r, out := run(t, d, nil)
	wantAlarm(t, r, out, 1, `the serial does not increase: it follows serial 3 earlier in the log`)
	if !strings.Contains(out, "ALARM: record 2 (serial 2): the serial") {
		t.Errorf("the alarm does not name record 2")
	}
}

// rawDirectory mirrors token.Directory without its methods, to encode
// directories that break its rules.
type rawDirectory struct {
	Version     int                `json:"version"`
	Serial      uint64             `json:"serial"`
	EpochLength uint32             `json:"epoch_length"`
	MaxLifetime uint32             `json:"max_lifetime"`
	Statuses    []token.StatusName `json:"statuses"`
	Keys        []token.Key        `json:"keys"`
}

func TestDirectoryRules(t *testing.T) {
	d := monitortest.New(t)
	dir, _ := d.Publish(t, t0, 1)
	// Two keys for one suite, status and epoch, signed and logged.
	p, _ := token.ParseDirectory(dir)
	other := d.NewIssuer(t, bytes.Repeat([]byte{9}, 32))
	odir, _, err := other.Directory(t0, 2)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := token.ParseDirectory(odir)
	raw := rawDirectory{p.Version, 2, p.EpochLength, p.MaxLifetime, p.Statuses, []token.Key{p.Keys[0], o.Keys[0]}}
	b, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	d.AppendRecord(t, monitortest.Record(2, b))
	d.SetArchive(2, b, d.Sign(b))
	r, out := run(t, d, nil)
	wantAlarm(t, r, out, 1, `the logged directory breaks the directory rules: .*one key per suite, status and epoch`)
}

func TestStaleCheckpoint(t *testing.T) {
	d := monitortest.New(t)
	d.Publish(t, t0, 1)
	var out bytes.Buffer
	later := func() time.Time { return time.Now().Add(72 * time.Hour) }
	r, err := monitor.Run(context.Background(), monitor.Config{Issuer: d.URL(), Trust: d.Trust, Now: later}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Alarms != 1 || r.Warnings != 0 || len(r.Versions) != 1 || !strings.Contains(out.String(), "ALARM: checkpoint: stale: fewer than a quorum of the witnesses cosigned it in the trust policy's max-age 48h0m0s (newest cosignature 72h0m0s ago)") {
		t.Errorf("findings %+v\n%s", r.Findings, out.String())
	}

	// One fresh cosignature and one of three days ago: the newest is
	// recent, but wallets would refuse a proof with it.
	now := time.Now()
	d.CosignAt(t, now, now.Add(-72*time.Hour))
	r, out2 := run(t, d, nil)
	wantAlarm(t, r, out2, 1, `checkpoint: stale: fewer than a quorum .* \(newest cosignature [0-9]+s ago\)`)
	d.CosignAt(t, now.Add(-47*time.Hour), now.Add(-time.Hour))
	r, _ = run(t, d, nil)
	clean(t, r)
}

func TestTamperedTile(t *testing.T) {
	d := monitortest.New(t)
	history(t, d)
	d.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, "/log/tile/entries/") {
			return false
		}
		b, _ := d.Log.Tile(strings.TrimPrefix(r.URL.Path, "/log/"))
		b[len(b)-1] ^= 1
		w.Write(b)
		return true
	})
	r, out := run(t, d, nil)
	wantAlarm(t, r, out, 1, `the log's tiles do not match the checkpoint`)
}

func TestTransientFailure(t *testing.T) {
	d := monitortest.New(t)
	history(t, d)
	d.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/log/directory/2" {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	var out bytes.Buffer
	r, err := monitor.Run(context.Background(), monitor.Config{Issuer: d.URL(), Trust: d.Trust}, &out)
	var fe interface{ Unwrap() error }
	if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("Run: %v", err)
	}
	if r.State == nil || r.State.Next != 1 || r.Alarms != 0 || !strings.Contains(out.String(), "incomplete: ") {
		t.Fatalf("state %+v, %d alarms\n%s", r.State, r.Alarms, out.String())
	}
	d.Intercept(nil)
	r, _ = run(t, d, r.State)
	clean(t, r)
	if r.Start != 1 || r.End != 3 {
		t.Errorf("rerun examined records %d..%d, want 1..3", r.Start, r.End)
	}
}

func TestAcrossTiles(t *testing.T) {
	if testing.Short() {
		t.Skip("publishes 300 versions")
	}
	d := monitortest.New(t)
	for i := range 200 {
		d.Publish(t, t0.Add(time.Duration(i)*day), uint64(i+1))
	}
	var out bytes.Buffer
	r, err := monitor.Run(context.Background(), monitor.Config{Issuer: d.URL(), Trust: d.Trust}, &out)
	if err != nil || r.Alarms != 0 || r.Warnings != 0 || len(r.Versions) != 200 {
		t.Fatalf("first run: %v, %+v", err, r.Findings)
	}
	for i := 200; i < 300; i++ {
		d.Publish(t, t0.Add(time.Duration(i)*day), uint64(i+1))
	}
	r, err = monitor.Run(context.Background(), monitor.Config{Issuer: d.URL(), Trust: d.Trust, State: roundTrip(t, r.State)}, &out)
	if err != nil || r.Alarms != 0 || r.Warnings != 0 || len(r.Versions) != 100 || r.Versions[0].Index != 200 {
		t.Fatalf("second run: %v, %+v", err, r.Findings)
	}
}

func TestJSON(t *testing.T) {
	d := monitortest.New(t)
	history(t, d)
	d.SetArchive(2, nil, nil)
	var out bytes.Buffer
	r, err := monitor.Run(context.Background(), monitor.Config{Issuer: d.URL(), Trust: d.Trust, JSON: true}, &out)
	if err != nil {
		t.Fatal(err)
	}
	var got monitor.Report
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if got.Alarms != 1 || r.Alarms != 1 || len(got.Versions) != 3 || got.Checkpoint.Size != 3 || got.Versions[0].Epochs[0].Keys[0].StatusName != "negative" {
		t.Errorf("report %s", out.String())
	}
}

func TestStateChecks(t *testing.T) {
	d := monitortest.New(t)
	d.Publish(t, t0, 1)
	r, _ := run(t, d, nil)
	// Under another trust policy the state's checkpoint does not verify.
	other := monitortest.New(t)
	_, err := monitor.Run(context.Background(), monitor.Config{Issuer: d.URL(), Trust: other.Trust, State: r.State}, nil)
	if err == nil || !strings.Contains(err.Error(), "does not verify under the trust policy") {
		t.Errorf("Run under another policy: %v", err)
	}
	b, _ := r.State.Marshal()
	for _, bad := range []string{
		"", "{}", strings.Replace(string(b), monitor.StateFormat, "v0", 1), string(b) + "{}",
		strings.Replace(string(b), `"next": 1`, `"next": -1`, 1),
	} {
		if _, err := monitor.ParseState([]byte(bad)); err == nil {
			t.Errorf("ParseState(%.40q) succeeded", bad)
		}
	}
	for _, u := range []string{"", "ftp://x", "http://", "http://x/?q"} {
		if _, err := monitor.Run(context.Background(), monitor.Config{Issuer: u, Trust: d.Trust}, nil); err == nil {
			t.Errorf("issuer %q accepted", u)
		}
	}
}

func roundTrip(t *testing.T, s *monitor.State) *monitor.State {
	t.Helper()
	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p, err := monitor.ParseState(b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStatusRenamed: a version that swaps two status names, or gives a
// name to another code, is an alarm, as wallets and scanners refuse it.
func TestStatusRenamed(t *testing.T) {
	for _, tc := range []struct {
		name     string
		statuses []token.StatusName
		alarms   int
		re       string
	}{
		{"swapped", []token.StatusName{{Code: 1, Name: "positive"}, {Code: 2, Name: "negative"}}, 2,
			`status 1 is renamed from "negative" to "positive": tokens issued as "negative" now read as "positive"`},
		{"moved", []token.StatusName{{Code: 1, Name: "negative"}, {Code: 3, Name: "positive"}}, 3, // and 2 keys reused
			`status "positive" moves from code 2 to code 3`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := monitortest.New(t)
			dir, _ := d.Publish(t, t0, 1)
			p, err := token.ParseDirectory(dir)
			if err != nil {
				t.Fatal(err)
			}
			p.Serial = 2
			p.Statuses = tc.statuses
			for i := range p.Keys {
				if p.Keys[i].Status == 2 {
					p.Keys[i].Status = tc.statuses[1].Code
				}
			}
			b, err := p.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			d.Append(t, b, d.Sign(b))
			r, out := run(t, d, nil)
			wantAlarm(t, r, out, tc.alarms, tc.re)

			// The statuses first published stay in the state.
			st := roundTrip(t, r.State)
			if len(st.Statuses) != 2 || st.Statuses[0].Name != "negative" || st.Statuses[1].Name != "positive" {
				t.Errorf("state statuses %+v", st.Statuses)
			}
		})
	}
}
