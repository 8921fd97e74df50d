package token

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/statustoken/statustoken/internal/transparency"
	"golang.org/x/crypto/cryptobyte"
)

var (
	// ErrMalformedAppeal: appeal bytes that are not exactly one
	// canonical appeal bundle.
	ErrMalformedAppeal = errors.New("token: malformed appeal bundle")
	// ErrOpening: the holder's opening in an appeal bundle does not open
	// the receipt's commitment: the receipt is not shown to be about the
	// person who appeals.
	ErrOpening = errors.New("token: opening does not match the receipt's commitment")
)

const (
	appealVersion = 1
	// MaxAppealSize is the length of the largest appeal bundle read.
	MaxAppealSize = 1 + ReceiptSize + 2 + MaxProofSize + 3 + MaxDirectorySize +
		DirectorySignatureSize + 2 + MaxProofSize + 32 + 2 + MaxStatementSize
)

// Appeal is everything an appeal body needs to check one decision
// offline with the trust policy alone (SPEC.md, "Appeal bundle"): the
// receipt, the proof of its record in the decision log, the published
// directory it cites (its bytes, root signature and directory log
// proof), and the holder's opening of the receipt's commitment. A bundle
// without a decision proof shows a signed receipt the issuer has not
// logged: [CheckAppeal] checks the rest and reports the record missing.
//
//	struct {
//	    uint8  version = 1;
//	    opaque receipt[217];
//	    opaque decision_proof<0..2^16-1>;     /* tlog-proof, at most 16 KiB; empty: none */
//	    opaque directory<1..2^24-1>;          /* at most 1 MiB */
//	    opaque directory_signature[64];
//	    opaque directory_proof<1..2^16-1>;    /* tlog-proof, at most 16 KiB */
//	    opaque salt[32];
//	    opaque statement<0..2^16-1>;          /* at most 1024 bytes */
//	} AppealBundle;
type Appeal struct {
	Receipt       []byte
	DecisionProof []byte
	Directory     Published
	Opening       Opening
}

// MarshalBinary encodes the bundle after checking every length.
func (a *Appeal) MarshalBinary() ([]byte, error) {
	if err := a.checkLengths(); err != nil {
		return nil, err
	}
	b := cryptobyte.NewBuilder(make([]byte, 0, 1+ReceiptSize+len(a.DecisionProof)+len(a.Directory.Directory)+len(a.Directory.Proof)+200+len(a.Opening.Statement)))
	b.AddUint8(appealVersion)
	b.AddBytes(a.Receipt)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(a.DecisionProof) })
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(a.Directory.Directory) })
	b.AddBytes(a.Directory.Signature)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(a.Directory.Proof) })
	b.AddBytes(a.Opening.Salt[:])
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(a.Opening.Statement) })
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedAppeal, err)
	}
	return out, nil
}

func (a *Appeal) checkLengths() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrMalformedAppeal}, args...)...)
	}
	switch {
	case a == nil:
		return bad("no bundle")
	case len(a.Receipt) != ReceiptSize:
		return bad("receipt of %d bytes, want %d", len(a.Receipt), ReceiptSize)
	case len(a.DecisionProof) > MaxProofSize:
		return bad("decision proof of %d bytes, limit %d", len(a.DecisionProof), MaxProofSize)
	case len(a.Directory.Directory) == 0 || len(a.Directory.Directory) > MaxDirectorySize:
		return bad("directory of %d bytes, want 1 to %d", len(a.Directory.Directory), MaxDirectorySize)
	case len(a.Directory.Signature) != DirectorySignatureSize:
		return bad("directory signature of %d bytes, want %d", len(a.Directory.Signature), DirectorySignatureSize)
	case len(a.Directory.Proof) == 0 || len(a.Directory.Proof) > MaxProofSize:
		return bad("directory proof of %d bytes, want 1 to %d", len(a.Directory.Proof), MaxProofSize)
	case len(a.Opening.Statement) > MaxStatementSize:
		return bad("statement of %d bytes, limit %d", len(a.Opening.Statement), MaxStatementSize)
	}
	return nil
}

// ParseAppeal decodes an appeal bundle strictly: version 1, every
// length within its bound, nothing after the statement. Data longer than
// MaxAppealSize is refused without being read. It checks no signature
// or proof ([CheckAppeal] does); the result does not alias b.
func ParseAppeal(b []byte) (*Appeal, error) {
	if len(b) > MaxAppealSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformedAppeal, len(b), MaxAppealSize)
	}
	s := cryptobyte.String(b)
	var version uint8
	var receipt, dproof, dir, sig, proof, salt, statement cryptobyte.String
	if !s.ReadUint8(&version) || version != appealVersion ||
		!s.ReadBytes((*[]byte)(&receipt), ReceiptSize) ||
		!s.ReadUint16LengthPrefixed(&dproof) ||
		!s.ReadUint24LengthPrefixed(&dir) ||
		!s.ReadBytes((*[]byte)(&sig), DirectorySignatureSize) ||
		!s.ReadUint16LengthPrefixed(&proof) ||
		!s.ReadBytes((*[]byte)(&salt), 32) ||
		!s.ReadUint16LengthPrefixed(&statement) ||
		!s.Empty() {
		return nil, fmt.Errorf("%w: not a version 1 bundle of the stated lengths", ErrMalformedAppeal)
	}
	a := &Appeal{
		Receipt:       bytes.Clone(receipt),
		DecisionProof: bytes.Clone(dproof),
		Directory:     Published{Directory: bytes.Clone(dir), Signature: bytes.Clone(sig), Proof: bytes.Clone(proof)},
		Opening:       Opening{Salt: [32]byte(salt), Statement: bytes.Clone(statement)},
	}
	if err := a.checkLengths(); err != nil {
		return nil, err
	}
	return a, nil
}

