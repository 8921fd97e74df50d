package monitor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/monitor"
	"github.com/statustoken/statustoken/examples/deploy/internal/monitor/monitortest"
	"github.com/statustoken/statustoken/token"
)

// epoch0 is the start of t0's epoch, as decision records carry it.
var epoch0 = t0.Truncate(monitortest.EpochLength)

// decide has d's issuer take n decisions at now under serial 1.
func decide(t *testing.T, d *monitortest.Deployment, now time.Time, n int, outcome token.Outcome, reason uint16, evidence bool) {
	t.Helper()
	for range n {
		d.Decide(t, now, 1, outcome, reason, evidence)
	}
}

// counts returns an epoch's tally as "outcome/reason/evidence=count"
// lines, in the report's order.
func counts(e monitor.EpochTallyReport) string {
	var b strings.Builder
	for _, c := range e.Counts {
		ev := "no"
		if c.Evidence {
			ev = "yes"
		}
		b.WriteString(c.OutcomeName + "/" + c.ReasonText + "/" + ev + "=" + strconv.FormatInt(c.Count, 10) + "\n")
	}
	return b.String()
}

// TestDecisionTallies: the monitor counts the decision log's records per
// epoch by (outcome, reason, evidence), names them as the directory in
// force does, and continues from its state in the next run.
func TestDecisionTallies(t *testing.T) {
	d := monitortest.NewWithDecisions(t)
	d.Publish(t, t0, 1)
	decide(t, d, t0, 5, token.Refused, 3, false)
	decide(t, d, t0, 3, 1, 1, true)
	decide(t, d, t0, 1, 2, 1, true)
	decide(t, d, t0, 1, token.Refused, 2, true)
	decide(t, d, t0.Add(day), 2, token.Refused, 2, false)
	d.CosignDecisions(t, 2)

	r, out := run(t, d, nil)
	clean(t, r)
	dr := r.Decisions
	if dr == nil || dr.Checkpoint == nil || !dr.Checkpoint.Verified || dr.Start != 0 || dr.End != 12 || len(dr.Epochs) != 2 {
		t.Fatalf("decision report %+v", dr)
	}
	want := "refused/no test on record/yes=1\nrefused/administrative/no=5\nnegative/test result/yes=3\npositive/test result/yes=1\n"
	if got := counts(dr.Epochs[0]); got != want || !dr.Epochs[0].Epoch.Equal(epoch0) || dr.Epochs[0].Records != 10 {
		t.Errorf("epoch %v, %d records, tally:\n%swant:\n%s", dr.Epochs[0].Epoch, dr.Epochs[0].Records, got, want)
	}
	if got := counts(dr.Epochs[1]); got != "refused/no test on record/no=2\n" {
		t.Errorf("second epoch's tally:\n%s", got)
	}
	for _, line := range []string{
		"decisions checkpoint " + monitortest.DecisionOrigin + ": 12 records, ",
		"decisions in epoch 2026-11-26T00:00:00Z..2026-11-27T00:00:00Z: 10 records, all runs\n",
		`  refused   reason 3 "administrative"     no evidence  5` + "\n",
		`  negative  reason 1 "test result"        evidence     3` + "\n",
		"decisions: records 0..11 counted\n",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q", line)
		}
	}

	// The next run counts only the new records, on top of the earlier.
	decide(t, d, t0, 2, token.Refused, 3, false)
	d.CosignDecisions(t, 2)
	r, out = run(t, d, roundTrip(t, r.State))
	clean(t, r)
	dr = r.Decisions
	if dr.Start != 12 || dr.End != 14 || len(dr.Epochs) != 1 || dr.Checkpoint.PreviousSize != 12 {
		t.Fatalf("second run: %+v", dr)
	}
	if got := counts(dr.Epochs[0]); !strings.Contains(got, "refused/administrative/no=7\n") || dr.Epochs[0].Records != 12 {
		t.Errorf("second run's tally:\n%s", got)
	}
	if !strings.Contains(out, "decisions: extends the checkpoint of 12 records") {
		t.Errorf("no consistency line")
	}
	// Nothing new: no tally printed, nothing counted twice.
	r, out = run(t, d, roundTrip(t, r.State))
	clean(t, r)
	if len(r.Decisions.Epochs) != 0 || !strings.Contains(out, "decisions: no new records") {
		t.Errorf("third run: %+v", r.Decisions)
	}
	if n := r.State.Decisions.Tallies[0].Counts; len(n) != 4 {
		t.Errorf("state tally %+v", n)
	}
}

