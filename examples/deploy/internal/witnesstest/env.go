package witnesstest

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

// Origin is the log origin of every Env.
const Origin = "statustoken.test/witnesstest/directory"

// Env is an issuer's log with three witnesses, w1, w2 and w3, for the
// tests of wallets and scanners: it logs directories and returns them
// with proofs cosigned by chosen witnesses at a chosen time, without any
// HTTP.
type Env struct {
	LogKey    string
	Log       *issue.Log
	Witnesses []*Witness
	Root      ed25519.PublicKey
}

// NewEnv returns an Env with an empty log, for directories signed by the
// root key root.
func NewEnv(root ed25519.PublicKey) *Env {
	skey, _, err := issue.GenerateLogKey(Origin)
	if err != nil {
		panic("witnesstest: " + err.Error())
	}
	l, err := issue.NewLog(skey, nil)
	if err != nil {
		panic("witnesstest: " + err.Error())
	}
	e := &Env{LogKey: skey, Log: l, Root: root}
	for _, n := range []string{"w1.example", "w2.example", "w3.example"} {
		e.Witnesses = append(e.Witnesses, New(n))
	}
	return e
}

// Policy returns the text of a trust policy for the Env: its root, log,
// witnesses, a quorum of 2 and the freshness bound maxAge.
func (e *Env) Policy(maxAge time.Duration) []byte {
	return Policy(e.Root, e.Log.VerifierKey(), e.Witnesses, 2, maxAge)
}

// Policy returns a trust policy's text.
func Policy(root ed25519.PublicKey, logVKey string, ws []*Witness, quorum int, maxAge time.Duration) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "root %s\nlog %s\n", base64.StdEncoding.EncodeToString(root), logVKey)
	var names []string
	for _, w := range ws {
		fmt.Fprintf(&b, "witness %s %s\n", w.Name, w.VerifierKey())
		names = append(names, w.Name)
	}
	fmt.Fprintf(&b, "group witnesses %d %s\nquorum witnesses\nmax-age %v\n", quorum, strings.Join(names, " "), maxAge)
	return []byte(b.String())
}

// Publish logs the directory data and returns it published with sig and
// a proof under a checkpoint of the whole log, cosigned at time at by the
// witnesses of the Env whose indexes are cosigners (none: w1 and w2).
func (e *Env) Publish(data, sig []byte, at time.Time, cosigners ...int) (token.Published, error) {
	i, err := e.Log.AppendDirectory(data)
	if err != nil {
		return token.Published{}, err
	}
	return e.Prove(i, data, sig, at, cosigners...)
}

// Prove returns the directory at index i of the log, published with a
// proof under a fresh checkpoint of the whole log, as Publish does.
func (e *Env) Prove(i int64, data, sig []byte, at time.Time, cosigners ...int) (token.Published, error) {
	if len(cosigners) == 0 {
		cosigners = []int{0, 1}
	}
	cp, err := e.Log.Checkpoint()
	if err != nil {
		return token.Published{}, err
	}
	var lines [][]byte
	for _, c := range cosigners {
		l, err := e.Witnesses[c].CosignatureLine(cp, at)
		if err != nil {
			return token.Published{}, err
		}
		lines = append(lines, l)
	}
	cosigned, err := e.Log.Cosigned(cp, lines...)
	if err != nil {
		return token.Published{}, err
	}
	proof, err := e.Log.Proof(i, cosigned)
	if err != nil {
		return token.Published{}, err
	}
	return token.Published{Directory: data, Signature: sig, Proof: proof}, nil
}
