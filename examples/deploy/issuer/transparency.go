package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/torchwood"
	"github.com/statustoken/statustoken/examples/deploy/internal/files"
	"github.com/statustoken/statustoken/examples/deploy/internal/logstore"
	"github.com/statustoken/statustoken/examples/deploy/internal/witnessclient"
	"github.com/statustoken/statustoken/token"
)

const (
	// trustFile is the trust policy that wallets and scanners pin.
	trustFile = "trust.txt"
	// defaultOrigin names the log of a new state directory when
	// -log-origin is not given. Give each deployment its own: witnesses
	// know logs by origin.
	defaultOrigin = "statustoken.example/deploy/directory"
)

// loadWitnesses reads the witnesses file.
func loadWitnesses(name string) ([]*witnessclient.Witness, error) {
	data, err := files.ReadLimited(name, witnessclient.MaxWitnessesFile)
	if err != nil {
		return nil, err
	}
	ws, err := witnessclient.ParseWitnesses(data)
	if err != nil {
		return nil, fmt.Errorf("witnesses file %s: %v", name, err)
	}
	return ws, nil
}

// trustText is the trust policy of this issuer: its root key, its log's
// key, the witnesses, the quorum of them that must cosign, and the
// freshness bound, two epochs.
func trustText(root []byte, logVKey string, ws []*witnessclient.Witness, quorum int, maxAge time.Duration) []byte {
	var b strings.Builder
	origin, _, _ := strings.Cut(logVKey, "+")
	fmt.Fprintf(&b, "# Trust policy of the statustoken issuer whose directory log is %s.\n", origin)
	b.WriteString("# Wallets and scanners pin this file (-trust). Hand it to them over a channel\n")
	b.WriteString("# you trust, never from the issuer's own service.\n")
	fmt.Fprintf(&b, "root %s\n", base64.StdEncoding.EncodeToString(root))
	fmt.Fprintf(&b, "log %s\n", logVKey)
	names := make([]string, len(ws))
	for i, w := range ws {
		b.WriteString(w.PolicyLine() + "\n")
		names[i] = w.Name
	}
	fmt.Fprintf(&b, "group witnesses %d %s\n", quorum, strings.Join(names, " "))
	b.WriteString("quorum witnesses\n")
	fmt.Fprintf(&b, "max-age %s\n", formatDuration(maxAge))
	return []byte(b.String())
}

// formatDuration writes whole hours as "48h" rather than "48h0m0s".
func formatDuration(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}

// writeTrust writes trust.txt into the state directory when it differs.
func writeTrust(dir string, text []byte) error {
	name := filepath.Join(dir, trustFile)
	if have, err := os.ReadFile(name); err == nil && string(have) == string(text) {
		return nil
	}
	return files.WriteAtomic(name, text, 0o644)
}

// restore returns the directory served before a restart: the last record
// of the last cosigned checkpoint's tree, with its proof (which may have
// gone stale since), or nil when there is none.
func (p *publisher) restore() *published {
	cp, err := p.logs.Checkpoint()
	if err != nil || cp == nil {
		if err != nil {
			p.logger.Warn("the last cosigned checkpoint is unreadable; none is served until the witnesses cosign a new one", "error", err)
		}
		return nil
	}
	l := p.logs.Log()
	text, _, _ := bytes.Cut(cp, []byte("\n\n"))
	c, err := torchwood.ParseCheckpoint(string(text) + "\n")
	size := c.N
	if err != nil || size < 1 || size > l.Size() {
		p.logger.Warn("the last cosigned checkpoint is not of this log's tree; ignored")
		return nil
	}
	record, err := l.Record(size - 1)
	if err != nil {
		return nil
	}
	serial, _, err := token.ParseLogRecord(record)
	if err != nil {
		return nil
	}
	data, sig, err := p.logs.Archived(serial)
	if err != nil {
		p.logger.Warn("the directory of the last cosigned checkpoint is missing from the archive", "serial", serial, "error", err)
		return nil
	}
	proof, err := l.Proof(size-1, cp)
	if err != nil {
		p.logger.Warn("the last cosigned checkpoint does not prove its directory; ignored", "error", err)
		return nil
	}
	pub := &published{data: data, sig: sig, serial: serial, index: size - 1, next: p.epochEnd(time.Now())}
	pub.setProof(proof, cp)
	return pub
}

func (pub *published) setProof(proof, checkpoint []byte) {
	pub.proof, pub.checkpoint = proof, checkpoint
	sum, psum := sha256.Sum256(pub.data), sha256.Sum256(proof)
	pub.etag = fmt.Sprintf(`"%d-%x-%x"`, pub.serial, sum[:8], psum[:4])
}

