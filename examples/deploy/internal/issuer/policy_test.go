package issuer

import (
	"slices"
	"strings"
	"testing"

	"github.com/statustoken/statustoken/token"
)

// TestParseReasons: a reasons file parses into the policy it states, the
// default policy is a valid one, and each malformed line is refused with
// its line number.
func TestParseReasons(t *testing.T) {
	got, err := ParseReasons([]byte("# policy\n\n1 green evidence negative test result\n2 red,refused - positive test result\n4 refused - administrative\n"), testStatuses)
	if err != nil {
		t.Fatal(err)
	}
	want := []token.Reason{
		{Code: 1, Text: "negative test result", Outcomes: []token.Outcome{1}, EvidenceRequired: true},
		{Code: 2, Text: "positive test result", Outcomes: []token.Outcome{token.Refused, 2}},
		{Code: 4, Text: "administrative", Outcomes: []token.Outcome{token.Refused}},
	}
	if !slices.EqualFunc(got, want, func(a, b token.Reason) bool {
		return a.Code == b.Code && a.Text == b.Text && slices.Equal(a.Outcomes, b.Outcomes) && a.EvidenceRequired == b.EvidenceRequired
	}) {
		t.Fatalf("parsed %+v", got)
	}
	if err := checkPolicy(testStatuses, got); err != nil {
		t.Fatalf("the parsed policy: %v", err)
	}
	def := DefaultReasons(testStatuses)
	if err := checkPolicy(testStatuses, def); err != nil || len(def) != 4 || def[3].Text != "administrative" {
		t.Fatalf("default policy %+v: %v", def, err)
	}
	other := []token.StatusName{{Code: 5, Name: "vaccinated"}}
	if err := checkPolicy(other, DefaultReasons(other)); err != nil {
		t.Fatalf("default policy for other statuses: %v", err)
	}
	for _, c := range []struct{ text, want string }{
		{"", "no reasons"},
		{"1 green -\n", "line 1: want CODE OUTCOMES EVIDENCE TEXT"},
		{"0 green - text\n", `line 1: reason code "0"`},
		{"1 green - n\xc3\xa9gatif\n", "line 1: reason text: want at most 200 printable ASCII"},
		{"1 green - <b>\n", "line 1: reason text"},
		{"1 green - " + strings.Repeat("x", 201) + "\n", "line 1: reason text"},
		{"01 green - text\n", `line 1: reason code "01"`},
		{"65536 green - text\n", `line 1: reason code "65536"`},
		{"2 green - a\n1 red - b\n", "line 2: reason codes must increase"},
		{"1 purple - text\n", `line 1: outcome "purple"`},
		{"1 green,green - text\n", "line 1: an outcome is listed twice"},
		{"1 green maybe text\n", `line 1: evidence "maybe"`},
	} {
		if _, err := ParseReasons([]byte(c.text), testStatuses); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.text, err, c.want)
		}
	}
	// A text the directory cannot carry is refused by Check.
	cfg := testConfig(t)
	cfg.Reasons = []token.Reason{{Code: 1, Text: "a <b>", Outcomes: []token.Outcome{1}}}
	if err := cfg.checkService(); err == nil || !strings.Contains(err.Error(), "-reasons") {
		t.Fatalf("a reason text with <: %v", err)
	}
}

// TestHolderDecisions: the holders file's decisions, with their reasons,
// and the ones the policy does not allow.
func TestHolderDecisions(t *testing.T) {
	reasons := DefaultReasons(testStatuses)
	for v, want := range map[string]Attestation{
		"green":     {Status: 1},
		"red:2":     {Status: 2, Reason: 2},
		"refused":   {Status: 0},
		"refused:4": {Status: 0, Reason: 4},
	} {
		if got, err := parseDecision(v, testStatuses, reasons); err != nil || got != want {
			t.Errorf("%q: %+v %v, want %+v", v, got, err, want)
		}
	}
	for v, msg := range map[string]string{
		"purple":    "unknown status",
		"green:4":   "no reason 4 for green",
		"refused:9": "no reason 9",
		"green:0":   "from 1 to 65535",
		"green:x":   "from 1 to 65535",
	} {
		if _, err := parseDecision(v, testStatuses, reasons); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want %q", v, err, msg)
		}
	}
	if _, err := parseDecision("red", testStatuses, reasons[:1]); err == nil {
		t.Error("red accepted under a policy without a reason for it")
	}
}
