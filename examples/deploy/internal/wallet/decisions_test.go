package wallet

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/directory"
	"github.com/statustoken/statustoken/examples/deploy/internal/wallet/wallettest"
	"github.com/statustoken/statustoken/token"
)

// decisionsAt runs Decisions against f at the time now (the real time
// when zero) and returns its stdout and stderr.
func decisionsAt(t *testing.T, f *wallettest.Issuer, state string, now time.Time) (string, string, error) {
	t.Helper()
	trust, err := directory.LoadTrust(f.Trust)
	if err != nil {
		t.Fatal(err)
	}
	u, err := directory.IssuerURL(f.URL())
	if err != nil {
		t.Fatal(err)
	}
	e, stdout, stderr := testEnv(now)
	err = Decisions(t.Context(), e, RequestOptions{State: state, Issuer: u, Trust: trust})
	return stdout.String(), stderr.String(), err
}

// storedDecisions returns the decisions stored in state.
func storedDecisions(t *testing.T, state string) []*decision {
	t.Helper()
	s, err := Open(state)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ds, err := s.loadDecisions()
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// appeal writes the appeal bundle of decision n of state and returns it,
// with what token.CheckAppeal finds in it under f's trust policy.
func appeal(t *testing.T, f *wallettest.Issuer, state string, n int) ([]byte, *token.Finding, error) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "appeal.bin")
	e, _, _ := testEnv(time.Time{})
	if err := Appeal(e, AppealOptions{State: state, Decision: n, Out: out}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("appeal bundle mode %04o, want 0600", fi.Mode().Perm())
	}
	bundle, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	finding, err := token.CheckAppeal(bundle, f.TrustPolicy())
	return bundle, finding, err
}