// cosign has the witnesses cosign a checkpoint of the whole log and, when
// a quorum of them did, serves the newest logged directory with its proof
// under that checkpoint. Run every -cosign-every, it keeps the proof
// fresh: witnesses cosign the same tree again with a new timestamp.
// Without a quorum the directory served before stays, and the round is
// retried after -cosign-retry. The caller holds p.pubMu.
func (p *publisher) cosign(ctx context.Context, now time.Time) error {
	p.cosignAt = now.Add(p.retry)
	latest := p.latest
	if latest == nil {
		return fmt.Errorf("no directory in the log")
	}
	l := p.logs.Log()
	checkpoint, err := l.Checkpoint()
	if err != nil {
		return err
	}
	outcomes := p.client.CosignAll(ctx, l, checkpoint, p.witnesses, func(w *witnessclient.Witness) int64 {
		return p.logs.WitnessSize(w.VerifierKey)
	})
	sizes := make(map[string]int64)
	var lines [][]byte
	for _, o := range outcomes {
		if o.Err != nil {
			p.logger.Warn("witness did not cosign", "witness", o.Witness.Name, "error", o.Err)
			continue
		}
		sizes[o.Witness.VerifierKey] = o.Result.Size
		lines = append(lines, o.Result.Line)
	}
	if err := p.logs.SetWitnessSizes(sizes); err != nil {
		p.logger.Error("saving the witnesses' tree sizes", "error", err)
	}
	if len(lines) < p.quorum {
		return fmt.Errorf("%d of %d witnesses cosigned the log's checkpoint, the quorum is %d: the directory served stays; retrying in %v",
			len(lines), len(p.witnesses), p.quorum, p.retry)
	}
	cosigned, err := l.Cosigned(checkpoint, lines...)
	if err != nil {
		return err
	}
	proof, err := l.Proof(latest.index, cosigned)
	if err != nil {
		return err
	}
	pub := *latest
	pub.setProof(proof, cosigned)
	// The issuer checks what it serves as a wallet would, under the trust
	// policy it wrote.
	if _, _, err := token.Open(token.Published{Directory: pub.data, Signature: pub.sig, Proof: pub.proof}, p.trust, token.Accepted{}, now); err != nil {
		return fmt.Errorf("the cosigned directory does not pass the trust policy: %v", err)
	}
	if err := p.logs.SaveCheckpoint(cosigned); err != nil {
		return err
	}
	p.mu.Lock()
	prev := p.cur
	p.cur = &pub
	p.mu.Unlock()
	p.cosignAt = now.Add(p.cosignEvery)
	if prev == nil || prev.serial != pub.serial {
		p.logger.Info("directory published", "serial", pub.serial, "bytes", len(pub.data), "log_size", pub.index+1,
			"cosigned_by", len(lines), "next", pub.next.UTC().Format(time.RFC3339))
	} else {
		p.logger.Info("directory proof refreshed", "serial", pub.serial, "log_size", l.Size(), "cosigned_by", len(lines))
	}
	return nil
}

func (p *publisher) epochEnd(now time.Time) time.Time {
	ep := int64(p.epoch / time.Second)
	return time.Unix((now.Unix()/ep+1)*ep, 0)
}

// openLog opens the log state and the witnesses, and writes trust.txt.
func openLog(c *config, st *state, logger *slog.Logger) (*logstore.Store, []*witnessclient.Witness, *token.Trust, error) {
	ws, err := loadWitnesses(c.witnesses)
	if err != nil {
		return nil, nil, nil, err
	}
	if c.quorum < 1 || c.quorum > len(ws) {
		return nil, nil, nil, fmt.Errorf("-quorum %d: the witnesses file lists %d witnesses", c.quorum, len(ws))
	}
	origin, err := c.origin()
	if err != nil {
		return nil, nil, nil, err
	}
	logs, err := logstore.Open(c.stateDir, origin)
	if err != nil {
		return nil, nil, nil, err
	}
	if logs.Created {
		logger.Info("created a new log key: register it with each witness", "origin", logs.Log().Origin(), "vkey", logs.Log().VerifierKey())
	}
	if logs.Repaired {
		logger.Warn("dropped an incomplete record at the end of the log's records file (a write that never finished)")
	}
	text := trustText(st.root.Public().(ed25519.PublicKey), logs.Log().VerifierKey(), ws, c.quorum, 2*c.epoch)
	trust, err := token.ParseTrust(text)
	if err != nil {
		logs.Close()
		return nil, nil, nil, err
	}
	if err := writeTrust(c.stateDir, text); err != nil {
		logs.Close()
		return nil, nil, nil, err
	}
	return logs, ws, trust, nil
}
