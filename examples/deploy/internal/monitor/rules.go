package monitor

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/statustoken/statustoken/token"
)

// apply checks a verified version d, recorded as v, against the public
// rules across versions and updates the state: a key withdrawn (listed
// in a version, not in a later one) never returns; a key ID serves one
// (suite, status, epoch); a status code keeps its name and a name its
// code; a (suite, status, epoch) that gets another key than before is
// worth a warning, as is a key withdrawn before its epoch ended, or a
// changed epoch length.
func (m *monitor) apply(v *VersionReport, d *token.Directory) {
	idx, ser := &v.Index, &v.Serial
	alarm := func(format string, args ...any) { m.finding(Alarm, idx, ser, true, format, args...) }
	warn := func(format string, args ...any) { m.finding(Warning, idx, ser, true, format, args...) }

	prev := m.st.Directory
	if prev != nil && prev.EpochLength != d.EpochLength {
		warn("the epoch length changed from %d s (serial %d) to %d s", prev.EpochLength, prev.Serial, d.EpochLength)
	}
	m.checkStatuses(d, alarm)

	v.EpochLength = d.EpochLength
	present := make(map[token.KeyID]bool, len(d.Keys))
	replaced := make(map[token.KeyID]bool)
	for i := range d.Keys {
		k := &d.Keys[i]
		present[k.ID] = true
		kr := m.keyReport(d, k.ID, k.Suite, k.Status, k.NotBefore, k.Expiry)
		slot := slotName(k.Suite, k.Status, k.NotBefore)
		last, hadSlot := m.st.Slots[slot]
		ks := m.keys[k.ID]
		switch {
		case ks != nil && (ks.slot() != slot || ks.Expiry != k.Expiry):
			kr.Change = "reused"
			alarm("key %v is listed for %s, but serial %d listed it for %s: a key serves one suite, status and epoch",
				k.ID, m.describe(d, k.Suite, k.Status, k.NotBefore, k.Expiry), ks.FirstSerial,
				m.describe(d, ks.Suite, ks.Status, ks.NotBefore, ks.Expiry))
		case ks != nil && ks.WithdrawnSerial != nil:
			kr.Change = "returns"
			alarm("key %v (%s) returns after serial %d withdrew it: a withdrawn key must never return",
				k.ID, m.describe(d, k.Suite, k.Status, k.NotBefore, k.Expiry), *ks.WithdrawnSerial)
			ks.WithdrawnSerial = nil
			if hadSlot && last != k.ID {
				replaced[last] = true
			}
			m.st.Slots[slot] = k.ID
		case ks != nil:
			// Listed as before.
		default:
			kr.Change = "new"
			if hadSlot && last != k.ID {
				kr.Change = "replaces " + last.String()
				replaced[last] = true
				warn("key %v replaces key %v for %s", k.ID, last, m.describe(d, k.Suite, k.Status, k.NotBefore, k.Expiry))
			}
			ks = &KeyState{ID: k.ID, Suite: k.Suite, Status: k.Status, NotBefore: k.NotBefore, Expiry: k.Expiry, FirstSerial: d.Serial}
			m.keys[k.ID] = ks
			m.st.Keys = append(m.st.Keys, ks)
			m.st.Slots[slot] = k.ID
		}
		n := len(v.Epochs)
		if n == 0 || v.Epochs[n-1].NotBefore != kr.NotBefore || v.Epochs[n-1].Expiry != kr.Expiry {
			v.Epochs = append(v.Epochs, EpochReport{NotBefore: kr.NotBefore, Expiry: kr.Expiry})
			n++
		}
		v.Epochs[n-1].Keys = append(v.Epochs[n-1].Keys, kr)
	}

	// The keys are sorted by not_before: the first starts the earliest
	// epoch the version lists, the one current when it was published.
	start := d.Keys[0].NotBefore
	for _, ks := range m.st.Keys {
		if ks.WithdrawnSerial != nil || present[ks.ID] {
			continue
		}
		s := d.Serial
		ks.WithdrawnSerial = &s
		kr := m.keyReport(d, ks.ID, ks.Suite, ks.Status, ks.NotBefore, ks.Expiry)
		kr.Change = "epoch ended"
		if ks.Expiry > start {
			kr.Change = "before its epoch ended"
			if !replaced[ks.ID] {
				warn("key %v (%s) is withdrawn before its epoch ended", ks.ID, m.describe(d, ks.Suite, ks.Status, ks.NotBefore, ks.Expiry))
			}
		}
		v.Withdrawn = append(v.Withdrawn, kr)
	}
	m.st.Directory = &DirectoryState{Serial: d.Serial, EpochLength: d.EpochLength, Statuses: d.Statuses}
	if d.HasDecisions() {
		m.st.DecisionLog = d.DecisionLog
		for i := range d.Keys {
			m.addPolicy(d.Keys[i].NotBefore, d.Reasons)
		}
	}
}