// TestDecisionAlarms: each record that the policy in force in its epoch
// does not allow, and each decision checkpoint that does not verify, is
// an alarm.
func TestDecisionAlarms(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, d *monitortest.Deployment)
		want  string
	}{
		{"reason not in the policy", func(t *testing.T, d *monitortest.Deployment) {
			d.AppendDecision(t, monitortest.DecisionRecord(epoch0, token.Refused, 9, false))
		}, `epoch 2026-11-26T00:00:00Z: reason 9 is not in the decision policy in force \(outcome refused\)`},
		{"reason cannot lead to the outcome", func(t *testing.T, d *monitortest.Deployment) {
			d.AppendDecision(t, monitortest.DecisionRecord(epoch0, 1, 3, false))
		}, `epoch 2026-11-26T00:00:00Z: reason 3 \("administrative"\) cannot lead to outcome negative`},
		{"outcome that is no status", func(t *testing.T, d *monitortest.Deployment) {
			d.AppendDecision(t, monitortest.DecisionRecord(epoch0, 7, 1, true))
		}, `.*reason 1 \("test result"\) cannot lead to outcome status-7`},
		{"evidence required, none presented", func(t *testing.T, d *monitortest.Deployment) {
			d.AppendDecision(t, monitortest.DecisionRecord(epoch0, 2, 1, false))
		}, `.*reason 1 \("test result"\) requires evidence, but the record of outcome positive says none was presented`},
		{"epoch without a policy", func(t *testing.T, d *monitortest.Deployment) {
			d.AppendDecision(t, monitortest.DecisionRecord(epoch0.Add(30*day), token.Refused, 3, false))
		}, `epoch 2026-12-26T00:00:00Z: no verified directory with a decision policy lists keys for this epoch`},
		{"not a decision record", func(t *testing.T, d *monitortest.Deployment) {
			d.AppendDecision(t, []byte("not a record"))
		}, `not a decision record \(12 bytes\)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := monitortest.NewWithDecisions(t)
			d.Publish(t, t0, 1)
			decide(t, d, t0, 2, token.Refused, 3, false)
			tc.setup(t, d)
			d.CosignDecisions(t, 2)
			r, out := run(t, d, nil)
			wantAlarm(t, r, out, 1, tc.want)
			if f := r.Findings[0]; f.Decision == nil || *f.Decision != 2 || !strings.Contains(out, "\nALARM: decision record 2: ") {
				t.Errorf("the alarm does not name decision record 2: %+v", f)
			}
			// The valid records are counted all the same.
			if got := counts(r.Decisions.Epochs[0]); !strings.Contains(got, "refused/administrative/no=2\n") {
				t.Errorf("tally:\n%s", got)
			}
		})
	}
}

func TestDecisionCheckpointAlarms(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, d *monitortest.Deployment)
		want  string
	}{
		{"too few cosignatures", func(t *testing.T, d *monitortest.Deployment) {
			d.CosignDecisions(t, 1)
		}, `decisions: checkpoint: not signed by the directory's decision log key and cosigned by a quorum`},
		{"no checkpoint", func(t *testing.T, d *monitortest.Deployment) {
			d.SetDecisionCheckpoint(nil)
		}, `decisions: the directory publishes a decision policy, but the issuer does not serve its decision log's checkpoint`},
		{"signed by the directory log's key", func(t *testing.T, d *monitortest.Deployment) {
			d.SetDecisionCheckpoint(d.DecisionCheckpointOf(t, d.LogKey))
		}, `decisions: checkpoint: not signed by the directory's decision log key`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := monitortest.NewWithDecisions(t)
			d.Publish(t, t0, 1)
			decide(t, d, t0, 2, token.Refused, 3, false)
			d.CosignDecisions(t, 2)
			tc.setup(t, d)
			r, out := run(t, d, nil)
			wantAlarm(t, r, out, 1, tc.want)
			if len(r.Decisions.Epochs) != 0 || r.State.Decisions.Next != 0 {
				t.Errorf("records counted under a refused checkpoint: %+v", r.Decisions)
			}
		})
	}
}

// TestDecisionLogRewritten: a decision log whose new checkpoint does not
// extend the one verified before is an alarm, and the state stays.
func TestDecisionLogRewritten(t *testing.T) {
	d := monitortest.NewWithDecisions(t)
	d.Publish(t, t0, 1)
	decide(t, d, t0, 3, token.Refused, 3, false)
	d.CosignDecisions(t, 2)
	r, _ := run(t, d, nil)
	clean(t, r)
	st := roundTrip(t, r.State)
	before := st.Decisions.Checkpoint

	// The same size, other records: those three refusals are gone.
	d.ForkDecisions()
	decide(t, d, t0, 3, 1, 1, true)
	d.CosignDecisions(t, 2)
	r, out := run(t, d, st)
	wantAlarm(t, r, out, 1, `decisions checkpoint: inconsistent with the checkpoint verified before \(3 records, root hash .*another tree of the same size`)
	// A larger tree whose first records differ.
	decide(t, d, t0, 2, 1, 1, true)
	d.CosignDecisions(t, 2)
	r, out = run(t, d, st)
	wantAlarm(t, r, out, 1, `decisions checkpoint: inconsistent .*its first 3 records hash to `)
	if r.State.Decisions.Checkpoint != before || r.State.Decisions.Next != 3 {
		t.Errorf("the state moved to the rewritten decision log")
	}
}

