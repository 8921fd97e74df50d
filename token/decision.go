package token

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/statustoken/statustoken/internal/edsig"
	"github.com/statustoken/statustoken/internal/format"
	"github.com/statustoken/statustoken/internal/transparency"
)

// Errors of decisions: receipts, decision records and their checks
// (SPEC.md, "Decisions").
var (
	// ErrMalformedReceipt: receipt bytes that are not exactly one
	// canonical receipt.
	ErrMalformedReceipt = errors.New("token: malformed receipt")
	// ErrReceiptSignature: the receipt is not signed by a decision key of
	// the directory it cites, or its signature does not verify.
	ErrReceiptSignature = errors.New("token: receipt signature invalid")
	// ErrReceiptDirectory: the receipt does not fit the directory it is
	// checked against: another serial, an epoch the directory does not
	// cover, or a directory without a decision policy.
	ErrReceiptDirectory = errors.New("token: receipt not of this directory")
	// ErrReceiptReason: the receipt's reason is not in the directory's
	// policy, cannot lead to its outcome, or requires evidence the
	// receipt says was not presented.
	ErrReceiptReason = errors.New("token: receipt reason not allowed by the directory's policy")
	// ErrReceiptMismatch: the receipt is for another request or another
	// holder commitment than the one it was checked against.
	ErrReceiptMismatch = errors.New("token: receipt for another request or commitment")
	// ErrMalformedRecord: decision record bytes that are not exactly one
	// canonical record.
	ErrMalformedRecord = errors.New("token: malformed decision record")
	// ErrDecisionNotLogged: the decision log proof is malformed or does
	// not show the receipt's record in the decision log.
	ErrDecisionNotLogged = errors.New("token: decision not proven to be in the decision log")
)

// Limits of the decision policy (SPEC.md, "Decision policy").
const (
	// MaxTokensPerRequest bounds a directory's tokens_per_request.
	MaxTokensPerRequest = format.MaxTokens
	// MaxDecisionKeys bounds a directory's decision keys.
	MaxDecisionKeys = 4
	// MaxReasons bounds a directory's reason codes.
	MaxReasons = 256
	// MaxReasonTextSize bounds a reason's text, in bytes.
	MaxReasonTextSize = 200
	// MaxDecisionLogKeySize bounds the decision log's verifier key.
	MaxDecisionLogKeySize = 256
	// MinDecisionLogDelay and MaxDecisionLogDelay bound a directory's
	// decision_log_delay, in seconds: from one minute to one day.
	MinDecisionLogDelay = 60
	MaxDecisionLogDelay = 86400
	// ReceiptSize is the length of a receipt.
	ReceiptSize = receiptBodySize + ed25519.SignatureSize
	// RecordSize is the length of a decision record.
	RecordSize = 1 + 4 + 1 + 2 + 1 + sha256.Size
	// MaxStatementSize bounds the statement of a holder's opening.
	MaxStatementSize = 1024
)

const (
	receiptVersion  = 1
	recordVersion   = 1
	receiptBodySize = 1 + 4 + 1 + 2 + 1 + 32 + 8 + 32 + 32 + 32 + 8
	receiptLabel    = "statustoken/v1 receipt"
	recordLabel     = "statustoken/v1 decision record"
	commitmentLabel = "statustoken/v1 holder commitment"
)

// Outcome is a decision's outcome: a status code of the directory, or
// Refused.
type Outcome uint8

// Refused is the outcome of a request that was refused.
const Refused Outcome = 0

// MarshalJSON encodes the outcome as a JSON number.
func (o Outcome) MarshalJSON() ([]byte, error) { return strconv.AppendUint(nil, uint64(o), 10), nil }

// UnmarshalJSON accepts a JSON number from 0 to 255 in shortest form.
func (o *Outcome) UnmarshalJSON(b []byte) error {
	n, err := strconv.ParseUint(string(b), 10, 8)
	if err != nil || strconv.FormatUint(n, 10) != string(b) {
		return &fieldError{fmt.Sprintf("outcome %q is not a number from 0 to 255", truncate(b))}
	}
	*o = Outcome(n)
	return nil
}

// DecisionKey is a key that signs receipts.
type DecisionKey struct {
	ID KeyID `json:"key_id"`
	// PublicKey is the 32-byte Ed25519 public key.
	PublicKey []byte `json:"public_key"`
}

// Reason is one reason code of the decision policy: the text that
// explains it, the outcomes it may justify (Refused or status codes), and
// whether a decision citing it requires evidence.
type Reason struct {
	Code             uint16    `json:"code"`
	Text             string    `json:"text"`
	Outcomes         []Outcome `json:"outcomes"`
	EvidenceRequired bool      `json:"evidence_required"`
}

