package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/litewitnesstest"
)

const henanOrigin = "statustoken.test/henan/directory"

// TestHenan runs the Henan scenario with the real programs on loopback:
// an issuer on Tessera whose attester refuses a list of "depositors"
// green for the reason "administrative", three litewitness witnesses
// that cosign both of its logs, wallets, a scanner and the monitor.
//
//   - each depositor gets a signed refusal (HTTP 403 with a receipt) and,
//     once the batch of decision records is cosigned, its inclusion proof;
//   - each depositor's appeal bundle verifies offline, after the issuer
//     and the witnesses have stopped, with monitor check-appeal and the
//     trust policy alone, and shows the refusal, its reason and the
//     depositor's statement;
//   - the monitor's tally for the epoch shows the refusals by reason, and
//     the grants;
//   - everyone else gets tokens as before, VALID at a scanner.
func TestHenan(t *testing.T) {
	litewitnesstest.Require(t)
	r := &runner{t: t, bin: t.TempDir(), wd: t.TempDir()}
	build(t, r.bin)
	buildMonitor(t, r.bin)

	// The attester's list: holders the issuer grants green, and
	// depositors it refuses with reason 4, "administrative", whatever
	// their test says.
	const greens, depositors = 3, 3
	var greenKeys, depositorKeys []string
	for range greens {
		greenKeys = append(greenKeys, strings.TrimSpace(r.must(nil, "", "issuer", "add-holder", "green").stdout))
	}
	for range depositors {
		depositorKeys = append(depositorKeys, strings.TrimSpace(r.must(nil, "", "issuer", "add-holder", "refused:4").stdout))
	}

	// Both logs' keys, each registered with three witnesses.
	vkeys := strings.Fields(r.must(nil, "", "issuer", "log-key", "-log-origin", henanOrigin).stdout)
	if len(vkeys) != 2 {
		t.Fatalf("issuer log-key printed %q, want the keys of the two logs", vkeys)
	}
	var logs []litewitnesstest.Log
	for _, vkey := range vkeys {
		origin, _, _ := strings.Cut(vkey, "+")
		logs = append(logs, litewitnesstest.Log{Origin: origin, VerifierKey: vkey})
	}
	if logs[0].Origin != henanOrigin || logs[1].Origin == henanOrigin {
		t.Fatalf("log origins %q and %q", logs[0].Origin, logs[1].Origin)
	}
	witnessDir := t.TempDir()
	var witnesses []*litewitnesstest.Witness
	var lines []string
	for i := range 3 {
		dir := filepath.Join(witnessDir, fmt.Sprintf("w%d", i+1))
		os.Mkdir(dir, 0o700)
		k := litewitnesstest.NewKey(t, dir, fmt.Sprintf("w%d.example", i+1))
		w := litewitnesstest.Start(t, r.bin, dir, k, logs...)
		witnesses, lines = append(witnesses, w), append(lines, w.Line())
	}
	os.WriteFile(filepath.Join(r.wd, "witnesses.txt"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	issuer := r.startIssuer("-addr", "127.0.0.1:0", "-witnesses", "witnesses.txt", "-quorum", "2",
		"-log-origin", henanOrigin, "-cosign-every", "10s", "-cosign-retry", "2s", "-witness-timeout", "5s",
		"-decision-interval", "1s", "-decision-log-delay", "1m")
	trust := filepath.Join("issuer-state", "trust.txt")

	// The scanner at the gate loads the directory.
	r.must(nil, "", "scanner", "update", "-issuer", issuer.url, "-trust", trust)

	// Everyone else: tokens, VALID at the scanner.
	for i, key := range greenKeys {
		state := fmt.Sprintf("green-%d", i)
		res := r.must([]string{"STATUSTOKEN_API_KEY=" + key}, "", "wallet", "request", "-state", state, "-issuer", issuer.url, "-trust", trust)
		if !regexp.MustCompile(`\d+ green tokens stored`).MatchString(res.stderr) {
			t.Fatalf("green holder %d: %q", i, res.stderr)
		}
		tok := strings.TrimSpace(r.must(nil, "", "wallet", "show", "-state", state, "-qr=false", "-png", "").stdout)
		if res := r.run(nil, "", "scanner", "-trust", trust, tok); res.code != 0 || !strings.Contains(res.stdout, "VALID: green") {
			t.Fatalf("green holder %d's token at the scanner: %d %q %q", i, res.code, res.stdout, res.stderr)
		}
	}

	// The depositors: a signed refusal each, kept by the wallet.
	statement := func(i int) string {
		return fmt.Sprintf("depositor %d of Yuzhou Xinminsheng Village Bank, case HN-%04d", i, 1317+i)
	}
	for i, key := range depositorKeys {
		state := fmt.Sprintf("depositor-%d", i)
		res := r.run([]string{"STATUSTOKEN_API_KEY=" + key}, "", "wallet", "request", "-state", state, "-issuer", issuer.url, "-trust", trust, "-statement", statement(i))
		if res.code != 1 || !strings.Contains(res.stderr, "refused") || !strings.Contains(res.stderr, "reason 4 administrative") ||
			!strings.Contains(res.stderr, "receipt kept as decision 1") {
			t.Fatalf("depositor %d: exit %d, %q", i, res.code, res.stderr)
		}
		if res := r.must(nil, "", "wallet", "list", "-state", state); strings.Contains(res.stdout, "green") {
			t.Fatalf("depositor %d holds tokens: %q", i, res.stdout)
		}
	}

	// Each depositor's wallet gets its inclusion proof once the batch is
	// cosigned (a decision interval and a cosigning round), and writes
	// the appeal bundle.
	deadline := time.Now().Add(90 * time.Second)
	for i := range depositorKeys {
		state := fmt.Sprintf("depositor-%d", i)
		for {
			res := r.must(nil, "", "wallet", "decisions", "-state", state, "-issuer", issuer.url, "-trust", trust)
			if regexp.MustCompile(`(?m)^1  .*refused: reason 4 administrative  logged$`).MatchString(res.stdout) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("depositor %d's decision is not logged: %q %q", i, res.stdout, res.stderr)
			}
			time.Sleep(500 * time.Millisecond)
		}
		res := r.must(nil, "", "wallet", "appeal", "-state", state, "-o", fmt.Sprintf("appeal-%d.bin", i))
		if !strings.Contains(res.stderr, "with its decision log proof") {
			t.Fatalf("depositor %d's appeal: %q", i, res.stderr)
		}
	}

	// The monitor, as a journalist runs it: the directory log audited,
	// the decision log replayed, and this epoch's tally.
	res := r.must(nil, "", "monitor", "-issuer", issuer.url, "-trust", trust, "-state", "monitor.state")
	t.Logf("monitor:\n%s", res.stdout)
	refusals := regexp.MustCompile(`(?m)^  refused +reason 4 "administrative" +no evidence +(\d+)$`).FindStringSubmatch(res.stdout)
	grants := regexp.MustCompile(`(?m)^  green +reason 1 "negative test result" +no evidence +(\d+)$`).FindStringSubmatch(res.stdout)
	if refusals == nil || refusals[1] != strconv.Itoa(depositors) || grants == nil {
		t.Fatalf("the monitor's tally lacks %d refusals for reason 4 and the grants:\n%s", depositors, res.stdout)
	}
	if n, _ := strconv.Atoi(grants[1]); n < greens {
		t.Fatalf("the tally counts %d grants, want at least %d", n, greens)
	}
	if strings.Contains(res.stdout, "ALARM") || !regexp.MustCompile(`(?m)^decisions in epoch \S+: \d+ records, all runs$`).MatchString(res.stdout) {
		t.Fatalf("monitor:\n%s", res.stdout)
	}
	// A second run counts nothing twice.
	if res := r.must(nil, "", "monitor", "-issuer", issuer.url, "-trust", trust, "-state", "monitor.state"); !strings.Contains(res.stdout, "decisions: no new records") {
		t.Fatalf("second monitor run:\n%s", res.stdout)
	}

	// The appeal body has the bundles and the trust policy, nothing else:
	// the issuer and the witnesses are gone.
	issuer.stop()
	for _, w := range witnesses {
		w.Stop()
	}
	body := &runner{t: t, bin: r.bin, wd: t.TempDir()}
	policy, err := os.ReadFile(filepath.Join(r.wd, trust))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(body.wd, "trust.txt"), policy, 0o644)
	for i := range depositorKeys {
		name := fmt.Sprintf("appeal-%d.bin", i)
		b, err := os.ReadFile(filepath.Join(r.wd, name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(body.wd, name), b, 0o644)
		res := body.must(nil, "", "monitor", "check-appeal", "-trust", "trust.txt", name)
		if i == 0 {
			t.Logf("monitor check-appeal:\n%s", res.stdout)
		}
		for _, want := range []string{
			": VALID: the issuer signed this decision and logged it",
			"decision:      refused\n",
			"reason:        4 \"administrative\" (evidence not required)\n",
			"evidence:      none presented\n",
			fmt.Sprintf("statement:     %q\n", statement(i)),
			"decision log:  the decision's record in " + logs[1].Origin + ", a checkpoint of tree size ",
		} {
			if !strings.Contains(res.stdout, want) {
				t.Errorf("appeal %d: check-appeal lacks %q:\n%s", i, want, res.stdout)
			}
		}
	}
}

// buildMonitor compiles the monitor into dir.
func buildMonitor(t *testing.T, dir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, litewitnesstest.GoTool(t), "build", "-o", dir+string(filepath.Separator),
		"github.com/statustoken/statustoken/examples/deploy/cmd/monitor")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
}
