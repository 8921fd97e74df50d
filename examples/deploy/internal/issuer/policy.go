package issuer

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/statustoken/statustoken/examples/deploy/internal/files"
	"github.com/statustoken/statustoken/token"
)

// The decision policy (token/SPEC.md, "Decision policy"): the reason
// codes a decision may cite, published in every directory. A reasons
// file (-reasons) has one reason a line:
//
//	CODE OUTCOMES EVIDENCE TEXT
//
// CODE is 1 to 65535, in increasing order; OUTCOMES is a comma-separated
// list of status names and "refused"; EVIDENCE is "evidence" when a
// decision citing the reason requires evidence from the holder, else
// "-"; TEXT is the rest of the line, the reason's published text. Blank
// lines and lines starting with # are ignored. For example the default
// policy, with the default statuses:
//
//	1 green,refused - negative test result
//	2 red,refused - positive test result
//	3 refused - no test on record
//	4 refused - administrative
//
// A test result is the reason for its status, and for refusing a holder
// who asks for another status than its own (a red holder asking for
// green is refused for its positive test result). A policy that has the
// holder prove its test result:
//
//	1 green,refused evidence negative test result
//	2 red,refused evidence positive test result
//	3 refused - no test on record
//	4 refused - administrative

// refusedName is how a reasons file and the holders file write the
// outcome token.Refused.
const refusedName = "refused"

// maxReasonsFile bounds a reasons file.
const maxReasonsFile = 64 << 10

// DefaultReasons returns the default decision policy for statuses: a
// reason for each of green and red that statuses has, and two reasons to
// refuse, "no test on record" and "administrative".
func DefaultReasons(statuses []token.StatusName) []token.Reason {
	var list []token.Reason
	if code, ok := statusCode(statuses, "green"); ok {
		list = append(list, token.Reason{Code: 1, Text: "negative test result", Outcomes: []token.Outcome{token.Refused, token.Outcome(code)}})
	}
	if code, ok := statusCode(statuses, "red"); ok {
		list = append(list, token.Reason{Code: 2, Text: "positive test result", Outcomes: []token.Outcome{token.Refused, token.Outcome(code)}})
	}
	if len(list) == 0 {
		// Other statuses: one reason that may grant any of them.
		r := token.Reason{Code: 1, Text: "status on record"}
		for _, s := range statuses {
			r.Outcomes = append(r.Outcomes, token.Outcome(s.Code))
		}
		list = append(list, r)
	}
	return append(list,
		token.Reason{Code: 3, Text: "no test on record", Outcomes: []token.Outcome{token.Refused}},
		token.Reason{Code: 4, Text: "administrative", Outcomes: []token.Outcome{token.Refused}})
}

// LoadReasons reads a reasons file (see above) for statuses.
func LoadReasons(name string, statuses []token.StatusName) ([]token.Reason, error) {
	data, err := files.ReadLimited(name, maxReasonsFile)
	if err != nil {
		return nil, err
	}
	list, err := ParseReasons(data, statuses)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return list, nil
}

// ParseReasons parses the text of a reasons file for statuses.
func ParseReasons(data []byte, statuses []token.StatusName) ([]token.Reason, error) {
	var list []token.Reason
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.SplitN(line, " ", 4)
		if len(f) != 4 || strings.TrimSpace(f[3]) == "" {
			return nil, fmt.Errorf("line %d: want CODE OUTCOMES EVIDENCE TEXT, for example: 4 refused - administrative", n)
		}
		code, err := strconv.ParseUint(f[0], 10, 16)
		if err != nil || code == 0 || strconv.FormatUint(code, 10) != f[0] {
			return nil, fmt.Errorf("line %d: reason code %q: want 1 to 65535", n, f[0])
		}
		if len(list) > 0 && uint16(code) <= list[len(list)-1].Code {
			return nil, fmt.Errorf("line %d: reason codes must increase", n)
		}
		r := token.Reason{Code: uint16(code), Text: strings.TrimSpace(f[3])}
		if len(r.Text) > token.MaxReasonTextSize || strings.ContainsFunc(r.Text, notPublishable) {
			return nil, fmt.Errorf("line %d: reason text: want at most %d printable ASCII characters, none of \" \\ < > &", n, token.MaxReasonTextSize)
		}
		for _, name := range strings.Split(f[1], ",") {
			o, ok := outcomeCode(statuses, name)
			if !ok {
				return nil, fmt.Errorf("line %d: outcome %q is neither %q nor a status (%s)", n, name, refusedName, statusList(statuses))
			}
			r.Outcomes = append(r.Outcomes, o)
		}
		slices.Sort(r.Outcomes)
		if len(slices.Compact(slices.Clone(r.Outcomes))) != len(r.Outcomes) {
			return nil, fmt.Errorf("line %d: an outcome is listed twice", n)
		}
		switch f[2] {
		case "evidence":
			r.EvidenceRequired = true
		case "-":
		default:
			return nil, fmt.Errorf("line %d: evidence %q: want \"evidence\" or \"-\"", n, f[2])
		}
		list = append(list, r)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("no reasons")
	}
	return list, nil
}

// notPublishable reports whether a reason text may not hold c: the
// directory publishes printable ASCII other than the characters a JSON
// encoder escapes (token/SPEC.md, "Decision policy").
func notPublishable(c rune) bool {
	return c < 0x20 || c > 0x7e || strings.ContainsRune(`"\<>&`, c)
}

// outcomeCode returns the outcome named name: refusedName or a status.
func outcomeCode(statuses []token.StatusName, name string) (token.Outcome, bool) {
	if name == refusedName {
		return token.Refused, true
	}
	code, ok := statusCode(statuses, name)
	return token.Outcome(code), ok
}

// findReason returns the reason with code in list.
func findReason(list []token.Reason, code uint16) (*token.Reason, bool) {
	for i := range list {
		if list[i].Code == code {
			return &list[i], true
		}
	}
	return nil, false
}

// defaultReason returns the first reason of list that allows outcome
// without evidence, or failing that the first that allows it.
func defaultReason(list []token.Reason, outcome token.Outcome) (uint16, bool) {
	// A reason for this outcome alone comes first ("no test on record"
	// for a refusal, rather than a test result that may also refuse),
	// then one without required evidence.
	var found uint16
	best := 0
	for i := range list {
		if !list[i].Allows(outcome) {
			continue
		}
		rank := 1
		if len(list[i].Outcomes) == 1 {
			rank += 2
		}
		if !list[i].EvidenceRequired {
			rank++
		}
		if rank > best {
			found, best = list[i].Code, rank
		}
	}
	return found, found != 0
}
