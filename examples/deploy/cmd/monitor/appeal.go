package main

import (
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/files"
	"github.com/statustoken/statustoken/token"
)

const appealUsageText = `usage: monitor check-appeal -trust FILE BUNDLE

Checks an appeal bundle (written by "wallet appeal") offline, with the
trust policy alone, and prints what it proves: which issuer decided what,
for which reason, in which epoch, with or without evidence, logged where
every witness saw it, about the holder of the statement it opens.
Exit status: 0 valid, 1 not valid (among them a valid receipt that the
bundle does not prove logged: evidence against the issuer), 2 on a usage
error.

flags:
`

// checkAppeal runs "monitor check-appeal".
func checkAppeal(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("monitor check-appeal", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() {
		fmt.Fprint(stderr, appealUsageText)
		printFlags(stderr, fl)
	}
	trustFile := fl.String("trust", "", "the pinned trust policy `file` (trust.txt)")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "monitor check-appeal: "+format+"\n", a...)
		return 2
	}
	if *trustFile == "" || fl.NArg() != 1 {
		return usage("-trust and one appeal bundle are required (-h for help)")
	}
	text, err := files.ReadLimited(*trustFile, token.MaxTrustSize)
	if err != nil {
		return usage("reading the trust policy: %v", err)
	}
	trust, err := token.ParseTrust(text)
	if err != nil {
		return usage("%s: %v", *trustFile, err)
	}
	name := fl.Arg(0)
	data, err := readBundle(name)
	if err != nil {
		return usage("reading the appeal bundle: %v", err)
	}
	if len(data) > token.MaxAppealSize {
		fmt.Fprintf(stdout, "appeal %s: NOT VALID: longer than %d bytes, the largest appeal bundle\n", name, token.MaxAppealSize)
		return 1
	}

	f, err := token.CheckAppeal(data, trust)
	switch {
	case errors.Is(err, token.ErrDecisionNotLogged):
		// Everything but the decision log proof was checked: the
		// receipt is the issuer's and about the holder of the opening.
		fmt.Fprintf(stdout, "appeal %s: NOT LOGGED: the receipt is signed by the issuer's decision key and opened by its holder, but the bundle does not prove its record in the decision log (%v). Once the directory's decision log delay has passed since the receipt, a signed decision missing from the log is evidence against the issuer.\n", name, err)
		if f != nil {
			describe(stdout, trust, f.Directory, f.Receipt, f.Statement)
		} else if a, d, r, err := unlogged(data); err == nil {
			describe(stdout, trust, d, r, a.Opening.Statement)
		}
		return 1
	case err != nil:
		fmt.Fprintf(stdout, "appeal %s: NOT VALID: %v\n", name, err)
		return 1
	}
	fmt.Fprintf(stdout, "appeal %s: VALID: the issuer signed this decision and logged it where the witnesses saw it\n", name)
	describe(stdout, trust, f.Directory, f.Receipt, f.Statement)
	fmt.Fprintf(stdout, "directory log: serial %d in %s\n", f.Directory.Serial, checkpointText(f.DirectoryCheckpoint))
	fmt.Fprintf(stdout, "decision log:  the decision's record in %s\n", checkpointText(f.DecisionCheckpoint))
	return 0
}

// readBundle reads at most one byte more than the largest appeal bundle.
func readBundle(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, token.MaxAppealSize+1))
}

// unlogged decodes the parts of a bundle that token.CheckAppeal checked
// before it found the decision log proof wanting.
func unlogged(data []byte) (*token.Appeal, *token.Directory, *token.Receipt, error) {
	a, err := token.ParseAppeal(data)
	if err != nil {
		return nil, nil, nil, err
	}
	r, err := token.ParseReceipt(a.Receipt)
	if err != nil {
		return nil, nil, nil, err
	}
	d, err := token.ParseDirectory(a.Directory.Directory)
	if err != nil {
		return nil, nil, nil, err
	}
	return a, d, r, nil
}

// describe prints the decision of receipt r under directory d.
func describe(w io.Writer, trust *token.Trust, d *token.Directory, r *token.Receipt, statement []byte) {
	outcome, ok := d.OutcomeName(r.Outcome)
	if !ok {
		outcome = fmt.Sprintf("outcome %d", r.Outcome)
	}
	reason, required := "", false
	if rs, ok := d.Reason(r.Reason); ok {
		reason, required = rs.Text, rs.EvidenceRequired
	}
	req := "not required"
	if required {
		req = "required"
	}
	evidence := "none presented"
	if r.Evidence {
		evidence = "presented, SHA-256 " + fmt.Sprintf("%x", r.EvidenceSHA256)
	}
	start := r.EpochTime().UTC()
	end := start.Add(time.Duration(d.EpochLength) * time.Second)
	fmt.Fprintf(w, "issuer:        root key %s (directory log %s)\n", base64.StdEncoding.EncodeToString(trust.Root()), trust.LogOrigin())
	fmt.Fprintf(w, "decision:      %s\n", outcome)
	fmt.Fprintf(w, "reason:        %d %q (evidence %s)\n", r.Reason, reason, req)
	fmt.Fprintf(w, "evidence:      %s\n", evidence)
	fmt.Fprintf(w, "epoch:         %s..%s\n", start.Format(time.RFC3339), end.Format(time.RFC3339))
	fmt.Fprintf(w, "receipt:       under directory serial %d, signed by decision key %s; the directory's decision log delay is %s\n",
		r.Serial, r.KeyID, time.Duration(d.DecisionLogDelay)*time.Second)
	fmt.Fprintf(w, "statement:     %q\n", statement)
}

// checkpointText describes a verified checkpoint: its origin, size and
// the witnesses that cosigned it.
func checkpointText(c *token.Checkpoint) string {
	var ws []string
	for _, cs := range c.Cosignatures() {
		ws = append(ws, cs.Witness+" at "+cs.Time.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%s, a checkpoint of tree size %d cosigned by %s", c.Origin(), c.Size(), strings.Join(ws, ", "))
}