// addPolicy adds reasons to the decision policy in force in the epoch
// starting at epoch: each reason not already listed there as it is.
func (m *monitor) addPolicy(epoch uint32, reasons []token.Reason) {
	i, found := slices.BinarySearchFunc(m.st.Policies, epoch, func(p *EpochPolicy, e uint32) int { return cmp.Compare(p.Epoch, e) })
	if !found {
		m.st.Policies = slices.Insert(m.st.Policies, i, &EpochPolicy{Epoch: epoch})
	}
	p := m.st.Policies[i]
	for _, r := range reasons {
		if !slices.ContainsFunc(p.Reasons, func(q token.Reason) bool {
			return q.Code == r.Code && q.Text == r.Text && q.EvidenceRequired == r.EvidenceRequired && slices.Equal(q.Outcomes, r.Outcomes)
		}) {
			p.Reasons = append(p.Reasons, r)
		}
	}
}

// checkStatuses raises an alarm for each status of d that renames a code
// published before, or gives a name published before to another code:
// either makes tokens already issued read as another status, and wallets
// and scanners refuse such a directory (token.ErrStatusRenamed). It adds
// d's new statuses to those published.
func (m *monitor) checkStatuses(d *token.Directory, alarm func(string, ...any)) {
	known := m.st.Statuses
	if len(known) == 0 && m.st.Directory != nil {
		// A state written before the statuses were kept.
		known = slices.Clone(m.st.Directory.Statuses)
	}
	var added []token.StatusName
	for _, s := range d.Statuses {
		byCode := slices.IndexFunc(known, func(p token.StatusName) bool { return p.Code == s.Code })
		byName := slices.IndexFunc(known, func(p token.StatusName) bool { return p.Name == s.Name })
		switch {
		case byCode >= 0 && known[byCode].Name != s.Name:
			p := known[byCode]
			alarm("status %d is renamed from %q to %q: tokens issued as %q now read as %q; a status keeps its name once published",
				s.Code, p.Name, s.Name, p.Name, s.Name)
		case byName >= 0 && known[byName].Code != s.Code:
			p := known[byName]
			alarm("status %q moves from code %d to code %d: tokens issued under code %d lose their name; a status keeps its code once published",
				s.Name, p.Code, s.Code, p.Code)
		case byCode < 0:
			added = append(added, s)
		}
	}
	known = append(known, added...)
	slices.SortFunc(known, func(a, b token.StatusName) int { return int(a.Code) - int(b.Code) })
	m.st.Statuses = known
}

// statusName names status code c as d does, or as the last verified
// version did, or by its number.
func (m *monitor) statusName(d *token.Directory, c token.Status) string {
	if n, ok := d.StatusName(c); ok {
		return n
	}
	if p := m.st.Directory; p != nil {
		for _, s := range p.Statuses {
			if s.Code == c {
				return s.Name
			}
		}
	}
	return "status-" + strconv.Itoa(int(c))
}

func (m *monitor) keyReport(d *token.Directory, id token.KeyID, suite token.Suite, status token.Status, notBefore, expiry uint32) KeyReport {
	return KeyReport{
		ID: id, Suite: suite, Status: status, StatusName: m.statusName(d, status),
		NotBefore: unix(notBefore), Expiry: unix(expiry),
	}
}

// describe names a (suite, status, epoch) for a finding.
func (m *monitor) describe(d *token.Directory, suite token.Suite, status token.Status, notBefore, expiry uint32) string {
	return fmt.Sprintf("%s %s, epoch %s", suite, m.statusName(d, status), epoch(unix(notBefore), unix(expiry)))
}

func unix(t uint32) time.Time { return time.Unix(int64(t), 0).UTC() }

func epoch(notBefore, expiry time.Time) string {
	return notBefore.Format(time.RFC3339) + ".." + expiry.Format(time.RFC3339)
}

// printVersion prints a record's version in text mode.
func (m *monitor) printVersion(v *VersionReport) {
	if m.cfg.JSON {
		return
	}
	if v.SHA256 == "" {
		m.printf("record %d: NOT VERIFIED\n", v.Index)
		return
	}
	if !v.Verified {
		m.printf("record %d: serial %d, sha256 %s: NOT VERIFIED\n", v.Index, v.Serial, v.SHA256)
		return
	}
	keys := 0
	for _, e := range v.Epochs {
		keys += len(e.Keys)
	}
	m.printf("record %d: serial %d, sha256 %s: verified, epoch length %d s, %s\n", v.Index, v.Serial, v.SHA256, v.EpochLength, plural(keys, "key"))
	width := 0
	for _, e := range v.Epochs {
		for _, k := range e.Keys {
			width = max(width, len(k.StatusName))
		}
	}
	for _, e := range v.Epochs {
		m.printf("  epoch %s\n", epoch(e.NotBefore, e.Expiry))
		for _, k := range e.Keys {
			m.printf("    %-7s %-*s %s%s\n", k.Suite, width, k.StatusName, k.ID, label(k.Change))
		}
	}
	for _, k := range v.Withdrawn {
		m.printf("  withdrawn %s %s %s, epoch %s: %s\n", k.Suite, k.StatusName, k.ID, epoch(k.NotBefore, k.Expiry), k.Change)
	}
}

func label(change string) string {
	if change == "" {
		return ""
	}
	return "  " + change
}