// Finding is what a valid appeal bundle proves: that the issuer, under
// its root key, decided Outcome for Reason in the epoch starting at
// Receipt.Epoch, about the request of whoever holds the opening of
// Statement, and logged that decision where every witness saw it. For a
// bundle without a decision proof, CheckAppeal returns the Finding of
// all but the last, with DecisionCheckpoint nil.
type Finding struct {
	Receipt   *Receipt
	Record    *DecisionRecord
	Directory *Directory
	// OutcomeName is "refused" or the name of the granted status.
	OutcomeName string
	// ReasonText is the reason's text in the cited directory, and
	// EvidenceRequired whether it requires evidence.
	ReasonText       string
	EvidenceRequired bool
	// Statement is the holder's statement, from the opening.
	Statement []byte
	// DirectoryCheckpoint and DecisionCheckpoint are the checkpoints of
	// the two logs that include the directory and the decision record.
	DirectoryCheckpoint *Checkpoint
	DecisionCheckpoint  *Checkpoint
}

// CheckAppeal checks an appeal bundle offline under the trust policy
// alone, however old it is (SPEC.md, "Checking an appeal"):
//
//  1. the bundle's encoding (ErrMalformedAppeal) and the receipt's
//     (ErrMalformedReceipt);
//  2. the directory's root signature and rules (the errors of
//     OpenDirectory);
//  3. the directory's record in the directory log, at any index, under a
//     checkpoint signed by the log and cosigned by a quorum of the
//     witnesses (a *LoadError wrapping ErrNotLogged or ErrQuorum);
//  4. the receipt against the directory ([Receipt.Check]:
//     ErrReceiptSignature, ErrReceiptDirectory, ErrReceiptReason);
//  5. the opening against the receipt's commitment (ErrOpening);
//  6. the receipt's decision record in the decision log the directory
//     names, under a checkpoint signed by that log's key and cosigned by
//     a quorum of the same witnesses (ErrReceiptDirectory for a decision
//     log key the policy cannot use; a *LoadError wrapping
//     ErrDecisionNotLogged or ErrQuorum).
//
// A bundle whose decision proof is empty is one the holder writes for a
// receipt whose record it never got a proof of. CheckAppeal checks
// steps 1 to 5 and the decision log key, and then returns the Finding
// (DecisionCheckpoint nil) together with a *LoadError wrapping
// ErrDecisionNotLogged: the receipt is the issuer's, signed, about the
// holder, and the bundle does not show it logged. Whether the issuer
// kept it out of the log is for the appeal body to weigh, with the
// directory's DecisionLogDelay and when the holder says it asked.
//
// No freshness applies: an appeal is checked long after the decision.
func CheckAppeal(data []byte, trust *Trust) (*Finding, error) {
	pol := trust.policy()
	a, err := ParseAppeal(data)
	if err != nil {
		return nil, err
	}
	r, err := ParseReceipt(a.Receipt)
	if err != nil {
		return nil, err
	}
	d, err := OpenDirectory(a.Directory.Directory, a.Directory.Signature, pol.Root)
	if err != nil {
		return nil, err
	}
	dc, err := pol.Included(transparency.Record(d.Serial, a.Directory.Directory), a.Directory.Proof)
	if err != nil {
		e := loadError(err)
		e.Detail, e.Serial = "directory log: "+e.Detail, d.Serial
		return nil, e
	}
	if err := r.Check(d); err != nil {
		return nil, err
	}
	if c := a.Opening.Commitment(); subtle.ConstantTimeCompare(c[:], r.Commitment[:]) != 1 {
		return nil, ErrOpening
	}
	dpol, err := decisionPolicy(d, trust)
	if err != nil {
		return nil, err
	}
	rec := RecordOf(r)
	recBytes, err := rec.MarshalBinary()
	if err != nil {
		return nil, err
	}
	outcome, _ := d.OutcomeName(r.Outcome)
	reason, _ := d.Reason(r.Reason)
	f := &Finding{
		Receipt: r, Record: rec, Directory: d,
		OutcomeName: outcome, ReasonText: reason.Text, EvidenceRequired: reason.EvidenceRequired,
		Statement:           bytes.Clone(a.Opening.Statement),
		DirectoryCheckpoint: &Checkpoint{c: dc},
	}
	if len(a.DecisionProof) == 0 {
		return f, &LoadError{Err: ErrDecisionNotLogged, Detail: "decision log: the bundle has no proof of the decision record", Serial: d.Serial}
	}
	cc, err := dpol.Included(recBytes, a.DecisionProof)
	if err != nil {
		e := decisionError(err)
		e.Detail, e.Serial = "decision log: "+e.Detail, d.Serial
		return nil, e
	}
	f.DecisionCheckpoint = &Checkpoint{c: cc}
	return f, nil
}
