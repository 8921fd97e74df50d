package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
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

// TestProgress: on a terminal a long step's progress is one line rewritten
// in place, ended by the step's result; in a pipe or a file there is no
// progress line at all, however long the step takes.
func TestProgress(t *testing.T) {
	long := time.Now().Add(-time.Minute)
	var piped bytes.Buffer
	p := &output{w: &piped}
	for i := range 100 {
		p.progress("   issuing", i*100, 10000, long)
	}
	p.rate("issued", 10000, time.Second)
	if got := strings.Count(piped.String(), "\n"); got != 1 || strings.Contains(piped.String(), " of ") {
		t.Errorf("piped output has %d lines, want only the result:\n%s", got, piped.String())
	}
	var term bytes.Buffer
	o := &output{w: &term, terminal: true}
	for i := range 100 {
		o.progress("   issuing", i*100, 10000, long)
	}
	o.rate("issued", 10000, time.Second)
	out := term.String()
	if got := strings.Count(out, "\n"); got != 1 || strings.Count(out, "\r\033[K") != 101 {
		t.Errorf("terminal output: %d lines, %d rewrites, want 1 and 101: %q", got, strings.Count(out, "\r\033[K"), out)
	}
}
