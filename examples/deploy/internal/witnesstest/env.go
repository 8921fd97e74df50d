package witnesstest

import (
	"crypto/ed25519"
	"time"

	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/issue/issuetest"
	"github.com/statustoken/statustoken/token"
)

// Origin is the log origin of every Env.
const Origin = "statustoken.test/witnesstest/directory"

// Env is an issuer's log with three witnesses, w1, w2 and w3, for the
// tests of wallets and scanners: it logs directories that the test's own
// issuer signs and returns them with proofs cosigned by chosen witnesses
// at a chosen time (issuetest.Publisher), without any HTTP.
type Env struct {
	LogKey    string
	Log       *issue.Log
	Witnesses []*issuetest.Witness
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
		w, err := issuetest.NewWitness(n, nil)
		if err != nil {
			panic("witnesstest: " + err.Error())
		}
		e.Witnesses = append(e.Witnesses, w)
	}
	return e
}

// Policy returns the text of a trust policy for the Env: its root, log,
// witnesses, a quorum of 2 and the freshness bound maxAge.
func (e *Env) Policy(maxAge time.Duration) []byte {
	return issuetest.TrustPolicy(e.Root, e.Log.VerifierKey(), e.Witnesses, maxAge)
}

// Publish logs the directory data and returns it published with sig and
// a proof under a checkpoint of the whole log, cosigned at time at by the
// witnesses of the Env whose indexes are cosigners (none: w1 and w2).
func (e *Env) Publish(data, sig []byte, at time.Time, cosigners ...int) (token.Published, error) {
	return e.publisher().PublishDirectory(data, sig, at, cosignersOf(cosigners)...)
}

// Prove returns the directory at index i of the log, published with a
// proof under a fresh checkpoint of the whole log, as Publish does.
func (e *Env) Prove(i int64, data, sig []byte, at time.Time, cosigners ...int) (token.Published, error) {
	proof, err := e.publisher().Prove(i, at, cosignersOf(cosigners)...)
	if err != nil {
		return token.Published{}, err
	}
	return token.Published{Directory: data, Signature: sig, Proof: proof}, nil
}

func (e *Env) publisher() *issuetest.Publisher {
	return &issuetest.Publisher{Log: e.Log, LogKey: e.LogKey, Witnesses: e.Witnesses}
}

func cosignersOf(indexes []int) []issuetest.Cosigner {
	cs := make([]issuetest.Cosigner, len(indexes))
	for i, w := range indexes {
		cs[i] = issuetest.Cosigner{Witness: w}
	}
	return cs
}
