// Package demo makes a complete demo deployment in memory, for the file
// server's -demo mode and the browser test: an issuer, its directory
// published through a transparency log with two of three witnesses
// cosigning (in-process keys, as in examples/demo), the trust policy a
// scanner pins, and sample tokens for every verdict the page shows.
package demo

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"filippo.io/torchwood"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
	"golang.org/x/mod/sumdb/note"
)

// Statuses of the demo issuer.
var Statuses = []token.StatusName{{Code: 1, Name: "tested-negative"}, {Code: 2, Name: "vaccinated"}}

const (
	// EpochLength of the demo issuer: one hour, the shortest allowed, so
	// that an expired token of a key still listed is easy to make.
	EpochLength = time.Hour
	// Epochs listed by the demo directory: it is made as it was two epochs
	// ago, so it lists two past epochs, the current one and the next.
	Epochs = 4
	// Origin of the demo log.
	Origin = "demo.statustoken.example/directory"
)

// Deployment is one demo issuer and what it published.
type Deployment struct {
	Issuer    *issue.Issuer
	Published token.Published
	// TrustText is the trust policy a scanner pins; Trust is it parsed.
	TrustText []byte
	Trust     *token.Trust
	now       time.Time
}

// New makes a deployment whose directory, published at now, lists the
// keys from two epochs before now to the epoch after it.
func New(now time.Time) (*Deployment, error) {
	_, root, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	seed := make([]byte, issue.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	is, err := issue.NewIssuer(issue.Config{
		RootKey:     root,
		Seed:        seed,
		EpochLength: EpochLength,
		Statuses:    Statuses,
		Epochs:      Epochs,
	})
	if err != nil {
		return nil, err
	}
	dir, sig, err := is.Directory(now.Add(-2*EpochLength), 1)
	if err != nil {
		return nil, err
	}

	logKey, logVKey, err := issue.GenerateLogKey(Origin)
	if err != nil {
		return nil, err
	}
	log, err := issue.NewLog(logKey, nil)
	if err != nil {
		return nil, err
	}
	index, err := log.AppendDirectory(dir)
	if err != nil {
		return nil, err
	}
	checkpoint, err := log.Checkpoint()
	if err != nil {
		return nil, err
	}
	policy := fmt.Sprintf("# Demo trust policy: the issuer's root key, its log and three witnesses.\nroot %s\nlog %s\n",
		base64.StdEncoding.EncodeToString(is.RootPublicKey()), logVKey)
	text, _, _ := strings.Cut(string(checkpoint), "\n\n")
	var cosignatures [][]byte
	for i, name := range []string{"w1.example", "w2.example", "w3.example"} {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		w, err := torchwood.NewCosignatureSigner(name, k)
		if err != nil {
			return nil, err
		}
		policy += fmt.Sprintf("witness %s %s\n", name, w.Verifier())
		if i == 2 {
			continue // w3 is offline: two of three make the quorum
		}
		signed, err := note.Sign(&note.Note{Text: text + "\n"}, w)
		if err != nil {
			return nil, err
		}
		_, line, _ := strings.Cut(string(signed), "\n\n")
		cosignatures = append(cosignatures, []byte(line))
	}
	policy += "group witnesses 2 w1.example w2.example w3.example\nquorum witnesses\nmax-age 48h\n"
	cosigned, err := log.Cosigned(checkpoint, cosignatures...)
	if err != nil {
		return nil, err
	}
	proof, err := log.Proof(index, cosigned)
	if err != nil {
		return nil, err
	}
	trust, err := token.ParseTrust([]byte(policy))
	if err != nil {
		return nil, err
	}
	return &Deployment{
		Issuer:    is,
		Published: token.Published{Directory: dir, Signature: sig, Proof: proof},
		TrustText: []byte(policy),
		Trust:     trust,
		now:       now,
	}, nil
}

// Tokens returns n fresh valid tokens of status 1 (tested-negative) for
// the current epoch, in their QR text form.
func (d *Deployment) Tokens(n int) ([]string, error) {
	toks, err := d.Issuer.IssueEd25519(1, d.now, n)
	if err != nil {
		return nil, err
	}
	return texts(toks)
}

// Samples are one token for each verdict of the page.
type Samples struct {
	Valid    string // green
	Tampered string // red: a valid token with one nonce bit flipped
	Altered  string // red: a valid token whose status was changed
	Expired  string // red: a token of a listed key whose epoch has ended
	Foreign  string // red: a token of another issuer
}

// Samples issues a set of sample tokens.
func (d *Deployment) Samples() (Samples, error) {
	var s Samples
	toks, err := d.Issuer.IssueEd25519(1, d.now, 3)
	if err != nil {
		return s, err
	}
	if s.Valid, err = text(toks[0]); err != nil {
		return s, err
	}
	toks[1].Nonce[0] ^= 1
	if s.Tampered, err = text(toks[1]); err != nil {
		return s, err
	}
	toks[2].Status = 2
	if s.Altered, err = text(toks[2]); err != nil {
		return s, err
	}
	old, err := d.Issuer.IssueEd25519(1, d.now.Add(-2*EpochLength), 1)
	if err != nil {
		return s, err
	}
	if s.Expired, err = text(old[0]); err != nil {
		return s, err
	}
	other, err := New(d.now)
	if err != nil {
		return s, err
	}
	foreign, err := other.Tokens(1)
	if err != nil {
		return s, err
	}
	s.Foreign = foreign[0]
	return s, nil
}

func text(t *token.Token) (string, error) {
	b, err := t.MarshalText()
	return string(b), err
}

func texts(toks []*token.Token) ([]string, error) {
	out := make([]string, len(toks))
	for i, t := range toks {
		var err error
		if out[i], err = text(t); err != nil {
			return nil, err
		}
	}
	return out, nil
}
