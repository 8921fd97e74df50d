// Package exampledeploy is the setup of the packages' examples: an issuer
// with its log, three witnesses and the trust policy, built with the
// public API only.
package exampledeploy

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

// Deployment is an issuer with its log, three witnesses and the trust
// policy that wallets and scanners pin. In a deployment the witnesses are
// independent services (c2sp.org/tlog-witness) that cosign a checkpoint
// only if it extends every one they cosigned before; here they are keys
// in the same process, and the third is offline.
type Deployment struct {
	Issuer    *issue.Issuer
	Log       *issue.Log
	Witnesses []*torchwood.CosignatureSigner
	Trust     *token.Trust
}

// New returns a Deployment of an issuer with cfg, whose root key and
// seed it generates.
func New(cfg issue.Config) *Deployment {
	_, cfg.RootKey, _ = ed25519.GenerateKey(rand.Reader)
	cfg.Seed = make([]byte, issue.SeedSize)
	rand.Read(cfg.Seed)
	issuer, err := issue.NewIssuer(cfg)
	if err != nil {
		panic(err)
	}
	logKey, logVKey, err := issue.GenerateLogKey("example.org/health/directory")
	if err != nil {
		panic(err)
	}
	log, err := issue.NewLog(logKey, nil)
	if err != nil {
		panic(err)
	}
	d := &Deployment{Issuer: issuer, Log: log}
	policy := fmt.Sprintf("root %s\nlog %s\n", base64.StdEncoding.EncodeToString(issuer.RootPublicKey()), logVKey)
	for _, name := range []string{"w1.example", "w2.example", "w3.example"} {
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		w, err := torchwood.NewCosignatureSigner(name, k)
		if err != nil {
			panic(err)
		}
		d.Witnesses = append(d.Witnesses, w)
		policy += fmt.Sprintf("witness %s %s\n", name, w.Verifier())
	}
	policy += "group witnesses 2 w1.example w2.example w3.example\nquorum witnesses\nmax-age 48h\n"
	if d.Trust, err = token.ParseTrust([]byte(policy)); err != nil {
		panic(err)
	}
	return d
}

// Publish returns the issuer's directory at now with serial, logged and
// cosigned by the first two witnesses, with its proof.
func (d *Deployment) Publish(now time.Time, serial uint64) token.Published {
	dir, sig, err := d.Issuer.Directory(now, serial)
	if err != nil {
		panic(err)
	}
	index, err := d.Log.AppendDirectory(dir)
	if err != nil {
		panic(err)
	}
	checkpoint, err := d.Log.Checkpoint()
	if err != nil {
		panic(err)
	}
	text, _, _ := strings.Cut(string(checkpoint), "\n\n")
	var cosignatures [][]byte
	for _, w := range d.Witnesses[:2] {
		signed, err := note.Sign(&note.Note{Text: text + "\n"}, w)
		if err != nil {
			panic(err)
		}
		_, line, _ := strings.Cut(string(signed), "\n\n")
		cosignatures = append(cosignatures, []byte(line))
	}
	cosigned, err := d.Log.Cosigned(checkpoint, cosignatures...)
	if err != nil {
		panic(err)
	}
	proof, err := d.Log.Proof(index, cosigned)
	if err != nil {
		panic(err)
	}
	return token.Published{Directory: dir, Signature: sig, Proof: proof}
}
