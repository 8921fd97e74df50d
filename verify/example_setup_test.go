package verify_test

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

// deployment is an issuer with its log, three witnesses and the trust
// policy that wallets and scanners pin. In a deployment the witnesses are
// independent services (c2sp.org/tlog-witness) that cosign a checkpoint
// only if it extends every one they cosigned before; here they are keys
// in the same process, and the third is offline.
type deployment struct {
	issuer    *issue.Issuer
	log       *issue.Log
	witnesses []*torchwood.CosignatureSigner
	trust     *token.Trust
}

func newDeployment(cfg issue.Config) *deployment {
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
	d := &deployment{issuer: issuer, log: log}
	policy := fmt.Sprintf("root %s\nlog %s\n", base64.StdEncoding.EncodeToString(issuer.RootPublicKey()), logVKey)
	for _, name := range []string{"w1.example", "w2.example", "w3.example"} {
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		w, err := torchwood.NewCosignatureSigner(name, k)
		if err != nil {
			panic(err)
		}
		d.witnesses = append(d.witnesses, w)
		policy += fmt.Sprintf("witness %s %s\n", name, w.Verifier())
	}
	policy += "group witnesses 2 w1.example w2.example w3.example\nquorum witnesses\nmax-age 48h\n"
	if d.trust, err = token.ParseTrust([]byte(policy)); err != nil {
		panic(err)
	}
	return d
}

// publish returns the issuer's directory at now with serial, logged and
// cosigned by the first two witnesses, with its proof.
func (d *deployment) publish(now time.Time, serial uint64) token.Published {
	dir, sig, err := d.issuer.Directory(now, serial)
	if err != nil {
		panic(err)
	}
	index, err := d.log.AppendDirectory(dir)
	if err != nil {
		panic(err)
	}
	checkpoint, err := d.log.Checkpoint()
	if err != nil {
		panic(err)
	}
	text, _, _ := strings.Cut(string(checkpoint), "\n\n")
	var cosignatures [][]byte
	for _, w := range d.witnesses[:2] {
		signed, err := note.Sign(&note.Note{Text: text + "\n"}, w)
		if err != nil {
			panic(err)
		}
		_, line, _ := strings.Cut(string(signed), "\n\n")
		cosignatures = append(cosignatures, []byte(line))
	}
	cosigned, err := d.log.Cosigned(checkpoint, cosignatures...)
	if err != nil {
		panic(err)
	}
	proof, err := d.log.Proof(index, cosigned)
	if err != nil {
		panic(err)
	}
	return token.Published{Directory: dir, Signature: sig, Proof: proof}
}