// TestDecisionFindingsBounded: past maxDecisionFindings, alarms about
// decision records are counted, not listed.
func TestDecisionFindingsBounded(t *testing.T) {
	d := monitortest.NewWithDecisions(t)
	d.Publish(t, t0, 1)
	const n = 1010
	for range n {
		d.AppendDecision(t, monitortest.DecisionRecord(epoch0, token.Refused, 9, false))
	}
	d.CosignDecisions(t, 2)
	var out bytes.Buffer
	r, err := monitor.Run(context.Background(), monitor.Config{Issuer: d.URL(), Trust: d.Trust}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Alarms != n || len(r.Findings) != 1000 || r.Decisions.Suppressed != 10 || r.Decisions.Epochs[0].Unlisted != n {
		t.Errorf("%d alarms, %d findings, %d suppressed", r.Alarms, len(r.Findings), r.Decisions.Suppressed)
	}
	if !regexp.MustCompile(`(?m)^decisions: records 0\.\.1009 counted, 10 more alarms about decision records not listed$`).Match(out.Bytes()) {
		t.Errorf("output lacks the count of unlisted alarms")
	}
}

// TestNoDecisionPolicy: an issuer without a decision policy has no
// decision log to replay, and the report says nothing about one.
func TestNoDecisionPolicy(t *testing.T) {
	d := monitortest.New(t)
	d.Publish(t, t0, 1)
	r, out := run(t, d, nil)
	clean(t, r)
	if r.Decisions != nil || strings.Contains(out, "decisions") {
		t.Errorf("decisions reported without a policy: %+v", r.Decisions)
	}
}

// TestDecisionJSON: the JSON report carries the tallies with the
// outcome's name and the reason's text.
func TestDecisionJSON(t *testing.T) {
	d := monitortest.NewWithDecisions(t)
	d.Publish(t, t0, 1)
	decide(t, d, t0, 2, token.Refused, 3, false)
	d.CosignDecisions(t, 2)
	var out bytes.Buffer
	if _, err := monitor.Run(context.Background(), monitor.Config{Issuer: d.URL(), Trust: d.Trust, JSON: true}, &out); err != nil {
		t.Fatal(err)
	}
	var report struct {
		Decisions struct {
			Checkpoint struct {
				Origin   string
				Verified bool
			}
			Epochs []struct {
				Epoch   time.Time
				Records int64
				Counts  []struct {
					OutcomeName string `json:"outcome_name"`
					Reason      uint16
					ReasonText  string `json:"reason_text"`
					Evidence    bool
					Count       int64
				}
			}
		}
	}
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	dr := report.Decisions
	if dr.Checkpoint.Origin != monitortest.DecisionOrigin || !dr.Checkpoint.Verified || len(dr.Epochs) != 1 || !dr.Epochs[0].Epoch.Equal(epoch0) ||
		len(dr.Epochs[0].Counts) != 1 || dr.Epochs[0].Counts[0].ReasonText != "administrative" || dr.Epochs[0].Counts[0].OutcomeName != "refused" ||
		dr.Epochs[0].Counts[0].Count != 2 {
		t.Errorf("report %s", out.String())
	}
}

// TestDecisionStateChecks: a state whose decision replay or policies are
// damaged is refused.
func TestDecisionStateChecks(t *testing.T) {
	d := monitortest.NewWithDecisions(t)
	d.Publish(t, t0, 1)
	decide(t, d, t0, 1, token.Refused, 3, false)
	decide(t, d, t0.Add(day), 1, token.Refused, 3, false)
	d.CosignDecisions(t, 2)
	r, _ := run(t, d, nil)
	clean(t, r)
	b, err := r.State.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := monitor.ParseState(b); err != nil {
		t.Fatal(err)
	}
	var tallies, policies []string
	for _, e := range r.State.Decisions.Tallies {
		tallies = append(tallies, `"epoch": `+strconv.FormatUint(uint64(e.Epoch), 10))
	}
	for _, p := range r.State.Policies {
		policies = append(policies, `"epoch": `+strconv.FormatUint(uint64(p.Epoch), 10))
	}
	if len(tallies) != 2 || len(policies) < 2 {
		t.Fatalf("%d tallies, %d policies", len(tallies), len(policies))
	}
	swap := func(s string, a, b string) string {
		return strings.Replace(strings.Replace(strings.Replace(s, a, "\x00", 1), b, a, 1), "\x00", b, 1)
	}
	state := string(b)
	for name, bad := range map[string]string{
		"negative next":      strings.Replace(state, `"next": 2`, `"next": -2`, 1),
		"no log":             regexp.MustCompile(`"log": "[^"]*"`).ReplaceAllString(state, `"log": ""`),
		"negative count":     strings.Replace(state, `"n": 1`, `"n": -1`, 1),
		"tallies unordered":  state[:strings.Index(state, `"tallies"`)] + swap(state[strings.Index(state, `"tallies"`):], tallies[0], tallies[1]),
		"policies unordered": swap(state, policies[0], policies[1]),
	} {
		if bad == state {
			t.Fatalf("%s: the state did not change", name)
		}
		if _, err := monitor.ParseState([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
