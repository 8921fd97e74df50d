package issue

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/statustoken/statustoken/internal/format"
	"github.com/statustoken/statustoken/token"
)

// ErrReason: Decide was asked for a decision the issuer's published
// policy does not allow: no decision policy, a reason not listed or not
// listed for the outcome, no evidence for a reason that requires it, an
// outcome that is no status or, for a blind request, not the status of
// its key, or no request. Fix the caller; nothing was signed.
var ErrReason = errors.New("issue: decision not allowed by the decision policy")

// decisionPolicy is the issuer's published decision policy and its key.
type decisionPolicy struct {
	tokensPerRequest int
	key              ed25519.PrivateKey
	keyID            token.KeyID
	pub              []byte
	reasons          []token.Reason
	logKey           string
	logDelay         uint32
}

// setDecisionPolicy checks the decision fields of cfg (all or none of
// the key, reasons and log key; the rules are the directory's, checked
// by NewIssuer on a directory it could publish) and keeps them.
func (is *Issuer) setDecisionPolicy(cfg Config) error {
	n := cfg.TokensPerRequest
	if n < 0 || n > MaxTokens {
		return fmt.Errorf("tokens per request %d: want 0 (any) or 1 to %d", n, MaxTokens)
	}
	is.decision.tokensPerRequest = n
	set := 0
	for _, b := range []bool{cfg.DecisionKey != nil, len(cfg.Reasons) > 0, cfg.DecisionLogKey != "", cfg.DecisionLogDelay != 0} {
		if b {
			set++
		}
	}
	switch {
	case set == 0:
		return nil
	case set != 4:
		return errors.New("the decision key, reasons, decision log key and decision log delay must be all set or all unset")
	case cfg.DecisionLogDelay%time.Second != 0 || cfg.DecisionLogDelay < token.MinDecisionLogDelay*time.Second ||
		cfg.DecisionLogDelay > token.MaxDecisionLogDelay*time.Second:
		return fmt.Errorf("decision log delay %v: want whole seconds from %v to %v", cfg.DecisionLogDelay,
			token.MinDecisionLogDelay*time.Second, token.MaxDecisionLogDelay*time.Second)
	case len(cfg.DecisionKey) != ed25519.PrivateKeySize:
		return errors.New("the decision key must be an ed25519.PrivateKey")
	case slices.Equal(cfg.DecisionKey, cfg.RootKey):
		return errors.New("the decision key must not be the root key")
	}
	p := &is.decision
	p.key = slices.Clone(cfg.DecisionKey)
	p.pub = slices.Clone(p.key.Public().(ed25519.PublicKey))
	p.keyID = token.ComputeKeyID(p.pub)
	p.reasons = slices.Clone(cfg.Reasons)
	for i := range p.reasons {
		p.reasons[i].Outcomes = slices.Clone(p.reasons[i].Outcomes)
	}
	p.logKey = cfg.DecisionLogKey
	p.logDelay = uint32(cfg.DecisionLogDelay / time.Second)
	return nil
}

// publish sets the decision fields of a directory.
func (p *decisionPolicy) publish(d *token.Directory) {
	d.TokensPerRequest = p.tokensPerRequest
	if p.key == nil {
		return
	}
	d.DecisionLog = p.logKey
	d.DecisionLogDelay = p.logDelay
	d.DecisionKeys = []token.DecisionKey{{ID: p.keyID, PublicKey: slices.Clone(p.pub)}}
	d.Reasons = p.reasons
}

// Decision is what the issuer decided about one token request.
type Decision struct {
	// Request is the request's exact bytes, as received.
	Request []byte
	// Commitment is the holder's commitment, sent with the request.
	Commitment [32]byte
	// Outcome is the status granted, or token.Refused.
	Outcome token.Outcome
	// Reason is a reason code of the policy that allows Outcome.
	Reason uint16
	// Evidence is the evidence presented, nil for none; the receipt
	// carries its SHA-256.
	Evidence []byte
	// Serial is the serial of the directory the request was made under,
	// the one the issuer serves.
	Serial uint64
}

// Decide signs the receipt of a decision taken at now (token/SPEC.md,
// "Receipt") and returns it with the decision record to append to the
// decision log. Send the receipt with every answer to a request, a
// refusal (HTTP 403) as well as a grant. Decide refuses, with ErrReason,
// a decision its published policy does not allow, so that no receipt it
// signs contradicts its directory.
//
// The receipt's 32-byte nonce is fresh and random: it makes the
// record's commitment hiding. Decide costs one SHA-256 of the request
// and one Ed25519 signature.
func (is *Issuer) Decide(d Decision, now time.Time) (receipt, record []byte, err error) {
	if err := is.ready(); err != nil {
		return nil, nil, err
	}
	p := &is.decision
	if p.key == nil {
		return nil, nil, fmt.Errorf("%w: the issuer publishes no decision policy", ErrReason)
	}
	if len(d.Request) == 0 || len(d.Request) > MaxRequestSize {
		return nil, nil, fmt.Errorf("%w: request of %d bytes, want 1 to %d", ErrReason, len(d.Request), MaxRequestSize)
	}
	if d.Serial > token.MaxSerial {
		return nil, nil, fmt.Errorf("%w: serial %d", ErrReason, d.Serial)
	}
	if d.Outcome != token.Refused && !is.knownStatus(token.Status(d.Outcome)) {
		return nil, nil, fmt.Errorf("%w: outcome %d is no status of the issuer", ErrReason, d.Outcome)
	}
	i := slices.IndexFunc(p.reasons, func(r token.Reason) bool { return r.Code == d.Reason })
	switch {
	case i < 0:
		return nil, nil, fmt.Errorf("%w: reason %d is not in the policy", ErrReason, d.Reason)
	case !p.reasons[i].Allows(d.Outcome):
		return nil, nil, fmt.Errorf("%w: reason %d cannot lead to outcome %d", ErrReason, d.Reason, d.Outcome)
	case p.reasons[i].EvidenceRequired && d.Evidence == nil:
		return nil, nil, fmt.Errorf("%w: reason %d requires evidence", ErrReason, d.Reason)
	}
	epoch, err := is.epochStart(now)
	if err != nil {
		return nil, nil, err
	}
	if d.Outcome != token.Refused && is.publishes(token.RSABSSA) {
		// A grant of a blind request is for the status of its key: the
		// wallet refuses a receipt that says otherwise.
		id, _, _, perr := format.ParseBlind(d.Request)
		if perr != nil {
			return nil, nil, fmt.Errorf("%w: a grant of a malformed request", ErrReason)
		}
		_, st, kerr := is.activeRSAKey(id, now)
		if kerr != nil || token.Outcome(st) != d.Outcome {
			return nil, nil, fmt.Errorf("%w: outcome %d for a request of another status's key", ErrReason, d.Outcome)
		}
	}
	r := &token.Receipt{
		Epoch:         epoch,
		Outcome:       d.Outcome,
		Reason:        d.Reason,
		Evidence:      d.Evidence != nil,
		Serial:        d.Serial,
		RequestSHA256: sha256.Sum256(d.Request),
		Commitment:    d.Commitment,
		KeyID:         p.keyID,
	}
	if r.Evidence {
		r.EvidenceSHA256 = sha256.Sum256(d.Evidence)
	}
	rand.Read(r.Nonce[:])
	r.Signature = ed25519.Sign(p.key, r.SignedMessage())
	if receipt, err = r.MarshalBinary(); err != nil {
		return nil, nil, err
	}
	if record, err = token.RecordOf(r).MarshalBinary(); err != nil {
		return nil, nil, err
	}
	return receipt, record, nil
}
