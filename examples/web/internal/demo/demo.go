// Package demo makes a complete demo deployment in memory, for the file
// server's -demo mode and the browser test: an issuer, its directory
// published through a transparency log with two of three witnesses
// cosigning (in-process keys, from issuetest), the trust policy a
// scanner pins, and sample tokens for every verdict the page shows.
package demo

import (
	"time"

	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/issue/issuetest"
	"github.com/statustoken/statustoken/token"
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
	p, err := issuetest.NewPublisher(issue.Config{
		EpochLength: EpochLength,
		Statuses:    Statuses,
		Epochs:      Epochs,
	}, &issuetest.Options{Origin: Origin})
	if err != nil {
		return nil, err
	}
	// Two of the three witnesses cosign, three epochs before now (the
	// third is offline): a cosignature dated ahead of a scanner's clock
	// does not count, and the demo shows scanners whose clocks lag by up
	// to three epochs.
	dir, sig, err := p.Issuer.Directory(now.Add(-2*EpochLength), 1)
	if err != nil {
		return nil, err
	}
	published, err := p.PublishDirectory(dir, sig, now.Add(-3*EpochLength))
	if err != nil {
		return nil, err
	}
	return &Deployment{
		Issuer:    p.Issuer,
		Published: published,
		TrustText: p.TrustText,
		Trust:     p.Trust,
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