// HasDecisions reports whether the directory publishes a decision
// policy.
func (d *Directory) HasDecisions() bool {
	return d != nil && d.DecisionLog != ""
}

// Reason returns the directory's reason with code c.
func (d *Directory) Reason(c uint16) (*Reason, bool) {
	if d == nil {
		return nil, false
	}
	for i := range d.Reasons {
		if d.Reasons[i].Code == c {
			return &d.Reasons[i], true
		}
	}
	return nil, false
}

// Allows reports whether r may justify outcome o.
func (r *Reason) Allows(o Outcome) bool {
	for _, x := range r.Outcomes {
		if x == o {
			return true
		}
	}
	return false
}

// OutcomeName returns "refused" or the name of the status o.
func (d *Directory) OutcomeName(o Outcome) (string, bool) {
	if o == Refused {
		return "refused", true
	}
	return d.StatusName(Status(o))
}

// validateDecisions checks the decision policy's rules (SPEC.md,
// "Decision policy").
func (d *Directory) validateDecisions() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidDirectory}, args...)...)
	}
	set := 0
	for _, b := range []bool{d.DecisionLog != "", d.DecisionLogDelay != 0, len(d.DecisionKeys) > 0, len(d.Reasons) > 0} {
		if b {
			set++
		}
	}
	switch set {
	case 0:
		return nil
	case 4:
	default:
		return bad("decision_log, decision_log_delay, decision_keys and reasons must be all present or all absent")
	}
	if d.DecisionLogDelay < MinDecisionLogDelay || d.DecisionLogDelay > MaxDecisionLogDelay {
		return bad("decision_log_delay %d s outside [%d, %d]", d.DecisionLogDelay, MinDecisionLogDelay, MaxDecisionLogDelay)
	}
	if len(d.DecisionLog) > MaxDecisionLogKeySize || !plainText(d.DecisionLog, false) {
		return bad("decision_log is not a verifier key of at most %d printable characters", MaxDecisionLogKeySize)
	}
	if _, err := transparency.CheckLogKey(d.DecisionLog); err != nil {
		return bad("decision_log: %v", err)
	}
	if len(d.DecisionKeys) > MaxDecisionKeys {
		return bad("%d decision keys, limit %d", len(d.DecisionKeys), MaxDecisionKeys)
	}
	for i, k := range d.DecisionKeys {
		if err := edsig.CheckPublicKey(k.PublicKey); err != nil {
			return bad("decision key %v: invalid Ed25519 public key: %v", k.ID, err)
		}
		if ComputeKeyID(k.PublicKey) != k.ID {
			return bad("decision key %v: key ID does not match the public key", k.ID)
		}
		if i > 0 && bytes.Compare(d.DecisionKeys[i-1].ID[:], k.ID[:]) >= 0 {
			return bad("decision keys must be sorted by key ID, each once")
		}
		if _, ok := d.Lookup(k.ID); ok {
			return bad("decision key %v is also an issuing key", k.ID)
		}
	}
	if len(d.Reasons) > MaxReasons {
		return bad("%d reasons, limit %d", len(d.Reasons), MaxReasons)
	}
	for i, r := range d.Reasons {
		if r.Code == 0 || (i > 0 && r.Code <= d.Reasons[i-1].Code) {
			return bad("reason codes must be nonzero and strictly increasing (at %d)", r.Code)
		}
		if r.Text == "" || len(r.Text) > MaxReasonTextSize || !plainText(r.Text, true) {
			return bad("reason %d: text must be 1 to %d printable ASCII characters other than \" \\ < > &", r.Code, MaxReasonTextSize)
		}
		if len(r.Outcomes) == 0 {
			return bad("reason %d: no outcomes", r.Code)
		}
		for j, o := range r.Outcomes {
			if j > 0 && o <= r.Outcomes[j-1] {
				return bad("reason %d: outcomes must be strictly increasing", r.Code)
			}
			if _, ok := d.OutcomeName(o); !ok {
				return bad("reason %d: outcome %d is neither 0 (refused) nor a status of the directory", r.Code, o)
			}
		}
	}
	return nil
}

// plainText reports whether s is printable ASCII without the characters
// a JSON encoder escapes (" \ < > &), and without spaces unless spaces is
// set.
func plainText(s string, spaces bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || (c == ' ' && !spaces) {
			return false
		}
	}
	return true
}

