package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/statustoken/statustoken/examples/deploy/internal/monitor/monitortest"
	"github.com/statustoken/statustoken/token"
)

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	name = filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestCheckAppeal(t *testing.T) {
	d := monitortest.NewWithDecisions(t)
	d.Publish(t, t0, 1)
	bundle := d.Appeal(t, t0, 1, token.Refused, 3, false, "Li Wei, depositor", true)
	trust := trustFile(t, d)
	r := runMonitor(t, "check-appeal", "-trust", trust, writeFile(t, "appeal.bin", bundle))
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	for _, want := range []string{
		": VALID: the issuer signed this decision and logged it",
		"decision:      refused\n",
		"reason:        3 \"administrative\" (evidence not required)\n",
		"evidence:      none presented\n",
		"epoch:         2026-11-26T00:00:00Z..2026-11-27T00:00:00Z\n",
		"statement:     \"Li Wei, depositor\"\n",
		"directory log: serial 1 in " + monitortest.Origin + ", a checkpoint of tree size 1 cosigned by w1.example at ",
		"decision log:  the decision's record in " + monitortest.DecisionOrigin + ", a checkpoint of tree size 1 cosigned by w1.example at ",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}

	// A grant with evidence says so.
	bundle = d.Appeal(t, t0, 1, 1, 1, true, "", true)
	r = runMonitor(t, "check-appeal", "-trust", trust, writeFile(t, "grant.bin", bundle))
	if r.code != 0 || !strings.Contains(r.stdout, "decision:      negative\n") || !strings.Contains(r.stdout, "evidence:      presented, SHA-256 ") ||
		!strings.Contains(r.stdout, "(evidence required)") {
		t.Errorf("grant: exit %d", r.code)
	}
}

// TestCheckAppealNotLogged: a valid receipt whose record the bundle does
// not prove in the decision log is reported as not logged, with what the
// receipt says: evidence against the issuer.
func TestCheckAppealNotLogged(t *testing.T) {
	d := monitortest.NewWithDecisions(t)
	d.Publish(t, t0, 1)
	d.Decide(t, t0, 1, 1, 1, true)
	d.CosignDecisions(t, 2)
	bundle := d.Appeal(t, t0, 1, token.Refused, 3, false, "Zhang San", false)
	// The bundle without a decision proof, as the wallet writes it, and
	// with the proof of another record.
	a, err := token.ParseAppeal(bundle)
	if err != nil {
		t.Fatal(err)
	}
	other := d.Appeal(t, t0, 1, 1, 1, true, "", true)
	o, err := token.ParseAppeal(other)
	if err != nil {
		t.Fatal(err)
	}
	a.DecisionProof = o.DecisionProof
	wrong, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{bundle, wrong} {
		r := runMonitor(t, "check-appeal", "-trust", trustFile(t, d), writeFile(t, "appeal.bin", b))
		if r.code != 1 {
			t.Errorf("exit %d, want 1", r.code)
		}
		for _, want := range []string{
			": NOT LOGGED: the receipt is signed by the issuer's decision key and opened by its holder, but the bundle does not prove its record in the decision log (",
			"is evidence against the issuer",
			"reason:        3 \"administrative\"",
			"the directory's decision log delay is 1h0m0s\n",
			"statement:     \"Zhang San\"\n",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("stdout lacks %q", want)
			}
		}
		if strings.Contains(r.stdout, "VALID") {
			t.Errorf("an unlogged decision reported as valid")
		}
	}
}

func TestCheckAppealInvalid(t *testing.T) {
	d := monitortest.NewWithDecisions(t)
	d.Publish(t, t0, 1)
	bundle := d.Appeal(t, t0, 1, token.Refused, 3, false, "Li Wei", true)
	encode := func(f func(a *token.Appeal)) []byte {
		b, _ := token.ParseAppeal(bundle)
		f(b)
		out, err := b.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	other := monitortest.NewWithDecisions(t)
	for _, tc := range []struct {
		name   string
		bundle []byte
		trust  *monitortest.Deployment
		want   string
	}{
		{"truncated", bundle[:len(bundle)-1], d, "malformed appeal bundle"},
		{"extended", append(append([]byte(nil), bundle...), 0), d, "malformed appeal bundle"},
		{"too long", make([]byte, token.MaxAppealSize+1), d, "longer than"},
		{"receipt signature", encode(func(a *token.Appeal) { a.Receipt[len(a.Receipt)-1] ^= 1 }), d, "receipt signature invalid"},
		{"another statement", encode(func(a *token.Appeal) { a.Opening.Statement = []byte("Li Wel") }), d, "opening does not match"},
		{"another trust policy", bundle, other, "NOT VALID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runMonitor(t, "check-appeal", "-trust", trustFile(t, tc.trust), writeFile(t, "appeal.bin", tc.bundle))
			if r.code != 1 || !strings.Contains(r.stdout, "NOT VALID") || !strings.Contains(r.stdout, tc.want) {
				t.Errorf("exit %d, want 1 and NOT VALID ... %q", r.code, tc.want)
			}
		})
	}

	trust := trustFile(t, d)
	for _, args := range [][]string{
		{"check-appeal"},
		{"check-appeal", "-trust", trust},
		{"check-appeal", writeFile(t, "a.bin", bundle)},
		{"check-appeal", "-trust", trust, filepath.Join(t.TempDir(), "missing.bin")},
		{"check-appeal", "-trust", trust, "a", "b"},
		{"check-appeal", "-trust", writeFile(t, "bad.txt", []byte("root AAAA\n")), writeFile(t, "a.bin", bundle)},
	} {
		if r := runMonitor(t, args...); r.code != 2 {
			t.Errorf("monitor %q: exit %d, want 2", args, r.code)
		}
	}
	if r := runMonitor(t, "check-appeal", "-h"); r.code != 0 || !strings.Contains(r.stderr, "usage: monitor check-appeal -trust FILE BUNDLE") {
		t.Errorf("-h: exit %d", r.code)
	}
}
