package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/statustoken/statustoken/examples/deploy/internal/monitor/monitortest"
	"github.com/statustoken/statustoken/token"
)

// TestDecisionTally: the program prints each epoch's tally, keeps it in
// the state, and exits 1 on a decision the policy does not allow.
func TestDecisionTally(t *testing.T) {
	d := monitortest.NewWithDecisions(t)
	d.Publish(t, t0, 1)
	for range 4 {
		d.Decide(t, t0, 1, token.Refused, 3, false)
	}
	d.Decide(t, t0, 1, 1, 1, true)
	d.CosignDecisions(t, 2)
	trust := trustFile(t, d)
	state := filepath.Join(t.TempDir(), "monitor.state")
	r := runMonitor(t, "-issuer", d.URL(), "-trust", trust, "-state", state)
	for _, want := range []string{
		"decisions in epoch 2026-11-26T00:00:00Z..2026-11-27T00:00:00Z: 5 records, all runs\n",
		"  refused   reason 3 \"administrative\"  no evidence  4\n",
		"  negative  reason 1 \"test result\"     evidence     1\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	// A refusal that cites a reason for grants only.
	d.AppendDecision(t, monitortest.DecisionRecord(t0.Truncate(day), token.Refused, 1, true))
	d.CosignDecisions(t, 2)
	r = runMonitor(t, "-issuer", d.URL(), "-trust", trust, "-state", state)
	if r.code != 1 || !strings.Contains(r.stdout, "ALARM: decision record 5: epoch 2026-11-26T00:00:00Z: reason 1 (\"test result\") cannot lead to outcome refused\n") ||
		!strings.Contains(r.stdout, "  refused   reason 1 \"test result\"     evidence     1\n") ||
		!strings.Contains(r.stdout, "  refused   reason 3 \"administrative\"  no evidence  4\n") {
		t.Errorf("exit %d, want 1, the alarm and the tally of both runs", r.code)
	}
}