// Receipt is the issuer's signed answer to one token request, a grant or
// a refusal alike (SPEC.md, "Receipt"). Its binary encoding is
// ReceiptSize bytes:
//
//	struct {
//	    uint8  version = 1;
//	    uint32 epoch;                /* start of the decision's epoch */
//	    uint8  outcome;              /* 0 = refused, or a status code */
//	    uint16 reason;               /* a reason code of the directory */
//	    uint8  evidence;             /* 0 or 1: evidence was presented */
//	    opaque evidence_sha256[32];  /* SHA-256 of the evidence; zero iff evidence = 0 */
//	    uint64 serial;               /* the directory's serial */
//	    opaque request_sha256[32];   /* SHA-256 of the request's bytes */
//	    opaque commitment[32];       /* chosen by the holder */
//	    opaque nonce[32];            /* random, chosen by the issuer */
//	    opaque key_id[8];            /* the decision key */
//	    opaque signature[64];        /* Ed25519 over the label and all the above */
//	} Receipt;
type Receipt struct {
	Epoch          uint32
	Outcome        Outcome
	Reason         uint16
	Evidence       bool
	EvidenceSHA256 [32]byte
	Serial         uint64
	RequestSHA256  [32]byte
	Commitment     [32]byte
	Nonce          [32]byte
	KeyID          KeyID
	Signature      []byte
}

// EpochTime returns the start of the receipt's epoch.
func (r *Receipt) EpochTime() time.Time { return time.Unix(int64(r.Epoch), 0).UTC() }

// appendBody appends the encoding of every field before the signature.
func (r *Receipt) appendBody(b []byte) []byte {
	b = append(b, receiptVersion)
	b = binary.BigEndian.AppendUint32(b, r.Epoch)
	b = append(b, byte(r.Outcome))
	b = binary.BigEndian.AppendUint16(b, r.Reason)
	var ev byte
	if r.Evidence {
		ev = 1
	}
	b = append(b, ev)
	b = append(b, r.EvidenceSHA256[:]...)
	b = binary.BigEndian.AppendUint64(b, r.Serial)
	b = append(b, r.RequestSHA256[:]...)
	b = append(b, r.Commitment[:]...)
	b = append(b, r.Nonce[:]...)
	return append(b, r.KeyID[:]...)
}

// SignedMessage returns the message a receipt's signature covers: the
// label "statustoken/v1 receipt" followed by every field before the
// signature. The issuer signs it.
func (r *Receipt) SignedMessage() []byte {
	return r.appendBody([]byte(receiptLabel))
}

// checkFields checks the rules of a receipt's fields alone.
func (r *Receipt) checkFields() error {
	if r == nil {
		return fmt.Errorf("%w: nil receipt", ErrMalformedReceipt)
	}
	if r.Reason == 0 {
		return fmt.Errorf("%w: reason 0", ErrMalformedReceipt)
	}
	if r.Evidence == (r.EvidenceSHA256 == [32]byte{}) {
		return fmt.Errorf("%w: the evidence digest must be zero exactly when no evidence was presented", ErrMalformedReceipt)
	}
	if r.Serial > MaxSerial {
		return fmt.Errorf("%w: serial %d above %d", ErrMalformedReceipt, r.Serial, uint64(MaxSerial))
	}
	if len(r.Signature) != ed25519.SignatureSize || !edsig.CheckSignatureEncoding(r.Signature) {
		return fmt.Errorf("%w: signature is not a canonical 64-byte Ed25519 signature", ErrMalformedReceipt)
	}
	return nil
}

// MarshalBinary encodes r after checking its fields.
func (r *Receipt) MarshalBinary() ([]byte, error) {
	if err := r.checkFields(); err != nil {
		return nil, err
	}
	return append(r.appendBody(make([]byte, 0, ReceiptSize)), r.Signature...), nil
}

// UnmarshalBinary decodes a receipt into r, as ParseReceipt does. On
// error r is left unchanged.
func (r *Receipt) UnmarshalBinary(b []byte) error {
	nr, err := ParseReceipt(b)
	if err != nil {
		return err
	}
	*r = *nr
	return nil
}

