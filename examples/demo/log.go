package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	"filippo.io/torchwood"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
	"golang.org/x/mod/sumdb/note"
)

// publisher is the issuer's transparency log with three witnesses, w1 to
// w3. In a deployment each witness is an independent service (such as
// litewitness, which examples/deploy runs) that cosigns a checkpoint only
// if it extends every one it cosigned before; here they are keys in this
// process, and w3 is offline.
type publisher struct {
	issuer    *issue.Issuer
	logKey    string
	log       *issue.Log
	witnesses []*torchwood.CosignatureSigner
	trust     *token.Trust
}

func newPublisher(issuer *issue.Issuer) (*publisher, error) {
	logKey, logVKey, err := issue.GenerateLogKey("demo.statustoken.example/directory")
	if err != nil {
		return nil, err
	}
	p := &publisher{issuer: issuer, logKey: logKey}
	if p.log, err = issue.NewLog(logKey, nil); err != nil {
		return nil, err
	}
	policy := fmt.Sprintf("root %s\nlog %s\n", base64.StdEncoding.EncodeToString(issuer.RootPublicKey()), logVKey)
	for _, name := range []string{"w1.example", "w2.example", "w3.example"} {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		w, err := torchwood.NewCosignatureSigner(name, k)
		if err != nil {
			return nil, err
		}
		p.witnesses = append(p.witnesses, w)
		policy += fmt.Sprintf("witness %s %s\n", name, w.Verifier())
	}
	policy += "group witnesses 2 w1.example w2.example w3.example\nquorum witnesses\nmax-age 48h\n"
	if p.trust, err = token.ParseTrust([]byte(policy)); err != nil {
		return nil, err
	}
	return p, nil
}

// publish logs a directory, has the online witnesses cosign the new
// checkpoint, and returns the directory with its proof.
func (p *publisher) publish(dir, sig []byte) (token.Published, error) {
	index, err := p.log.AppendDirectory(dir)
	if err != nil {
		return token.Published{}, err
	}
	checkpoint, err := p.log.Checkpoint()
	if err != nil {
		return token.Published{}, err
	}
	cosigned, err := cosign(p.log, checkpoint, p.witnesses[:2]...)
	if err != nil {
		return token.Published{}, err
	}
	proof, err := p.log.Proof(index, cosigned)
	if err != nil {
		return token.Published{}, err
	}
	return token.Published{Directory: dir, Signature: sig, Proof: proof}, nil
}

// cosign adds the cosignatures of witnesses to a checkpoint of log.
func cosign(log *issue.Log, checkpoint []byte, witnesses ...*torchwood.CosignatureSigner) ([]byte, error) {
	text, _, _ := strings.Cut(string(checkpoint), "\n\n")
	var lines [][]byte
	for _, w := range witnesses {
		signed, err := note.Sign(&note.Note{Text: text + "\n"}, w)
		if err != nil {
			return nil, err
		}
		_, line, _ := strings.Cut(string(signed), "\n\n")
		lines = append(lines, []byte(line))
	}
	return log.Cosigned(checkpoint, lines...)
}

// splitView shows the attack that the log and its witnesses stop. The
// authority, which holds the root key and the log key, signs a second
// serial-2 directory in which the key of one status is its own, to mark
// whoever gets it, and gives it to one wallet (target) that has accepted
// only serial 1. The wallet refuses it, whether it comes with the proof of
// the honest serial 2 (the split directory is not in the log) or with a
// proof from a forked log, which no witness cosigns. It returns the two
// refusals.
func (p *publisher) splitView(root ed25519.PrivateKey, honest token.Published, target interface{ Update(token.Published) error }) (notLogged, forked error, err error) {
	d, err := token.ParseDirectory(honest.Directory)
	if err != nil {
		return nil, nil, err
	}
	_, mark, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	k := &d.Keys[0]
	k.PublicKey = mark.Public().(ed25519.PublicKey)
	k.ID = token.ComputeKeyID(k.PublicKey)
	split, err := d.MarshalBinary()
	if err != nil {
		return nil, nil, err
	}
	// The root signature covers a label and the bytes (token/SPEC.md,
	// "Directory signature"): the split directory is genuinely signed.
	splitSig := ed25519.Sign(root, append([]byte("statustoken/v1 directory"), split...))

	notLogged = target.Update(token.Published{Directory: split, Signature: splitSig, Proof: honest.Proof})

	// A fork of the log: the records up to serial 1, then the split
	// directory, under a checkpoint that only the log signs.
	records := make([][]byte, p.log.Size()-1)
	for i := range records {
		if records[i], err = p.log.Record(int64(i)); err != nil {
			return nil, nil, err
		}
	}
	fork, err := issue.NewLog(p.logKey, records)
	if err != nil {
		return nil, nil, err
	}
	index, err := fork.AppendDirectory(split)
	if err != nil {
		return nil, nil, err
	}
	checkpoint, err := fork.Checkpoint()
	if err != nil {
		return nil, nil, err
	}
	proof, err := fork.Proof(index, checkpoint)
	if err != nil {
		return nil, nil, err
	}
	forked = target.Update(token.Published{Directory: split, Signature: splitSig, Proof: proof})
	return notLogged, forked, nil
}
