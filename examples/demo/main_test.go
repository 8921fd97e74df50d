package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestRun runs the whole demo on a small count: issuance of both suites,
// single and batch verification, every refusal it shows, and the split
// view; it ends with the verdict.
func TestRun(t *testing.T) {
	var b bytes.Buffer
	if err := run(t.Context(), &output{w: &b}, 120, 32); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"1. The issuer publishes", "rsabssa", "ed25519", "the split serial 2\n   was refused",
		"verdict: OK: 240 tokens issued, 480 verifications accepted, 8 bad tokens and 2\n  split-view directories refused"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for i, line := range strings.Split(out, "\n") {
		if len(line) > 80 && !strings.HasPrefix(strings.TrimSpace(line), "HT1:") {
			t.Errorf("line %d is %d columns: %q", i+1, len(line), line)
		}
	}
}
