package issuer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"filippo.io/torchwood"
	"github.com/statustoken/statustoken/examples/deploy/internal/logstore"
	"github.com/statustoken/statustoken/examples/deploy/internal/witnessclient"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

// published is one logged directory version: its bytes and signature,
// and once a quorum of witnesses has cosigned a checkpoint that includes
// it, its proof under that checkpoint.
type published struct {
	data, sig []byte
	serial    uint64
	// index is the directory's record in the log.
	index int64
	// proof is the c2sp.org/tlog-proof bundle, and checkpoint the
	// cosigned checkpoint in it.
	proof, checkpoint []byte
	// etag names the directory, signature and proof together.
	etag string
	// next is when the directory's window moves: the end of the epoch it
	// was made in.
	next time.Time
}

func (pub *published) setProof(proof, checkpoint []byte) {
	pub.proof, pub.checkpoint = proof, checkpoint
	sum, psum := sha256.Sum256(pub.data), sha256.Sum256(proof)
	pub.etag = fmt.Sprintf(`"%d-%x-%x"`, pub.serial, sum[:8], psum[:4])
}

// publisher keeps the current directory and replaces it when an epoch
// ends, with a serial that only increases. Each directory goes into the
// log; it is served once a quorum of the witnesses has cosigned a
// checkpoint that includes it, and its proof is refreshed by cosigning
// the log again every cosignEvery.
//
// Serials: a new directory takes one more than the highest of the serial
// stored in the state directory (that of the last directory served) and
// the last serial in the log. The stored serial moves only once a
// directory is logged, cosigned and served. A directory is made only when
// the window moves (or the configuration changed): at start, the last
// directory in the log is kept, serial and all, when the issuer would
// make the same one now.
type publisher struct {
	is          *issue.Issuer
	st          *state
	logs        *logstore.Store
	witnesses   []*witnessclient.Witness
	client      *witnessclient.Client
	trust       *token.Trust
	quorum      int
	epoch       time.Duration
	cosignEvery time.Duration
	retry       time.Duration
	logger      *slog.Logger
	// serve, when set, is called with each directory served, in order.
	serve func(*published)

	mu  sync.RWMutex
	cur *published // served; nil until a first directory is cosigned

	// pubMu serializes publications and cosigning rounds, and guards:
	pubMu    sync.Mutex
	latest   *published // the newest directory in the log
	next     time.Time  // when to make the next directory
	cosignAt time.Time  // when to cosign the log next
}

// current returns the directory served, or nil.
func (p *publisher) current() *published {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.cur
}

// start makes the first publication of a run. Unless republish is set,
// the last directory in the log is kept when it is still current (the
// directory the issuer would make now, but for its serial): the witnesses
// cosign the log again and it is served with a fresh proof, under the
// same serial. Otherwise a new directory is made, logged and cosigned.
func (p *publisher) start(ctx context.Context, now time.Time, republish bool) error {
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	if !republish {
		if latest := p.stillCurrent(now); latest != nil {
			p.latest = latest
			p.next = latest.next
			p.logger.Info("directory still current: no new serial", "serial", latest.serial, "index", latest.index)
			if err := p.cosign(ctx, now); err != nil {
				return fmt.Errorf("directory serial %d not served yet: %w", latest.serial, err)
			}
			return nil
		}
	}
	return p.publishLocked(ctx, now)
}

// stillCurrent returns the last directory in the log when it is the one
// the issuer makes for now, or nil.
func (p *publisher) stillCurrent(now time.Time) *published {
	serial, index, ok := p.logs.Last()
	if !ok {
		return nil
	}
	data, sig, err := p.logs.Archived(serial)
	if err != nil {
		p.logger.Warn("the last directory in the log is missing from the archive: making a new one", "serial", serial, "error", err)
		return nil
	}
	want, _, err := p.is.Directory(now, serial)
	if err != nil || !bytes.Equal(data, want) {
		return nil
	}
	return &published{data: data, sig: sig, serial: serial, index: index, next: p.epochEnd(now)}
}

