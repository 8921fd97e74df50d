package token_test

import (
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

var issueErrReason = issue.ErrReason

func issueDecision(req []byte, o *token.Opening, outcome token.Outcome, reason uint16, evidence []byte) issue.Decision {
	return issue.Decision{Request: req, Commitment: o.Commitment(), Outcome: outcome, Reason: reason, Evidence: evidence, Serial: 1}
}
