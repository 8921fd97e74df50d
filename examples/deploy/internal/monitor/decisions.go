package monitor

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	"filippo.io/torchwood"
	"github.com/statustoken/statustoken/internal/transparency"
	"github.com/statustoken/statustoken/token"
)

// maxDecisionFindings bounds the findings about decision records that a
// run reports one by one; the alarms beyond it are counted only
// (DecisionReport.Suppressed), so that a log of millions of bad records
// takes no more memory or output than a few.
const maxDecisionFindings = 1000

// DecisionReport is what a Run found in the decision log.
type DecisionReport struct {
	Checkpoint *CheckpointReport `json:"checkpoint,omitempty"`
	// Start and End bound the records counted in this run, [Start, End).
	Start int64 `json:"start"`
	End   int64 `json:"end"`
	// Epochs are the tallies, over every run, of the epochs that records
	// of this run fell in, in order of epoch.
	Epochs []EpochTallyReport `json:"epochs"`
	// Suppressed counts the alarms about decision records beyond the
	// first maxDecisionFindings of the run, which are not listed.
	Suppressed int `json:"suppressed,omitempty"`
}

// EpochTallyReport counts the decisions of one epoch.
type EpochTallyReport struct {
	Epoch   time.Time     `json:"epoch"`
	Records int64         `json:"records"`
	Counts  []CountReport `json:"counts"`
	// Unlisted counts the records with a reason outside the epoch's
	// policy or an outcome that is no status.
	Unlisted int64 `json:"unlisted,omitempty"`
}

// CountReport is the number of decisions with one outcome, reason and
// evidence flag, with the outcome's name and the reason's text in the
// directory in force.
type CountReport struct {
	Outcome     token.Outcome `json:"outcome"`
	OutcomeName string        `json:"outcome_name"`
	Reason      uint16        `json:"reason"`
	ReasonText  string        `json:"reason_text"`
	Evidence    bool          `json:"evidence"`
	Count       int64         `json:"count"`
}

// decisions checks the decision log's checkpoint signed (the bytes
// fetched, or the error of the fetch) under the decision log key that
// the newest verified directory names and the trust policy's witnesses,
// then counts its records from where the state left off.
func (m *monitor) decisions(ctx context.Context, signed []byte, fetchErr error) error {
	vkey := m.st.DecisionLog
	if vkey == "" {
		return nil
	}
	ds := m.st.Decisions
	if ds == nil || ds.Log != vkey {
		next := &DecisionState{Log: vkey}
		if ds != nil {
			m.finding(Warning, nil, nil, false, "decisions: the directory names another decision log than before: counting its records from the first")
			next.Tallies = ds.Tallies
		}
		ds = next
		m.st.Decisions = ds
	}
	rep := &DecisionReport{Start: ds.Next, End: ds.Next, Epochs: []EpochTallyReport{}}
	m.report.Decisions = rep
	touched := make(map[uint32]bool)
	defer m.printTallies(rep, touched)
	alarm := func(format string, args ...any) { m.finding(Alarm, nil, nil, false, "decisions: "+format, args...) }

	var missing *missingError
	if errors.As(fetchErr, &missing) {
		alarm("the directory publishes a decision policy, but the issuer does not serve its decision log's checkpoint (%v)", fetchErr)
		return nil
	}
	if fetchErr != nil {
		return fetchErr
	}
	pol, err := m.decisionPolicy(vkey)
	if err != nil {
		alarm("the directory's decision log key cannot be checked under the trust policy: %v", err)
		return nil
	}
	cp, err := pol.OpenPersisted(signed)
	switch {
	case transparency.KindOf(err) == transparency.Quorum:
		alarm("checkpoint: not signed by the directory's decision log key and cosigned by a quorum of the pinned witnesses")
		return nil
	case err != nil:
		alarm("checkpoint: malformed: %v", err)
		return nil
	}
	tree := cp.Tree
	newest := cp.Seen.QuorumTime
	for _, c := range cp.Seen.Cosignatures {
		if c.Time.After(newest) {
			newest = c.Time
		}
	}
	age := m.now().Sub(newest).Truncate(time.Second)
	cr := &CheckpointReport{
		Origin: cp.Origin, Size: tree.N, Hash: base64.StdEncoding.EncodeToString(tree.Hash[:]),
		Time: newest.UTC(), Age: age.String(), PreviousSize: -1,
	}
	rep.Checkpoint = cr
	m.printf("decisions checkpoint %s: %s, root hash %s, newest cosignature %s (%s ago)\n",
		cp.Origin, plural(tree.N, "record"), cr.Hash, cr.Time.Format(time.RFC3339), age)
	if maxAge := m.cfg.Trust.MaxAge(); cp.Time().Before(m.now().Add(-maxAge)) {
		// Wallets refuse a decision proof this old; a quiet log whose
		// checkpoint nobody cosigns again is not misbehaviour by itself,
		// but a receipt a wallet cannot prove in time is evidence.
		m.finding(Warning, nil, nil, false, "decisions: checkpoint: fewer than a quorum of the witnesses cosigned it in the trust policy's max-age %s: wallets cannot get fresh proofs of their decisions", maxAge)
	}
	if ds.Checkpoint != "" {
		prev, err := pol.OpenPersisted([]byte(ds.Checkpoint))
		if err != nil {
			return fmt.Errorf("monitor: the state's decision checkpoint does not verify under the trust policy: %v", err)
		}
		if ds.Next > prev.N {
			return fmt.Errorf("monitor: the state has counted %d decision records of a checkpoint of %d", ds.Next, prev.N)
		}
		cr.PreviousSize = prev.N
		ok, err := m.consistent(ctx, m.dec, "decisions", prev.Tree, tree)
		if err != nil || !ok {
			return err
		}
	}
	cr.Verified = true
	ds.Checkpoint = string(signed)
	if ds.Next >= tree.N {
		return nil
	}
	client, err := torchwood.NewClient(m.dec)
	if err != nil {
		return err
	}
	for i, entry := range client.AllEntries(ctx, tree, ds.Next) {
		if i != ds.Next {
			return fmt.Errorf("monitor: the tile client skipped from decision record %d to %d", ds.Next, i)
		}
		m.decisionRecord(rep, i, entry, touched)
		ds.Next = i + 1
		rep.End = ds.Next
	}
	if err := client.Err(); err != nil {
		return m.tileFailure(ctx, fmt.Sprintf("decision record %d", ds.Next), err)
	}
	if ds.Next < tree.N {
		return fmt.Errorf("monitor: the decision log's entries stopped at record %d of %d", ds.Next, tree.N)
	}
	return nil
}

