package main

import (
	"crypto/ed25519"
	"crypto/rand"

	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/issue/issuetest"
	"github.com/statustoken/statustoken/token"
)

// splitView shows the attack that the log and its witnesses stop. The
// authority, which holds the root key and the log key, signs a second
// serial-2 directory in which the key of one status is its own, to mark
// whoever gets it, and gives it to one wallet (target) that has accepted
// only serial 1. The wallet refuses it, whether it comes with the proof of
// the honest serial 2 (the split directory is not in the log) or with a
// proof from a forked log, which no witness cosigns. It returns the two
// refusals.
//
// The publisher's witnesses are keys in this process (issuetest): in a
// deployment each is an independent service (such as litewitness, which
// examples/deploy runs) that cosigns a checkpoint only if it extends
// every one it cosigned before.
func splitViewOf(p *issuetest.Publisher, honest token.Published, target interface{ Update(token.Published) error }) (notLogged, forked error, err error) {
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
	splitSig := ed25519.Sign(p.RootKey, append([]byte("statustoken/v1 directory"), split...))

	notLogged = target.Update(token.Published{Directory: split, Signature: splitSig, Proof: honest.Proof})

	// A fork of the log: the records up to serial 1, then the split
	// directory, under a checkpoint that only the log signs.
	records := make([][]byte, p.Log.Size()-1)
	for i := range records {
		if records[i], err = p.Log.Record(int64(i)); err != nil {
			return nil, nil, err
		}
	}
	fork, err := issue.NewLog(p.LogKey, records)
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
