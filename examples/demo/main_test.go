package main

import "testing"

// TestRun runs the whole demo on a small count: issuance of both suites,
// single and batch verification, and every refusal it shows.
func TestRun(t *testing.T) {
	if err := run(t.Context(), 120, 32); err != nil {
		t.Fatal(err)
	}
}