// decisionPolicy returns the trust policy for the decision log of
// verifier key vkey: the same witnesses and quorum.
func (m *monitor) decisionPolicy(vkey string) (*transparency.Policy, error) {
	text, err := m.cfg.Trust.MarshalText()
	if err != nil {
		return nil, err
	}
	p, err := transparency.ParsePolicy(text)
	if err != nil {
		return nil, err
	}
	return p.ForLog(vkey)
}

// decisionRecord counts record i of the decision log, entry, and raises
// an alarm if the policy in force in its epoch does not allow it: its
// reason is not listed, cannot lead to its outcome, or requires evidence
// the record says was not presented.
func (m *monitor) decisionRecord(rep *DecisionReport, i int64, entry []byte, touched map[uint32]bool) {
	alarm := func(format string, args ...any) {
		if m.decFindings >= maxDecisionFindings {
			m.report.Alarms++
			m.st.Alarms++
			rep.Suppressed++
			return
		}
		m.decFindings++
		m.add(Finding{Level: Alarm, Decision: &i, Message: fmt.Sprintf(format, args...)}, false)
	}
	rec, err := token.ParseRecord(entry)
	if err != nil {
		alarm("not a decision record (%d bytes): %v", len(entry), err)
		return
	}
	ep := unix(rec.Epoch).Format(time.RFC3339)
	pol := m.policy(rec.Epoch)
	if pol == nil {
		alarm("epoch %s: no verified directory with a decision policy lists keys for this epoch, so no policy allows a decision in it", ep)
		return
	}
	touched[rec.Epoch] = true
	t := m.tally(rec.Epoch)
	var listed, allowing []token.Reason
	for _, r := range pol.Reasons {
		if r.Code == rec.Reason {
			listed = append(listed, r)
			if r.Allows(rec.Outcome) {
				allowing = append(allowing, r)
			}
		}
	}
	outcome := m.outcomeName(rec.Outcome)
	switch {
	case len(listed) == 0:
		alarm("epoch %s: reason %d is not in the decision policy in force (outcome %s)", ep, rec.Reason, outcome)
		t.Unlisted++
		return
	case len(allowing) == 0:
		alarm("epoch %s: reason %d (%q) cannot lead to outcome %s", ep, rec.Reason, listed[len(listed)-1].Text, outcome)
		if !m.knownOutcome(rec.Outcome) {
			t.Unlisted++
			return
		}
	case !rec.Evidence && !slices.ContainsFunc(allowing, func(r token.Reason) bool { return !r.EvidenceRequired }):
		alarm("epoch %s: reason %d (%q) requires evidence, but the record of outcome %s says none was presented", ep, rec.Reason, allowing[0].Text, outcome)
	}
	j := slices.IndexFunc(t.Counts, func(c *Count) bool {
		return c.Outcome == rec.Outcome && c.Reason == rec.Reason && c.Evidence == rec.Evidence
	})
	if j < 0 {
		t.Counts = append(t.Counts, &Count{Outcome: rec.Outcome, Reason: rec.Reason, Evidence: rec.Evidence})
		j = len(t.Counts) - 1
	}
	t.Counts[j].N++
}

