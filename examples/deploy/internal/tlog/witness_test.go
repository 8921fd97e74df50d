package tlog_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/litewitnesstest"
	"github.com/statustoken/statustoken/examples/deploy/internal/tlog"
	"github.com/statustoken/statustoken/examples/deploy/internal/witnessclient"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/issue/issuetest"
	"github.com/statustoken/statustoken/token"
)

// Three litewitness processes cosign the log's checkpoints through
// witnessclient as the issuer asks them (c2sp.org/tlog-witness, with the
// consistency proofs the Log makes); a directory proven under a
// checkpoint that two of them cosigned passes token.Open; a fork of the
// log, signed by the same key, is refused by every witness.
func TestLitewitnessCosigns(t *testing.T) {
	litewitnesstest.Require(t)
	bin := t.TempDir()
	litewitnesstest.Build(t, bin)

	skey := newKey(t, testOrigin)
	dir := t.TempDir()
	l := open(t, filepath.Join(dir, "log"), skey, testOptions())
	var lines []string
	for i := range 3 {
		wdir := t.TempDir()
		k := litewitnesstest.NewKey(t, wdir, fmt.Sprintf("w%d.example", i+1))
		w := litewitnesstest.Start(t, bin, wdir, k, litewitnesstest.Log{Origin: l.Origin(), VerifierKey: l.VerifierKey()})
		lines = append(lines, w.Line())
	}
	ws, err := witnessclient.ParseWitnesses([]byte(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	p, err := issuetest.NewPublisher(issue.Config{EpochLength: 24 * time.Hour, Statuses: []token.StatusName{{Code: 1, Name: "green"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &witnessclient.Client{Timeout: time.Minute}
	sizes := map[string]int64{}
	cosign := func() ([]byte, [][]byte) {
		t.Helper()
		cp, err := l.Checkpoint()
		if err != nil {
			t.Fatal(err)
		}
		var got [][]byte
		for _, o := range c.CosignAll(context.Background(), l, cp, ws, func(w *witnessclient.Witness) int64 { return sizes[w.Name] }) {
			if o.Err != nil {
				t.Fatalf("witness %s: %v", o.Witness.Name, o.Err)
			}
			sizes[o.Witness.Name] = o.Result.Size
			got = append(got, o.Result.Line)
		}
		return cp, got
	}
	appendAll(t, l, records(5, "first"))
	cosign()
	snapshot := copyDir(t, filepath.Join(dir, "log"))
	appendAll(t, l, records(600, "second"))
	now := time.Now()
	data, sig, err := p.Issuer.Directory(now, 1)
	if err != nil {
		t.Fatal(err)
	}
	record, err := token.LogRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	di := appendAll(t, l, [][]byte{record})[0]
	cp, got := cosign()
	cosigned, err := l.Cosigned(cp, got[:2]...)
	if err != nil {
		t.Fatal(err)
	}
	proof, err := l.Proof(context.Background(), di, cosigned)
	if err != nil {
		t.Fatal(err)
	}
	var trust strings.Builder
	fmt.Fprintf(&trust, "root %s\nlog %s\n", base64.StdEncoding.EncodeToString(p.RootKey.Public().(ed25519.PublicKey)), l.VerifierKey())
	for _, w := range ws {
		trust.WriteString(w.PolicyLine() + "\n")
	}
	fmt.Fprintf(&trust, "group witnesses 2 %s %s %s\nquorum witnesses\nmax-age 48h\n", ws[0].Name, ws[1].Name, ws[2].Name)
	tr, err := token.ParseTrust([]byte(trust.String()))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := token.Open(token.Published{Directory: data, Signature: sig, Proof: proof}, tr, token.Accepted{}, now); err != nil {
		t.Fatalf("token.Open: %v", err)
	}

	// The fork: the log as it was at 5 entries, grown with others.
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	fork := open(t, snapshot, skey, testOptions())
	appendAll(t, fork, records(700, "fork"))
	fcp, err := fork.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range c.CosignAll(context.Background(), fork, fcp, ws, func(w *witnessclient.Witness) int64 { return sizes[w.Name] }) {
		var refused *witnessclient.RefusedError
		if !errors.As(o.Err, &refused) {
			t.Fatalf("witness %s on a fork: %v", o.Witness.Name, o.Err)
		}
	}
	// The first log makes no request for a checkpoint of the fork.
	if _, err := l.WitnessRequest(sizes[ws[0].Name], fcp); !errors.Is(err, tlog.ErrRequest) {
		t.Fatalf("a request for the fork's checkpoint: %v", err)
	}
}