// nextSerial returns the serial of a new directory.
func (p *publisher) nextSerial() (uint64, error) {
	last := p.st.lastSerial()
	if logged, _, ok := p.logs.Last(); ok {
		last = max(last, logged)
	}
	if last >= token.MaxSerial {
		return 0, fmt.Errorf("serial %d reached the format's limit", last)
	}
	return last + 1, nil
}

// publish makes, signs and logs a new directory for now, then has the
// witnesses cosign the log. RSA keys for epochs not seen before are
// generated and stored first, which takes a moment. An error from making
// the directory leaves the log unchanged and is retried after p.retry;
// one from cosigning leaves the new directory in the log, unserved, and
// the cosigning is retried.
func (p *publisher) publish(ctx context.Context, now time.Time) error {
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	return p.publishLocked(ctx, now)
}

func (p *publisher) publishLocked(ctx context.Context, now time.Time) error {
	p.next = now.Add(p.retry)
	serial, err := p.nextSerial()
	if err != nil {
		return fmt.Errorf("directory serial: %w", err)
	}
	data, sig, err := p.is.Directory(now, serial)
	if err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	index, err := p.logs.Append(ctx, data, sig)
	if err != nil {
		return fmt.Errorf("logging the directory: %w", err)
	}
	p.latest = &published{data: data, sig: sig, serial: serial, index: index, next: p.epochEnd(now)}
	p.next = p.latest.next
	p.logger.Info("directory logged", "serial", serial, "index", index)
	if err := p.cosign(ctx, now); err != nil {
		return fmt.Errorf("directory serial %d not served yet: %w", serial, err)
	}
	return nil
}