// ParseReceipt decodes a receipt strictly: exactly ReceiptSize bytes,
// version 1, a nonzero reason, an evidence flag of 0 or 1 with a digest
// that is zero exactly when the flag is, a serial of at most MaxSerial,
// and a canonical signature encoding. It checks no signature: see
// [Receipt.Check]. The result does not alias b.
func ParseReceipt(b []byte) (*Receipt, error) {
	if len(b) != ReceiptSize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrMalformedReceipt, len(b), ReceiptSize)
	}
	if b[0] != receiptVersion {
		return nil, fmt.Errorf("%w: version %d", ErrMalformedReceipt, b[0])
	}
	if b[8] > 1 {
		return nil, fmt.Errorf("%w: evidence flag %d", ErrMalformedReceipt, b[8])
	}
	r := &Receipt{
		Epoch:          binary.BigEndian.Uint32(b[1:5]),
		Outcome:        Outcome(b[5]),
		Reason:         binary.BigEndian.Uint16(b[6:8]),
		Evidence:       b[8] == 1,
		EvidenceSHA256: [32]byte(b[9:41]),
		Serial:         binary.BigEndian.Uint64(b[41:49]),
		RequestSHA256:  [32]byte(b[49:81]),
		Commitment:     [32]byte(b[81:113]),
		Nonce:          [32]byte(b[113:145]),
		KeyID:          KeyID(b[145:153]),
		Signature:      bytes.Clone(b[153:]),
	}
	if err := r.checkFields(); err != nil {
		return nil, err
	}
	return r, nil
}

// Check checks a receipt against the directory it cites (SPEC.md,
// "Checking a receipt"): signed by one of the directory's decision keys
// (ErrReceiptSignature), with the directory's serial and an epoch
// aligned to its epoch length and covered by its keys
// (ErrReceiptDirectory), and a reason the directory lists for the
// outcome, with evidence if the reason requires it (ErrReceiptReason).
// The signature is checked under the rules of Ed25519 tokens (SPEC.md,
// "Ed25519 verification").
func (r *Receipt) Check(d *Directory) error {
	if err := r.checkFields(); err != nil {
		return err
	}
	if !d.HasDecisions() {
		return fmt.Errorf("%w: the directory publishes no decision policy", ErrReceiptDirectory)
	}
	var pub []byte
	for _, k := range d.DecisionKeys {
		if k.ID == r.KeyID {
			pub = k.PublicKey
		}
	}
	if pub == nil {
		return fmt.Errorf("%w: key %v is not a decision key of directory %d", ErrReceiptSignature, r.KeyID, d.Serial)
	}
	pk, err := edsig.NewPublicKey(pub)
	if err != nil || !edsig.Verify(pk, r.SignedMessage(), r.Signature) {
		return ErrReceiptSignature
	}
	if r.Serial != d.Serial {
		return fmt.Errorf("%w: receipt of directory %d, checked against %d", ErrReceiptDirectory, r.Serial, d.Serial)
	}
	if r.Epoch%d.EpochLength != 0 || !d.coversEpoch(r.Epoch) {
		return fmt.Errorf("%w: epoch %d is not one of the directory's epochs", ErrReceiptDirectory, r.Epoch)
	}
	reason, ok := d.Reason(r.Reason)
	switch {
	case !ok:
		return fmt.Errorf("%w: reason %d is not listed", ErrReceiptReason, r.Reason)
	case !reason.Allows(r.Outcome):
		return fmt.Errorf("%w: reason %d cannot lead to outcome %d", ErrReceiptReason, r.Reason, r.Outcome)
	case reason.EvidenceRequired && !r.Evidence:
		return fmt.Errorf("%w: reason %d requires evidence and none was presented", ErrReceiptReason, r.Reason)
	}
	return nil
}

// coversEpoch reports whether a key of d has its epoch starting at start.
func (d *Directory) coversEpoch(start uint32) bool {
	for i := range d.Keys {
		if d.Keys[i].NotBefore == start {
			return true
		}
	}
	return false
}

// DecisionRecord is the decision log's entry for one receipt (SPEC.md,
// "Decision record"): what anyone may count, and a hiding commitment to
// the rest of the receipt. It holds nothing about the holder and nothing
// that links to a token.
//
//	struct {
//	    uint8  version = 1;
//	    uint32 epoch;
//	    uint8  outcome;
//	    uint16 reason;
//	    uint8  evidence;
//	    opaque commitment[32];  /* SHA-256("statustoken/v1 decision record" ||
//	                               the receipt's bytes 9 to 152) */
//	} DecisionRecord;
type DecisionRecord struct {
	Epoch      uint32
	Outcome    Outcome
	Reason     uint16
	Evidence   bool
	Commitment [32]byte
}

// RecordOf returns the decision record of a receipt. The commitment
// covers the evidence digest, serial, request digest, holder commitment,
// issuer nonce and key ID; the nonce, 32 random bytes, makes it hiding.
func RecordOf(r *Receipt) *DecisionRecord {
	body := r.appendBody(make([]byte, 0, receiptBodySize))
	h := sha256.New()
	h.Write([]byte(recordLabel))
	h.Write(body[9:])
	return &DecisionRecord{Epoch: r.Epoch, Outcome: r.Outcome, Reason: r.Reason, Evidence: r.Evidence, Commitment: [32]byte(h.Sum(nil))}
}

