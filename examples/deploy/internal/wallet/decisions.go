package wallet

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/files"
	"github.com/statustoken/statustoken/holder"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/token/tokenhttp"
)

// DecisionsFile (mode 0600) keeps every decision the issuer signed for
// this wallet, a grant or a refusal: the receipt, the published
// directory it cites, the holder's opening of its commitment (a secret
// until an appeal), when the wallet got it by its own clock, and the
// inclusion proof of its record in the decision log once fetched. No
// decision is ever dropped: each is evidence.
const DecisionsFile = "decisions.json"

const (
	decisionsFileFormat = 1
	// maxDecisionsFile bounds the decisions file.
	maxDecisionsFile = 64 << 20
)

// decisionFile is the JSON form of decisions.json. Directories are kept
// once, however many decisions cite them.
type decisionFile struct {
	Version     int               `json:"version"`
	Directories []token.Published `json:"directories"`
	Decisions   []storedDecision  `json:"decisions"`
}

// storedDecision is one decision.
type storedDecision struct {
	Receipt   []byte    `json:"receipt"`
	Directory int       `json:"directory"` // index in Directories
	Salt      []byte    `json:"salt"`
	Statement []byte    `json:"statement"`
	Received  time.Time `json:"received"`
	// Proof is the record's inclusion proof, checked when fetched;
	// empty until then.
	Proof []byte `json:"proof,omitempty"`
}

// decision is a stored decision, parsed.
type decision struct {
	receipt  *token.Receipt
	raw      []byte
	cited    token.Published
	dir      *token.Directory
	opening  token.Opening
	received time.Time
	proof    []byte
}