// run publishes a new directory whenever an epoch ends, and has the
// witnesses cosign the log again every cosignEvery (or after p.retry when
// a round failed), until ctx is done. The previous directory is served
// until a new one is cosigned.
func (p *publisher) run(ctx context.Context, now func() time.Time) {
	for {
		p.pubMu.Lock()
		wake := p.next
		if p.cosignAt.Before(wake) {
			wake = p.cosignAt
		}
		p.pubMu.Unlock()
		t := time.NewTimer(max(time.Until(wake), 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		at := now()
		p.pubMu.Lock()
		due := !at.Before(p.next)
		p.pubMu.Unlock()
		if due {
			if err := p.publish(ctx, at); err != nil && ctx.Err() == nil {
				p.logger.Error("publication failed", "error", err)
			}
			continue
		}
		p.pubMu.Lock()
		err := p.cosign(ctx, at)
		p.pubMu.Unlock()
		if err != nil && ctx.Err() == nil {
			p.logger.Error("cosigning the log failed", "error", err)
		}
	}
}

// restore returns the directory served before a restart: the last record
// of the last cosigned checkpoint's tree, with its proof (which may have
// gone stale since), or nil when there is none.
func (p *publisher) restore(now time.Time) *published {
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
	if err != nil || size < 1 || size > p.logs.Size() {
		p.logger.Warn("the last cosigned checkpoint is not of this log's tree; ignored")
		return nil
	}
	ctx := context.Background()
	record, err := l.Entry(ctx, size-1)
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
	proof, err := l.Proof(ctx, size-1, cp)
	if err != nil {
		p.logger.Warn("the last cosigned checkpoint does not prove its directory; ignored", "error", err)
		return nil
	}
	pub := &published{data: data, sig: sig, serial: serial, index: size - 1, next: p.epochEnd(now)}
	pub.setProof(proof, cp)
	return pub
}

// cosign has the witnesses cosign a checkpoint of the whole log and, when
// a quorum of them did, serves the newest logged directory with its proof
// under that checkpoint, and stores its serial as the last served. Run
// every -cosign-every, it keeps the proof fresh: witnesses cosign the
// same tree again with a new timestamp. Without a quorum the directory
// served before stays, and the round is retried after -cosign-retry. The
// caller holds p.pubMu.
func (p *publisher) cosign(ctx context.Context, now time.Time) error {
	p.cosignAt = now.Add(p.retry)
	latest := p.latest
	if latest == nil {
		return fmt.Errorf("no directory in the log")
	}
	l := p.logs.Log()
	cosigned, n, err := cosignLog(ctx, p.client, p.logs, p.witnesses, p.quorum, p.retry, p.logger)
	if err != nil {
		return err
	}
	proof, err := l.Proof(ctx, latest.index, cosigned)
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
	if p.serve != nil {
		p.serve(&pub)
	}
	p.cosignAt = now.Add(p.cosignEvery)
	// Served: the serial is used up, and the next directory's is higher.
	if err := p.st.served(pub.serial, cosigned); err != nil {
		p.logger.Error("saving the serial of the directory served (the log keeps it too)", "serial", pub.serial, "error", err)
	}
	if prev == nil || prev.serial != pub.serial {
		p.logger.Info("directory published", "serial", pub.serial, "bytes", len(pub.data), "log_size", pub.index+1,
			"cosigned_by", n, "next", pub.next.UTC().Format(time.RFC3339))
	} else {
		p.logger.Info("directory proof refreshed", "serial", pub.serial, "log_size", p.logs.Size(), "cosigned_by", n)
	}
	return nil
}

func (p *publisher) epochEnd(now time.Time) time.Time {
	ep := int64(p.epoch / time.Second)
	return time.Unix((now.Unix()/ep+1)*ep, 0)
}

// cosignLog has the witnesses cosign the latest checkpoint of the log in
// store and returns it with a quorum's cosignatures added, and the
// number of witnesses that cosigned. Without a quorum it returns an
// error, wrapping ErrStateRolledBack when a witness has cosigned more of
// the log than it holds.
func cosignLog(ctx context.Context, client *witnessclient.Client, store *logstore.Store, witnesses []*witnessclient.Witness, quorum int, retry time.Duration, logger *slog.Logger) ([]byte, int, error) {
	l := store.Log()
	checkpoint, err := l.Checkpoint()
	if err != nil {
		return nil, 0, err
	}
	outcomes := client.CosignAll(ctx, l, checkpoint, witnesses, func(w *witnessclient.Witness) int64 {
		return store.WitnessSize(w.VerifierKey)
	})
	sizes := make(map[string]int64)
	var lines [][]byte
	for _, o := range outcomes {
		if o.Err == nil {
			sizes[o.Witness.VerifierKey] = o.Result.Size
			lines = append(lines, o.Result.Line)
		}
	}
	if err := store.SetWitnessSizes(sizes); err != nil {
		logger.Error("saving the witnesses' tree sizes", "log", l.Origin(), "error", err)
	}
	if len(lines) < quorum && ctx.Err() != nil {
		// Stopping: the witnesses were cut off, and nothing is retried.
		return nil, 0, ctx.Err()
	}
	var ahead error
	for _, o := range outcomes {
		if o.Err != nil {
			logger.Warn("witness did not cosign", "witness", o.Witness.Name, "log", l.Origin(), "error", o.Err)
		}
		if errors.Is(o.Err, witnessclient.ErrAhead) {
			ahead = o.Err
		}
	}
	if len(lines) < quorum && ahead != nil {
		dir := store.Dir()
		return nil, 0, fmt.Errorf("%w: %v: the log in %s holds %d records, fewer than the witnesses cosigned; it was restored from an old copy. Restore %s from a backup that holds every record they cosigned; never start a new log under the same key, the witnesses refuse a fork",
			ErrStateRolledBack, ahead, dir, store.Size(), dir)
	}
	if len(lines) < quorum {
		return nil, 0, fmt.Errorf("%d of %s cosigned the checkpoint of the log %s, the quorum is %d: retrying in %s",
			len(lines), plural(len(witnesses), "witness", "witnesses"), l.Origin(), quorum, humanDuration(retry))
	}
	cosigned, err := l.Cosigned(checkpoint, lines...)
	if err != nil {
		return nil, 0, err
	}
	return cosigned, len(lines), nil
}