// MarshalBinary encodes the record. It fails only for reason 0.
func (rec *DecisionRecord) MarshalBinary() ([]byte, error) {
	if rec == nil || rec.Reason == 0 {
		return nil, fmt.Errorf("%w: reason 0", ErrMalformedRecord)
	}
	b := make([]byte, 0, RecordSize)
	b = append(b, recordVersion)
	b = binary.BigEndian.AppendUint32(b, rec.Epoch)
	b = append(b, byte(rec.Outcome))
	b = binary.BigEndian.AppendUint16(b, rec.Reason)
	var ev byte
	if rec.Evidence {
		ev = 1
	}
	b = append(b, ev)
	return append(b, rec.Commitment[:]...), nil
}

// ParseRecord decodes a decision record strictly: exactly RecordSize
// bytes, version 1, a nonzero reason and an evidence flag of 0 or 1.
func ParseRecord(b []byte) (*DecisionRecord, error) {
	switch {
	case len(b) != RecordSize:
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrMalformedRecord, len(b), RecordSize)
	case b[0] != recordVersion:
		return nil, fmt.Errorf("%w: version %d", ErrMalformedRecord, b[0])
	case b[8] > 1:
		return nil, fmt.Errorf("%w: evidence flag %d", ErrMalformedRecord, b[8])
	}
	rec := &DecisionRecord{
		Epoch:      binary.BigEndian.Uint32(b[1:5]),
		Outcome:    Outcome(b[5]),
		Reason:     binary.BigEndian.Uint16(b[6:8]),
		Evidence:   b[8] == 1,
		Commitment: [32]byte(b[9:]),
	}
	if rec.Reason == 0 {
		return nil, fmt.Errorf("%w: reason 0", ErrMalformedRecord)
	}
	return rec, nil
}

// Opening is what the holder commits to in a request's receipt: a
// random salt and a statement it will show an appeal body (a name, a
// case number). Keep it secret until the appeal.
type Opening struct {
	Salt      [32]byte
	Statement []byte
}

// Commitment returns SHA-256("statustoken/v1 holder commitment" || salt
// || uint16 length of statement || statement), the value the holder
// sends with its request. The random salt makes it hiding; it panics if
// the statement is longer than MaxStatementSize, which is a programming
// error.
func (o *Opening) Commitment() [32]byte {
	if len(o.Statement) > MaxStatementSize {
		panic("token: opening statement longer than MaxStatementSize")
	}
	h := sha256.New()
	h.Write([]byte(commitmentLabel))
	h.Write(o.Salt[:])
	h.Write(binary.BigEndian.AppendUint16(nil, uint16(len(o.Statement))))
	h.Write(o.Statement)
	return [32]byte(h.Sum(nil))
}

// CheckDecisionProof checks, as a wallet does when it first gets the
// proof, that the record of receipt r is in the decision log that
// directory d names, under a checkpoint signed by that log and cosigned
// by a quorum of trust's witnesses no longer ago than the policy's
// freshness bound at now. Failures are *LoadError values wrapping
// ErrDecisionNotLogged, ErrQuorum or ErrStale; a zero now is ErrStale.
// Check r against d first ([Receipt.Check]).
func CheckDecisionProof(r *Receipt, proof []byte, d *Directory, trust *Trust, now time.Time) (*Checkpoint, error) {
	pol, err := decisionPolicy(d, trust)
	if err != nil {
		return nil, err
	}
	rec, err := RecordOf(r).MarshalBinary()
	if err != nil {
		return nil, err
	}
	c, err := pol.IncludedAt(rec, proof, now)
	if err != nil {
		return nil, decisionError(err)
	}
	return &Checkpoint{c: c}, nil
}

// decisionPolicy returns trust's policy for the decision log d names.
func decisionPolicy(d *Directory, trust *Trust) (*transparency.Policy, error) {
	if !d.HasDecisions() {
		return nil, fmt.Errorf("%w: the directory publishes no decision policy", ErrReceiptDirectory)
	}
	pol, err := trust.policy().ForLog(d.DecisionLog)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrReceiptDirectory, err)
	}
	return pol, nil
}

// decisionError is loadError for the decision log: a proof that does
// not show the record is ErrDecisionNotLogged.
func decisionError(err error) *LoadError {
	e := loadError(err)
	if e.Err == ErrNotLogged || e.Err == ErrNotNewest {
		e.Err = ErrDecisionNotLogged
	}
	return e
}

// RequestDigestOf returns the digest of a request's exact bytes that a
// receipt carries: their SHA-256.
func RequestDigestOf(request []byte) [32]byte { return sha256.Sum256(request) }
