package holder

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/statustoken/statustoken/internal/format"
	"github.com/statustoken/statustoken/token"
)

// Published returns the published directory the holder trusts now: its
// bytes, root signature and log proof. Keep it with every receipt
// received under it; an appeal bundle cites it.
func (h *Holder) Published() token.Published {
	h.check()
	h.mu.Lock()
	defer h.mu.Unlock()
	return clonePublished(h.pub)
}

func clonePublished(p token.Published) token.Published {
	return token.Published{Directory: bytes.Clone(p.Directory), Signature: bytes.Clone(p.Signature), Proof: bytes.Clone(p.Proof)}
}

// CheckReceipt checks the issuer's receipt for a request this holder
// sent (the exact bytes, from Request) with the holder commitment it
// chose (token.Opening.Commitment), before the answer is used or stored
// (token/SPEC.md, "Checking a receipt"). It refuses, each with its
// sentinel:
//   - a missing or malformed receipt (token.ErrMalformedReceipt);
//   - one not signed by a decision key of the holder's current directory
//     (token.ErrReceiptSignature);
//   - one of another directory serial, of an epoch the directory does
//     not cover, or under a directory without a decision policy
//     (token.ErrReceiptDirectory);
//   - one citing a reason the directory does not list for its outcome,
//     or without evidence its reason requires (token.ErrReceiptReason);
//   - one for another request or commitment, or granting another status
//     than the request's key is for (token.ErrReceiptMismatch).
//
// A refusal without a valid receipt is itself what the wallet records:
// the issuer answered and would not sign its decision.
func (h *Holder) CheckReceipt(request []byte, commitment [32]byte, receipt []byte) (*token.Receipt, error) {
	dir, _, _ := h.current()
	if len(receipt) == 0 {
		return nil, fmt.Errorf("%w: no receipt with the answer", token.ErrMalformedReceipt)
	}
	r, err := token.ParseReceipt(receipt)
	if err != nil {
		return nil, err
	}
	if err := r.Check(dir); err != nil {
		return nil, err
	}
	if r.RequestSHA256 != token.RequestDigestOf(request) {
		return nil, fmt.Errorf("%w: the receipt is for another request", token.ErrReceiptMismatch)
	}
	if r.Commitment != commitment {
		return nil, fmt.Errorf("%w: the receipt carries another holder commitment", token.ErrReceiptMismatch)
	}
	if r.Outcome != token.Refused {
		id, _, _, err := format.ParseBlind(request)
		k, ok := dir.Lookup(token.KeyID(id))
		if err != nil || !ok || token.Outcome(k.Status) != r.Outcome {
			return nil, fmt.Errorf("%w: status %d granted for a request of another status", token.ErrReceiptMismatch, r.Outcome)
		}
	}
	return r, nil
}

// CheckDecisionProof checks the decision log proof for a receipt
// received under the published directory cited (from Published, kept
// with the receipt), as a wallet does when it first gets the proof: the
// directory's root signature, the receipt against it, and the receipt's
// record in the directory's decision log under a checkpoint cosigned by
// a quorum of the pinned witnesses within the freshness bound at the
// holder's clock (token.CheckDecisionProof). A receipt that never gets
// such a proof is evidence that the issuer kept a decision out of its
// log.
func (h *Holder) CheckDecisionProof(receipt, proof []byte, cited token.Published) (*token.Checkpoint, error) {
	h.check()
	d, err := token.OpenDirectory(cited.Directory, cited.Signature, h.trust.Root())
	if err != nil {
		return nil, err
	}
	r, err := token.ParseReceipt(receipt)
	if err != nil {
		return nil, err
	}
	if err := r.Check(d); err != nil {
		return nil, err
	}
	return token.CheckDecisionProof(r, proof, d, h.trust, h.now())
}

// Appeal writes the appeal bundle of a decision (token/SPEC.md, "Appeal
// bundle"): the receipt, its decision log proof, the published directory
// it cites and the holder's opening. It checks the bundle as an appeal
// body will (token.CheckAppeal) and returns it only if it holds.
//
// With a nil proof it writes the bundle of a receipt whose record the
// issuer never proved to be in its decision log, itself evidence once
// the directory's DecisionLogDelay has passed: it returns the bundle if
// everything but the proof holds (token.CheckAppeal then reports
// token.ErrDecisionNotLogged with its Finding).
func (h *Holder) Appeal(receipt, proof []byte, cited token.Published, opening token.Opening) ([]byte, error) {
	h.check()
	a := token.Appeal{Receipt: receipt, DecisionProof: proof, Directory: cited, Opening: opening}
	b, err := a.MarshalBinary()
	if err != nil {
		return nil, err
	}
	f, err := token.CheckAppeal(b, h.trust)
	if err != nil && !(len(proof) == 0 && f != nil && errors.Is(err, token.ErrDecisionNotLogged)) {
		return nil, err
	}
	return b, nil
}