func TestRequestKeepsReceipt(t *testing.T) {
	f := wallettest.NewDecisions(t)
	state := filepath.Join(t.TempDir(), "w")
	const statement = "Li Wei, 1990-03-14"
	stderr, err := request(t, f, state, 1, func(o *RequestOptions) { o.Statement = statement })
	if err != nil {
		t.Fatal(err)
	}
	// Exactly the directory's tokens_per_request, whatever -n says.
	if got := f.GotCounts(); !slices.Equal(got, []int{wallettest.TokensPerRequest}) {
		t.Fatalf("requests asked for %v tokens, want [%d]", got, wallettest.TokensPerRequest)
	}
	if n := unusedTokens(t, state); n != wallettest.TokensPerRequest {
		t.Fatalf("%d tokens stored, want %d", n, wallettest.TokensPerRequest)
	}
	if !strings.Contains(stderr, "receipt kept as decision 1 (green: reason 1 Negative test result)") {
		t.Fatalf("stderr: %s", stderr)
	}
	fi, err := os.Stat(filepath.Join(state, DecisionsFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("decisions file: %v, %v", fi, err)
	}
	ds := storedDecisions(t, state)
	if len(ds) != 1 || ds[0].receipt.Outcome != 1 || string(ds[0].opening.Statement) != statement || ds[0].receipt.Commitment != ds[0].opening.Commitment() || len(ds[0].proof) != 0 {
		t.Fatalf("decisions %+v", ds)
	}

	// The next contact with the issuer fetches the proof and keeps it.
	if _, err := request(t, f, state, 1); err != nil {
		t.Fatal(err)
	}
	ds = storedDecisions(t, state)
	if len(ds) != 2 || len(ds[0].proof) == 0 {
		t.Fatalf("after the second request: %d decisions, proof of the first %d bytes", len(ds), len(ds[0].proof))
	}
	stdout, _, err := decisionsAt(t, f, state, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "green: reason 1 Negative test result  logged") || !strings.HasSuffix(lines[1], "logged") {
		t.Fatalf("decisions:\n%s", stdout)
	}

	_, finding, err := appeal(t, f, state, 1)
	if err != nil {
		t.Fatal(err)
	}
	if finding.OutcomeName != "green" || string(finding.Statement) != statement || finding.Receipt.Commitment != ds[0].receipt.Commitment {
		t.Fatalf("finding %+v", finding)
	}
}

func TestRequestRefusedWithReceipt(t *testing.T) {
	f := wallettest.NewDecisions(t)
	state := filepath.Join(t.TempDir(), "w")
	f.Refuse = wallettest.Administrative
	stderr, err := request(t, f, state, 3)
	if !errors.Is(err, ErrRefused) || err.Error() != "refused: reason 4 Administrative; receipt kept as decision 1: appeal with 'wallet appeal -decision 1 -o FILE'" {
		t.Fatalf("refusal: %v", err)
	}
	if !strings.Contains(stderr, "wallet: the issuer says: refused: Administrative (reason 4)\n") {
		t.Fatalf("stderr: %s", stderr)
	}
	if n := unusedTokens(t, state); n != 0 {
		t.Fatalf("%d tokens stored", n)
	}
	ds := storedDecisions(t, state)
	if len(ds) != 1 || ds[0].receipt.Outcome != token.Refused || ds[0].receipt.Reason != wallettest.Administrative {
		t.Fatalf("decisions %+v", ds)
	}
	if _, _, err := decisionsAt(t, f, state, time.Time{}); err != nil {
		t.Fatal(err)
	}
	_, finding, err := appeal(t, f, state, 0)
	if err != nil {
		t.Fatal(err)
	}
	if finding.OutcomeName != "refused" || finding.ReasonText != "Administrative" || string(finding.Statement) != DefaultStatement {
		t.Fatalf("finding %+v", finding)
	}
}

func TestRequestRefusesBadReceipt(t *testing.T) {
	for _, c := range []struct {
		name string
		set  func(f *wallettest.Issuer)
		want error
	}{
		{"missing", func(f *wallettest.Issuer) { f.OmitReceipt = true }, token.ErrMalformedReceipt},
		{"missing-on-refusal", func(f *wallettest.Issuer) { f.OmitReceipt, f.Refuse = true, wallettest.Administrative }, token.ErrMalformedReceipt},
		{"badly-signed", func(f *wallettest.Issuer) { f.CorruptReceipt = true }, token.ErrReceiptSignature},
		{"another-request", func(f *wallettest.Issuer) {
			f.ForgeReceipt = func(r *token.Receipt) { r.RequestSHA256[0] ^= 1 }
		}, token.ErrReceiptMismatch},
		{"another-commitment", func(f *wallettest.Issuer) {
			f.ForgeReceipt = func(r *token.Receipt) { r.Commitment[0] ^= 1 }
		}, token.ErrReceiptMismatch},
		{"reason-not-for-grant", func(f *wallettest.Issuer) {
			f.ForgeReceipt = func(r *token.Receipt) { r.Reason = 2 }
		}, token.ErrReceiptReason},
		{"reason-not-for-refusal", func(f *wallettest.Issuer) {
			f.Refuse = wallettest.Administrative
			f.ForgeReceipt = func(r *token.Receipt) { r.Reason = wallettest.Granted }
		}, token.ErrReceiptReason},
		{"reason-not-listed", func(f *wallettest.Issuer) {
			f.Refuse = wallettest.Administrative
			f.ForgeReceipt = func(r *token.Receipt) { r.Reason = 9 }
		}, token.ErrReceiptReason},
		{"evidence-claimed", func(f *wallettest.Issuer) {
			f.Refuse = wallettest.Administrative
			f.ForgeReceipt = func(r *token.Receipt) { r.Evidence, r.EvidenceSHA256[0] = true, 1 }
		}, token.ErrReceiptMismatch},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := wallettest.NewDecisions(t)
			state := filepath.Join(t.TempDir(), "w")
			// A first request, granted, creates the state.
			if _, err := request(t, f, state, 1); err != nil {
				t.Fatal(err)
			}
			// And a second contact fetches its proof.
			if _, _, err := decisionsAt(t, f, state, time.Time{}); err != nil {
				t.Fatal(err)
			}
			decisions, _ := os.ReadFile(filepath.Join(state, DecisionsFile))
			tokens, _ := os.ReadFile(filepath.Join(state, TokensFile))
			c.set(f)
			_, err := request(t, f, state, 1)
			if !errors.Is(err, ErrReceipt) || !errors.Is(err, c.want) || !strings.Contains(err.Error(), "the issuer's fault") {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if errors.Is(err, ErrRefused) {
				t.Fatal("a refusal without a valid receipt was taken as one")
			}
			d2, _ := os.ReadFile(filepath.Join(state, DecisionsFile))
			t2, _ := os.ReadFile(filepath.Join(state, TokensFile))
			if string(d2) != string(decisions) || string(t2) != string(tokens) {
				t.Fatal("the answer changed the stored state")
			}
			if m, _ := filepath.Glob(filepath.Join(state, ".*.tmp*")); len(m) != 0 {
				t.Fatalf("reservations left: %v", m)
			}
			// The wallet's own record of the refused answer.
			inc, err := os.ReadFile(filepath.Join(state, IncidentsFile))
			lines := strings.Split(strings.TrimSuffix(string(inc), "\n"), "\n")
			var in incident
			if err != nil || len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &in) != nil ||
				len(in.RequestSHA256) != 64 || in.Problem == "" || in.Issuer == "" {
				t.Fatalf("incidents file: %v %q", err, inc)
			}
			if st, err := os.Stat(filepath.Join(state, IncidentsFile)); err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("incidents file: %v, or not mode 0600", err)
			}
		})
	}
}