// policy returns the decision policy in force in the epoch starting at
// epoch, or nil.
func (m *monitor) policy(epoch uint32) *EpochPolicy {
	i, found := slices.BinarySearchFunc(m.st.Policies, epoch, func(p *EpochPolicy, e uint32) int { return cmp.Compare(p.Epoch, e) })
	if !found {
		return nil
	}
	return m.st.Policies[i]
}

// tally returns the tally of the epoch starting at epoch, adding it.
func (m *monitor) tally(epoch uint32) *EpochTally {
	ds := m.st.Decisions
	i, found := slices.BinarySearchFunc(ds.Tallies, epoch, func(t *EpochTally, e uint32) int { return cmp.Compare(t.Epoch, e) })
	if !found {
		ds.Tallies = slices.Insert(ds.Tallies, i, &EpochTally{Epoch: epoch, Counts: []*Count{}})
	}
	return ds.Tallies[i]
}

func (m *monitor) knownOutcome(o token.Outcome) bool {
	return o == token.Refused || slices.ContainsFunc(m.st.Statuses, func(s token.StatusName) bool { return token.Outcome(s.Code) == o })
}

// outcomeName names outcome o: "refused", a status's published name, or
// its number.
func (m *monitor) outcomeName(o token.Outcome) string {
	if o == token.Refused {
		return "refused"
	}
	for _, s := range m.st.Statuses {
		if token.Outcome(s.Code) == o {
			return s.Name
		}
	}
	return fmt.Sprintf("status-%d", o)
}

// reasonText returns the text of reason code c in the newest version in
// force in the epoch of p that lists it.
func reasonText(p *EpochPolicy, c uint16) string {
	for _, r := range slices.Backward(p.Reasons) {
		if r.Code == c {
			return r.Text
		}
	}
	return ""
}

// printTallies fills rep with the tallies of the epochs touched, over
// every run, and prints them in text mode.
func (m *monitor) printTallies(rep *DecisionReport, touched map[uint32]bool) {
	for _, t := range m.st.Decisions.Tallies {
		if !touched[t.Epoch] {
			continue
		}
		p := m.policy(t.Epoch)
		er := EpochTallyReport{Epoch: unix(t.Epoch), Records: t.Unlisted, Counts: []CountReport{}, Unlisted: t.Unlisted}
		for _, c := range t.Counts {
			er.Records += c.N
			er.Counts = append(er.Counts, CountReport{
				Outcome: c.Outcome, OutcomeName: m.outcomeName(c.Outcome),
				Reason: c.Reason, ReasonText: reasonText(p, c.Reason), Evidence: c.Evidence, Count: c.N,
			})
		}
		slices.SortFunc(er.Counts, func(a, b CountReport) int {
			return cmp.Or(cmp.Compare(a.Outcome, b.Outcome), cmp.Compare(a.Reason, b.Reason), boolCompare(a.Evidence, b.Evidence))
		})
		rep.Epochs = append(rep.Epochs, er)
	}
	if m.cfg.JSON {
		return
	}
	length := time.Duration(0)
	if d := m.st.Directory; d != nil {
		length = time.Duration(d.EpochLength) * time.Second
	}
	for _, er := range rep.Epochs {
		span := er.Epoch.Format(time.RFC3339)
		if length > 0 {
			span = epoch(er.Epoch, er.Epoch.Add(length))
		}
		m.printf("decisions in epoch %s: %s, all runs\n", span, plural(er.Records, "record"))
		ow, rw := 0, 0
		for _, c := range er.Counts {
			ow = max(ow, len(c.OutcomeName))
			rw = max(rw, len(reasonLabel(c)))
		}
		for _, c := range er.Counts {
			ev := "no evidence"
			if c.Evidence {
				ev = "evidence"
			}
			m.printf("  %-*s  %-*s  %-11s  %d\n", ow, c.OutcomeName, rw, reasonLabel(c), ev, c.Count)
		}
		if er.Unlisted > 0 {
			m.printf("  %s outside the policy\n", plural(er.Unlisted, "record"))
		}
	}
	records := "no new records"
	if rep.End > rep.Start {
		records = fmt.Sprintf("records %d..%d counted", rep.Start, rep.End-1)
	}
	m.printf("decisions: %s", records)
	if rep.Suppressed > 0 {
		m.printf(", %d more alarms about decision records not listed", rep.Suppressed)
	}
	m.printf("\n")
}

func reasonLabel(c CountReport) string {
	return fmt.Sprintf("reason %d %q", c.Reason, c.ReasonText)
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
