package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/monitor/monitortest"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

type result struct {
	code           int
	stdout, stderr string
}

func runMonitor(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	t.Logf("monitor %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	return result{code, stdout.String(), stderr.String()}
}

func trustFile(t *testing.T, d *monitortest.Deployment) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "trust.txt")
	if err := os.WriteFile(name, d.TrustText, 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

func history(t *testing.T, d *monitortest.Deployment) {
	for i := range 3 {
		d.Publish(t, t0.Add(time.Duration(i)*day), uint64(i+1))
	}
}

func TestClean(t *testing.T) {
	d := monitortest.New(t)
	history(t, d)
	trust := trustFile(t, d)
	state := filepath.Join(t.TempDir(), "monitor.state")
	r := runMonitor(t, "-issuer", d.URL(), "-trust", trust, "-state", state)
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	for _, want := range []string{
		"record 0: serial 1, sha256 ", "record 2: serial 3, sha256 ",
		"  epoch 2026-11-28T00:00:00Z..2026-11-29T00:00:00Z\n",
		"summary: tree of 3 records, records 0..2 examined, 3 of 3 versions verified, 0 alarms, 0 warnings",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	if strings.Contains(r.stdout, "ALARM") {
		t.Errorf("alarm in a clean run")
	}
	fi, err := os.Stat(state)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v, %v", fi, err)
	}
	// The rerun continues from the state.
	d.Publish(t, t0.Add(3*day), 4)
	r = runMonitor(t, "-issuer", d.URL(), "-trust", trust, "-state", state, "-log-json", "-log-level", "debug")
	if r.code != 0 || !strings.Contains(r.stdout, "records 3..3 examined") || strings.Contains(r.stdout, "record 0:") {
		t.Errorf("rerun: exit %d", r.code)
	}
	if !strings.Contains(r.stderr, `"msg":"audit done"`) {
		t.Errorf("no JSON log on stderr")
	}
}

func TestAlarms(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, d *monitortest.Deployment)
		want  string
	}{
		{"key returns", func(t *testing.T, d *monitortest.Deployment) {
			d.Publish(t, t0, 1)
			d.Publish(t, t0.Add(day), 2)
			d.Publish(t, t0, 3)
		}, "ALARM: record 2 (serial 3): key "},
		{"hash mismatch", func(t *testing.T, d *monitortest.Deployment) {
			history(t, d)
			dir, sig, err := d.Issuer.Directory(t0.Add(9*day), 2)
			if err != nil {
				t.Fatal(err)
			}
			d.SetArchive(2, dir, sig)
		}, "ALARM: record 1 (serial 2): hash mismatch: "},
		{"bad root signature", func(t *testing.T, d *monitortest.Deployment) {
			history(t, d)
			dir, sig := d.Archive(3)
			sig = bytes.Clone(sig)
			sig[63] ^= 0x40
			d.SetArchive(3, dir, sig)
		}, "ALARM: record 2 (serial 3): bad root signature"},
		{"missing archive", func(t *testing.T, d *monitortest.Deployment) {
			history(t, d)
			d.SetArchive(1, nil, nil)
		}, "ALARM: record 0 (serial 1): archive missing: directory/1: the issuer answered 404"},
		{"too few cosignatures", func(t *testing.T, d *monitortest.Deployment) {
			history(t, d)
			d.Cosign(t, 1)
		}, "ALARM: checkpoint: not signed by the pinned log key and cosigned by a quorum"},
		{"serial does not increase", func(t *testing.T, d *monitortest.Deployment) {
			d.Publish(t, t0, 5)
			d.Publish(t, t0.Add(day), 5)
		}, "ALARM: record 1 (serial 5): the serial does not increase"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := monitortest.New(t)
			tc.setup(t, d)
			r := runMonitor(t, "-issuer", d.URL(), "-trust", trustFile(t, d))
			if r.code != 1 || !strings.Contains(r.stdout, tc.want) {
				t.Errorf("exit %d, want 1 and %q on stdout", r.code, tc.want)
			}
		})
	}
}