func TestUnloggedReceiptReported(t *testing.T) {
	f := wallettest.NewDecisions(t)
	state := filepath.Join(t.TempDir(), "w")
	f.NeverLog = true
	f.Refuse = wallettest.Administrative
	if _, err := request(t, f, state, 1); !errors.Is(err, ErrRefused) {
		t.Fatal(err)
	}
	// Within the delay: waiting, nothing reported.
	stdout, stderr, err := decisionsAt(t, f, state, time.Now().Add(wallettest.DecisionLogDelay-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "not logged yet (due by ") || strings.Contains(stderr, "evidence") {
		t.Fatalf("within the delay:\n%s%s", stdout, stderr)
	}
	// After it: reported as evidence, by decisions and at each request.
	later := time.Now().Add(wallettest.DecisionLogDelay + time.Minute)
	stdout, stderr, err = decisionsAt(t, f, state, later)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "refused: reason 4 Administrative  NOT LOGGED") ||
		!strings.Contains(stderr, "decision 1 (refused: reason 4 Administrative, received ") ||
		!strings.Contains(stderr, "is not in the issuer's decision log") || !strings.Contains(stderr, "evidence") {
		t.Fatalf("after the delay:\n%s%s", stdout, stderr)
	}
	if ds := storedDecisions(t, state); len(ds) != 1 || len(ds[0].proof) != 0 {
		t.Fatalf("decisions %+v", ds)
	}

	// The appeal bundle holds the receipt, without a record proof: an
	// appeal body finds it signed and not logged.
	_, finding, err := appeal(t, f, state, 1)
	if !errors.Is(err, token.ErrDecisionNotLogged) || finding == nil || finding.OutcomeName != "refused" || finding.DecisionCheckpoint != nil {
		t.Fatalf("unlogged appeal: %+v, %v, want a finding with ErrDecisionNotLogged", finding, err)
	}
}

func TestAppealErrors(t *testing.T) {
	f := wallettest.NewDecisions(t)
	state := filepath.Join(t.TempDir(), "w")
	e, _, _ := testEnv(time.Time{})
	out := filepath.Join(t.TempDir(), "a.bin")
	if err := Appeal(e, AppealOptions{State: state, Out: out}); !errors.Is(err, ErrNoState) {
		t.Fatalf("no state: %v", err)
	}
	mustRequest(t, f, state, 1)
	if _, _, err := decisionsAt(t, f, state, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := Appeal(e, AppealOptions{State: state, Decision: 2, Out: out}); err == nil || !strings.Contains(err.Error(), "no decision 2") {
		t.Fatalf("decision 2 of 1: %v", err)
	}
	if err := os.WriteFile(out, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Appeal(e, AppealOptions{State: state, Out: out}); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("existing file: %v", err)
	}
}

// TestEvidenceInReceipt: evidence presented with the request is in the
// receipt; a receipt that says none was presented is refused.
func TestEvidenceInReceipt(t *testing.T) {
	f := wallettest.NewDecisions(t)
	state := filepath.Join(t.TempDir(), "w")
	evidence := []byte("PCR negative, 2026-12-07, lab 12")
	withEvidence := func(o *RequestOptions) { o.Evidence = evidence }
	if _, err := request(t, f, state, 1, withEvidence); err != nil {
		t.Fatal(err)
	}
	ds := storedDecisions(t, state)
	if len(ds) != 1 || !ds[0].receipt.Evidence || ds[0].receipt.EvidenceSHA256 != sha256.Sum256(evidence) {
		t.Fatalf("decisions %+v", ds)
	}
	f.Refuse = wallettest.Administrative
	f.ForgeReceipt = func(r *token.Receipt) { r.Evidence, r.EvidenceSHA256 = false, [32]byte{} }
	if _, err := request(t, f, state, 1, withEvidence); !errors.Is(err, ErrReceipt) || !errors.Is(err, token.ErrReceiptMismatch) {
		t.Fatalf("receipt without the evidence presented: %v", err)
	}
	if ds := storedDecisions(t, state); len(ds) != 1 {
		t.Fatalf("%d decisions stored, want 1", len(ds))
	}
}

// TestAgainstIssueHTTP: the wallet and the library's issuer handler
// (issuehttp) agree on the protocol: a grant and a refusal, each with
// its receipt kept and its proof fetched, and appeal bundles that
// token.CheckAppeal accepts.
func TestAgainstIssueHTTP(t *testing.T) {
	f := wallettest.NewHandler(t)
	state := filepath.Join(t.TempDir(), "w")
	if _, err := request(t, f, state, 10); err != nil {
		t.Fatal(err)
	}
	if n := unusedTokens(t, state); n != wallettest.TokensPerRequest {
		t.Fatalf("%d tokens stored, want %d", n, wallettest.TokensPerRequest)
	}
	f.Refuse = wallettest.Administrative
	stderr, err := request(t, f, state, 10)
	if !errors.Is(err, ErrRefused) || !strings.Contains(stderr, "the issuer says: refused: Administrative (reason 4)") {
		t.Fatalf("refusal: %v\n%s", err, stderr)
	}
	stdout, _, err := decisionsAt(t, f, state, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(stdout), "\n"); len(lines) != 2 ||
		!strings.HasSuffix(lines[0], "green: reason 1 Negative test result  logged") ||
		!strings.HasSuffix(lines[1], "refused: reason 4 Administrative  logged") {
		t.Fatalf("decisions:\n%s", stdout)
	}
	for n, want := range map[int]string{1: "green", 2: "refused"} {
		_, finding, err := appeal(t, f, state, n)
		if err != nil || finding.OutcomeName != want {
			t.Fatalf("appeal of decision %d: %+v, %v", n, finding, err)
		}
	}
}