// loadDecisions reads the decisions file; none when it is missing.
func (s *Store) loadDecisions() ([]*decision, error) {
	if s.missing {
		return nil, nil
	}
	name := filepath.Join(s.dir, DecisionsFile)
	data, err := files.ReadPrivate(name, maxDecisionsFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var f decisionFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if f.Version != decisionsFileFormat {
		return nil, fmt.Errorf("%s: unknown format version %d", name, f.Version)
	}
	dirs := make([]*token.Directory, len(f.Directories))
	for i, p := range f.Directories {
		if dirs[i], err = token.ParseDirectory(p.Directory); err != nil {
			return nil, fmt.Errorf("%s: directory %d: %v", name, i+1, err)
		}
	}
	var out []*decision
	for i, sd := range f.Decisions {
		r, err := token.ParseReceipt(sd.Receipt)
		if err == nil && (sd.Directory < 0 || sd.Directory >= len(dirs) || len(sd.Salt) != 32 || len(sd.Statement) > token.MaxStatementSize) {
			err = errors.New("malformed entry")
		}
		if err != nil {
			return nil, fmt.Errorf("%s: decision %d: %v", name, i+1, err)
		}
		out = append(out, &decision{
			receipt: r, raw: sd.Receipt, cited: f.Directories[sd.Directory], dir: dirs[sd.Directory],
			opening:  token.Opening{Salt: [32]byte(sd.Salt), Statement: sd.Statement},
			received: sd.Received, proof: sd.Proof,
		})
	}
	return out, nil
}

// marshalDecisions returns the decisions file of ds.
func marshalDecisions(ds []*decision) ([]byte, error) {
	f := decisionFile{Version: decisionsFileFormat, Directories: []token.Published{}, Decisions: []storedDecision{}}
	index := map[[32]byte]int{}
	for _, d := range ds {
		h := sha256.Sum256(d.cited.Directory)
		i, ok := index[h]
		if !ok {
			i = len(f.Directories)
			index[h] = i
			f.Directories = append(f.Directories, d.cited)
		}
		f.Decisions = append(f.Decisions, storedDecision{
			Receipt: d.raw, Directory: i, Salt: d.opening.Salt[:], Statement: d.opening.Statement,
			Received: d.received.UTC(), Proof: d.proof,
		})
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// reserveDecision reserves room for the decisions file with one more
// decision, under the published directory cited.
func (s *Store) reserveDecision(ds []*decision, cited token.Published) (*reserved, error) {
	placeholder := &decision{raw: make([]byte, token.ReceiptSize), cited: cited,
		opening: token.Opening{Statement: make([]byte, token.MaxStatementSize)}, received: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)}
	data, err := marshalDecisions(append(ds[:len(ds):len(ds)], placeholder))
	if err != nil {
		return nil, err
	}
	return s.reserve(DecisionsFile, int64(len(data)))
}

// saveDecisions writes the decisions file, into r when not nil.
func (s *Store) saveDecisions(ds []*decision, r *reserved) error {
	data, err := marshalDecisions(ds)
	if err != nil {
		if r != nil {
			r.discard()
		}
		return err
	}
	if r == nil {
		return s.writeAtomic(DecisionsFile, data)
	}
	return r.commit(s.dir, DecisionsFile, data)
}

// outcomeText describes a decision: "green: reason 1 Negative test
// result" or "refused: reason 4 Administrative".
func (d *decision) outcomeText() string {
	name, ok := d.dir.OutcomeName(d.receipt.Outcome)
	if !ok {
		name = fmt.Sprintf("outcome %d", d.receipt.Outcome)
	}
	return name + ": " + d.reasonText()
}

// reasonText names the decision's reason: "reason 4 Administrative".
func (d *decision) reasonText() string {
	text := "reason " + strconv.Itoa(int(d.receipt.Reason))
	if r, ok := d.dir.Reason(d.receipt.Reason); ok {
		text += " " + r.Text
	}
	return text
}

// logDelay is the decision_log_delay of the directory the receipt cites.
func (d *decision) logDelay() time.Duration {
	return time.Duration(d.dir.DecisionLogDelay) * time.Second
}

// unlogged reports whether the decision has no proof longer than its
// directory's decision_log_delay after the wallet got its receipt.
func (d *decision) unlogged(now time.Time) bool {
	return len(d.proof) == 0 && now.Sub(d.received) > d.logDelay()
}

// logStatus says whether the decision is in the decision log.
func (d *decision) logStatus(now time.Time) string {
	switch {
	case len(d.proof) > 0:
		return "logged"
	case d.unlogged(now):
		return fmt.Sprintf("NOT LOGGED (due by %s): the signed receipt is evidence that the issuer kept this decision out of its public log", formatTime(d.received.Add(d.logDelay())))
	}
	return "not logged yet (due by " + formatTime(d.received.Add(d.logDelay())) + ")"
}

// fetchProofs fetches, from the issuer at o.Issuer, the inclusion proof
// of each stored decision that has none, checks it with h and keeps it;
// then reports on Stderr every decision whose record is still missing
// from the log after its directory's decision_log_delay. A proof the
// issuer cannot give yet is asked for again at the next contact; one
// that does not check is reported and not kept.
func fetchProofs(ctx context.Context, e *Env, o RequestOptions, s *Store, h *holder.Holder) error {
	ds, err := s.loadDecisions()
	if err != nil || len(ds) == 0 {
		return err
	}
	c, err := tokenhttp.NewClient(o.Issuer.String(), e.client())
	if err != nil {
		return err
	}
	log := e.log()
	fetched := 0
	for i, d := range ds {
		if len(d.proof) > 0 {
			continue
		}
		record, err := token.RecordOf(d.receipt).MarshalBinary()
		if err != nil {
			return err
		}
		proof, err := c.FetchDecisionProof(ctx, sha256.Sum256(record))
		switch {
		case errors.Is(err, tokenhttp.ErrNotYetLogged):
			log.Debug("decision record not in the log yet", "decision", i+1)
			continue
		case err != nil:
			log.Warn("fetching a decision proof failed; asking again next time", "decision", i+1, "err", err.Error())
			continue
		}
		if _, err := h.CheckDecisionProof(d.raw, proof, d.cited); err != nil {
			fmt.Fprintf(e.Stderr, "wallet: the issuer's proof for decision %d does not check (%v): it is the issuer's fault; asking again next time\n", i+1, err)
			continue
		}
		d.proof = proof
		fetched++
	}
	if fetched > 0 {
		if err := s.saveDecisions(ds, nil); err != nil {
			return fmt.Errorf("storing the decision proofs: %w", err)
		}
		log.Debug("decision proofs stored", "proofs", fetched)
	}
	now := e.now()
	for i, d := range ds {
		if d.unlogged(now) {
			fmt.Fprintf(e.Stderr, "wallet: decision %d (%s, received %s) is not in the issuer's decision log %v after the receipt, longer than its decision_log_delay: the signed receipt is evidence that the issuer kept it out; keep it (wallet appeal -decision %d -o FILE)\n",
				i+1, d.outcomeText(), formatTime(d.received), now.Sub(d.received).Round(time.Second), i+1)
		}
	}
	return nil
}

// Decisions fetches and checks the issuer's directory as Update does,
// fetches the missing proofs of the stored decisions, and lists the
// decisions on Stdout, one a line, with their log status. With a nil
// o.Issuer it contacts no one and lists what is stored (the state must
// exist).
func Decisions(ctx context.Context, e *Env, o RequestOptions) error {
	var s *Store
	var err error
	if o.Issuer == nil {
		if s, err = openState(o.State, e); err != nil {
			return err
		}
		defer s.Close()
	} else {
		var h *holder.Holder
		if s, h, err = fetchDirectory(ctx, e, o); err != nil {
			return err
		}
		defer s.Close()
		if err := fetchProofs(ctx, e, o, s, h); err != nil {
			return err
		}
	}
	ds, err := s.loadDecisions()
	if err != nil {
		return err
	}
	if len(ds) == 0 {
		fmt.Fprintf(e.Stderr, "wallet: no decisions in %s\n", o.State)
		return nil
	}
	now := e.now()
	for i, d := range ds {
		fmt.Fprintf(e.Stdout, "%d  %s  %s  %s\n", i+1, formatTime(d.received), d.outcomeText(), d.logStatus(now))
	}
	return nil
}

// AppealOptions are the parameters of Appeal.
type AppealOptions struct {
	// State is the wallet directory; it must exist.
	State string
	// Decision is the decision's number, from 1 as Decisions lists them;
	// 0 for the last.
	Decision int
	// Out names the file to write the bundle to (mode 0600; it holds the
	// opening). It must not exist.
	Out string
}

// Appeal writes the appeal bundle of a stored decision (token.Appeal) to
// o.Out, checked first as an appeal body checks it (token.CheckAppeal),
// under the trust policy the wallet saved. A decision without a proof is
// written with an empty proof: an appeal body then finds the receipt
// signed but not logged, itself evidence once its decision_log_delay
// has passed.
func Appeal(e *Env, o AppealOptions) error {
	s, err := openState(o.State, e)
	if err != nil {
		return err
	}
	defer s.Close()
	ds, err := s.loadDecisions()
	if err != nil {
		return err
	}
	n := o.Decision
	if n == 0 {
		n = len(ds)
	}
	if len(ds) == 0 {
		return fmt.Errorf("no decisions in %s: the issuer's receipts are stored by 'wallet request'", o.State)
	}
	if n < 1 || n > len(ds) {
		return fmt.Errorf("no decision %d: %s has %s (wallet decisions lists them)", n, o.State, plural(len(ds), "decision"))
	}
	d := ds[n-1]
	policy, err := files.ReadLimited(filepath.Join(o.State, TrustFile), token.MaxTrustSize)
	if err != nil {
		return err
	}
	trust, err := token.ParseTrust(policy)
	if err != nil {
		return damaged("trust policy copy "+filepath.Join(o.State, TrustFile)+" is", "it does not parse", err)
	}
	a := token.Appeal{Receipt: d.raw, DecisionProof: d.proof, Directory: d.cited, Opening: d.opening}
	bundle, err := a.MarshalBinary()
	if err != nil {
		return err
	}
	f, err := token.CheckAppeal(bundle, trust)
	switch {
	case err != nil && len(d.proof) == 0 && errors.Is(err, token.ErrDecisionNotLogged) && f != nil:
		// Everything holds but the record's proof, which is missing.
	case err != nil:
		return fmt.Errorf("the appeal bundle of decision %d does not check: %w", n, err)
	}
	if err := files.WriteNew(o.Out, bundle); err != nil {
		return err
	}
	status := "with its decision log proof"
	if len(d.proof) == 0 {
		status = "without a decision log proof: " + d.logStatus(e.now())
	}
	fmt.Fprintf(e.Stderr, "wallet: appeal bundle of decision %d (%s) written to %s, %s; it holds your statement: give it to the appeal body only\n",
		n, d.outcomeText(), o.Out, status)
	return nil
}

// newOpening returns an opening with a random salt and statement.
func newOpening(statement string) (token.Opening, error) {
	if len(statement) > token.MaxStatementSize {
		return token.Opening{}, fmt.Errorf("the statement is %d bytes long, more than %d", len(statement), token.MaxStatementSize)
	}
	var o token.Opening
	rand.Read(o.Salt[:])
	o.Statement = []byte(statement)
	return o, nil
}