func TestRewrittenLog(t *testing.T) {
	d := monitortest.New(t)
	history(t, d)
	trust := trustFile(t, d)
	state := filepath.Join(t.TempDir(), "monitor.state")
	if r := runMonitor(t, "-issuer", d.URL(), "-trust", trust, "-state", state); r.code != 0 {
		t.Fatalf("first run: exit %d", r.code)
	}
	before, _ := os.ReadFile(state)
	f := d.Fork(t)
	for i := range 3 {
		f.Publish(t, t0.Add(time.Duration(10+i)*day), uint64(i+1))
	}
	r := runMonitor(t, "-issuer", f.URL(), "-trust", trust, "-state", state)
	if r.code != 1 || !strings.Contains(r.stdout, "ALARM: checkpoint: inconsistent with the checkpoint verified before (3 records") {
		t.Errorf("exit %d, want 1 and an inconsistency alarm", r.code)
	}
	after, _ := os.ReadFile(state)
	var b, a map[string]any
	json.Unmarshal(before, &b)
	json.Unmarshal(after, &a)
	if b["checkpoint"] != a["checkpoint"] || a["alarms"] != 1.0 {
		t.Errorf("the state moved to the rewritten log, or forgot the alarm: %s", after)
	}
	// Every later run against the fork alarms again.
	if r := runMonitor(t, "-issuer", f.URL(), "-trust", trust, "-state", state); r.code != 1 {
		t.Errorf("second run against the fork: exit %d", r.code)
	}
}

func TestJSON(t *testing.T) {
	d := monitortest.New(t)
	history(t, d)
	r := runMonitor(t, "-issuer", d.URL(), "-trust", trustFile(t, d), "-json")
	var report struct {
		Versions []struct {
			Serial uint64
			Epochs []struct {
				Keys []struct {
					StatusName string `json:"status_name"`
				}
			}
		}
		Alarms int
	}
	if err := json.Unmarshal([]byte(r.stdout), &report); err != nil || r.code != 0 {
		t.Fatalf("exit %d, %v", r.code, err)
	}
	if len(report.Versions) != 3 || report.Versions[2].Serial != 3 || report.Versions[0].Epochs[0].Keys[1].StatusName != "positive" {
		t.Errorf("report %+v", report)
	}
}

func TestUnreachable(t *testing.T) {
	d := monitortest.New(t)
	trust := trustFile(t, d)
	d.Server.Close()
	r := runMonitor(t, "-issuer", d.URL(), "-trust", trust)
	if r.code != 1 || !strings.Contains(r.stderr, "audit incomplete") {
		t.Errorf("exit %d, want 1 and an error", r.code)
	}
}

func TestUsage(t *testing.T) {
	d := monitortest.New(t)
	d.Publish(t, t0, 1)
	trust := trustFile(t, d)
	dir := t.TempDir()
	badTrust := filepath.Join(dir, "bad.txt")
	os.WriteFile(badTrust, []byte("root AAAA\n"), 0o644)
	badState := filepath.Join(dir, "bad.state")
	os.WriteFile(badState, []byte("{}"), 0o600)
	otherState := filepath.Join(dir, "other.state")
	other := monitortest.New(t)
	other.Publish(t, t0, 1)
	if r := runMonitor(t, "-issuer", other.URL(), "-trust", trustFile(t, other), "-state", otherState); r.code != 0 {
		t.Fatalf("other log: exit %d", r.code)
	}
	for _, args := range [][]string{
		{},
		{"-issuer", d.URL()},
		{"-trust", trust},
		{"-issuer", "ftp://example.org", "-trust", trust},
		{"-issuer", d.URL(), "-trust", filepath.Join(dir, "missing.txt")},
		{"-issuer", d.URL(), "-trust", badTrust},
		{"-issuer", d.URL(), "-trust", trust, "-state", badState},
		{"-issuer", d.URL(), "-trust", trust, "-state", otherState},
		{"-issuer", d.URL(), "-trust", trust, "extra"},
		{"-issuer", d.URL(), "-trust", trust, "-log-level", "loud"},
		{"-issuer", d.URL(), "-trust", trust, "-timeout", "0s"},
		{"-no-such-flag"},
	} {
		if r := runMonitor(t, args...); r.code != 2 {
			t.Errorf("monitor %q: exit %d, want 2", args, r.code)
		}
	}
	r := runMonitor(t, "-h")
	if r.code != 0 || !strings.Contains(r.stderr, "usage: monitor") || !strings.Contains(r.stderr, "  -timeout duration\n") {
		t.Errorf("-h: exit %d", r.code)
	}
	// Every line of the help fits in 80 columns, without tabs.
	for i, line := range strings.Split(r.stderr, "\n") {
		if n := len([]rune(line)); n > 80 || strings.Contains(line, "\t") {
			t.Errorf("-h: line %d is %d columns or has a tab: %q", i+1, n, line)
		}
	}
}
