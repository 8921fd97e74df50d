package issuer

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"filippo.io/torchwood"
	"github.com/statustoken/statustoken/examples/deploy/internal/files"
	"github.com/statustoken/statustoken/examples/deploy/internal/logstore"
	"github.com/statustoken/statustoken/examples/deploy/internal/witnessclient"
	"github.com/statustoken/statustoken/token"
)

// The decision log (DESIGN.md, section 11): one record per receipt, in
// the second log of the state directory (logstore.Decisions). The token
// handler queues each record before it answers: the record is appended,
// synced, to decisions/queue. Every decision interval a batcher moves the
// queue into decisions/batch (the log's size before the batch, 8 bytes
// big-endian, then the records), appends the batch to the log in an order
// drawn at random, has the witnesses cosign the log, and removes the
// batch file. A start after a stop anywhere in between appends the
// records of the batch file that the log does not hold after the size
// it names, then those of the queue: no record of a receipt handed out is
// lost, and none is logged twice. The proofs are found through an index
// of the records' SHA-256 in memory, about 100 bytes a record, made at
// start from the log.
const (
	queueFile = "queue"
	batchFile = "batch"
)

// decisionLog is the issuer's decision log and its queue.
type decisionLog struct {
	store       *logstore.Store
	client      *witnessclient.Client
	witnesses   []*witnessclient.Witness
	quorum      int
	interval    time.Duration
	cosignEvery time.Duration
	retry       time.Duration
	logger      *slog.Logger

	mu      sync.Mutex // guards queue and pending
	queue   *os.File
	pending [][]byte

	// runMu serializes batches and cosigning rounds, and guards cosignAt
	// (when the cosigned checkpoint is due again) and retryAt (when a
	// round without a quorum may be retried).
	runMu    sync.Mutex
	cosignAt time.Time
	retryAt  time.Time

	idxMu    sync.RWMutex
	index    map[[sha256.Size]byte]int64 // SHA-256 of a record -> its index
	size     int64                       // records indexed
	cosigned []byte                      // the latest cosigned checkpoint, or nil
	cosN     int64                       // its tree size
}

// openDecisionLog opens the queue of the decision log in store, indexes
// the log's records, and appends what a stop left in the batch file.
func openDecisionLog(ctx context.Context, store *logstore.Store, d *decisionLog) error {
	d.store = store
	d.index = make(map[[sha256.Size]byte]int64)
	if cp, err := store.Checkpoint(); err != nil {
		return err
	} else if cp != nil {
		n, err := treeSize(cp)
		if err != nil {
			return fmt.Errorf("%s: %v", filepath.Join(store.Dir(), "checkpoint"), err)
		}
		d.cosigned, d.cosN = cp, n
	}
	if err := d.indexTo(ctx, store.Size()); err != nil {
		return err
	}
	if err := d.recoverBatch(ctx); err != nil {
		return err
	}
	name := filepath.Join(store.Dir(), queueFile)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(f, 1<<30))
	if err == nil {
		// A record cut short was never answered: its write did not
		// return.
		n := len(data) - len(data)%token.RecordSize
		err = f.Truncate(int64(n))
		if err == nil {
			_, err = f.Seek(int64(n), io.SeekStart)
		}
		for i := 0; i < n; i += token.RecordSize {
			d.pending = append(d.pending, data[i:i+token.RecordSize:i+token.RecordSize])
		}
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("%s: %v", name, err)
	}
	d.queue = f
	if len(d.pending) > 0 {
		d.logger.Info("decision records queued before a stop will be logged", "records", len(d.pending))
	}
	return nil
}

func treeSize(cp []byte) (int64, error) {
	text := cp
	if i := indexBlank(cp); i >= 0 {
		text = cp[:i+1]
	}
	c, err := torchwood.ParseCheckpoint(string(text))
	if err != nil {
		return 0, errors.New("not a checkpoint")
	}
	return c.N, nil
}

func indexBlank(b []byte) int {
	for i := 0; i+1 < len(b); i++ {
		if b[i] == '\n' && b[i+1] == '\n' {
			return i
		}
	}
	return -1
}

// indexTo indexes the records of the log up to size.
func (d *decisionLog) indexTo(ctx context.Context, size int64) error {
	d.idxMu.Lock()
	defer d.idxMu.Unlock()
	const chunk = 1 << 16
	for d.size < size {
		recs, err := d.store.Log().Entries(ctx, d.size, min(size, d.size+chunk))
		if err != nil {
			return err
		}
		for _, rec := range recs {
			d.index[sha256.Sum256(rec)] = d.size
			d.size++
		}
	}
	return nil
}

// enqueue writes record to the queue, synced, before the answer that
// carries its receipt is sent.
func (d *decisionLog) enqueue(record []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.queue.Write(record); err != nil {
		return fmt.Errorf("queueing a decision record: %v", err)
	}
	if err := d.queue.Sync(); err != nil {
		return fmt.Errorf("queueing a decision record: %v", err)
	}
	d.pending = append(d.pending, record)
	return nil
}

// flush moves the queue into the batch file and appends the batch.
func (d *decisionLog) flush(ctx context.Context) (int, error) {
	if err := d.recoverBatch(ctx); err != nil {
		return 0, err
	}
	d.mu.Lock()
	batch := d.pending
	if len(batch) == 0 {
		d.mu.Unlock()
		return 0, nil
	}
	base := d.store.Size()
	data := binary.BigEndian.AppendUint64(nil, uint64(base))
	for _, r := range batch {
		data = append(data, r...)
	}
	err := files.WriteAtomic(filepath.Join(d.store.Dir(), batchFile), data, 0o600)
	if err == nil {
		err = d.queue.Truncate(0)
	}
	if err == nil {
		_, err = d.queue.Seek(0, io.SeekStart)
	}
	if err == nil {
		err = d.queue.Sync()
	}
	if err != nil {
		d.mu.Unlock()
		return 0, fmt.Errorf("moving the decision queue to %s: %v", batchFile, err)
	}
	d.pending = nil
	d.mu.Unlock()
	return len(batch), d.recoverBatch(ctx)
}

// recoverBatch appends the records of the batch file that the log does
// not hold after the size the file names, then removes the file.
func (d *decisionLog) recoverBatch(ctx context.Context) error {
	name := filepath.Join(d.store.Dir(), batchFile)
	data, err := files.ReadPrivate(name, 8+(1<<30))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(data) < 8 || (len(data)-8)%token.RecordSize != 0 {
		return fmt.Errorf("%s is damaged: it holds decision records that may not be in the log yet; restore it from a backup", name)
	}
	base := int64(binary.BigEndian.Uint64(data))
	size := d.store.Size()
	if base > size {
		return fmt.Errorf("%s names a log of %d records, but the log holds %d: restore %s from a backup", name, base, size, d.store.Dir())
	}
	held := make(map[[sha256.Size]byte]bool)
	recs, err := d.store.Log().Entries(ctx, base, size)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		held[sha256.Sum256(rec)] = true
	}
	var missing [][]byte
	for b := data[8:]; len(b) > 0; b = b[token.RecordSize:] {
		if !held[sha256.Sum256(b[:token.RecordSize])] {
			missing = append(missing, b[:token.RecordSize])
		}
	}
	if len(missing) > 0 {
		idx, err := d.store.Log().Append(ctx, missing)
		if err != nil {
			return fmt.Errorf("appending %d decision records: %w", len(missing), err)
		}
		var top int64
		for _, i := range idx {
			top = max(top, i+1)
		}
		if _, err := d.store.Log().AwaitCheckpoint(ctx, top); err != nil {
			return err
		}
	}
	if err := d.indexTo(ctx, d.store.Size()); err != nil {
		return err
	}
	return os.Remove(name)
}

// cosign has the witnesses cosign the decision log's latest checkpoint
// and keeps it for the proofs served.
func (d *decisionLog) cosign(ctx context.Context, now time.Time) error {
	cp, n, err := cosignLog(ctx, d.client, d.store, d.witnesses, d.quorum, d.retry, d.logger)
	if err != nil {
		d.retryAt = now.Add(d.retry)
		return err
	}
	size, err := treeSize(cp)
	if err != nil {
		return err
	}
	if err := d.store.SaveCheckpoint(cp); err != nil {
		return err
	}
	d.idxMu.Lock()
	grew := size != d.cosN
	d.cosigned, d.cosN = cp, size
	d.idxMu.Unlock()
	d.cosignAt = now.Add(d.cosignEvery)
	if grew {
		d.logger.Info("decision log cosigned", "log_size", size, "cosigned_by", n)
	}
	return nil
}

// round appends the queued records and has the witnesses cosign the log
// when it grew, or when the cosigned checkpoint is due again; after a
// round without a quorum, not before the retry interval.
func (d *decisionLog) round(ctx context.Context, now time.Time) error {
	d.runMu.Lock()
	defer d.runMu.Unlock()
	n, err := d.flush(ctx)
	if err != nil {
		return err
	}
	d.idxMu.RLock()
	behind := d.cosigned == nil || d.cosN < d.size
	d.idxMu.RUnlock()
	if (n > 0 || behind || !now.Before(d.cosignAt)) && !now.Before(d.retryAt) {
		return d.cosign(ctx, now)
	}
	return nil
}

// run appends and cosigns every interval until ctx is done.
func (d *decisionLog) run(ctx context.Context, now func() time.Time) {
	t := time.NewTicker(d.interval)
	defer t.Stop()
	for {
		if err := d.round(ctx, now()); err != nil && ctx.Err() == nil {
			d.logger.Error("decision log", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// errNotLogged: a record not (yet) under the cosigned checkpoint.
var errNotLogged = errors.New("decision record not in a cosigned checkpoint yet")

// proof returns the inclusion proof of the record whose SHA-256 is sum
// under the latest cosigned checkpoint, or errNotLogged.
func (d *decisionLog) proof(ctx context.Context, sum [sha256.Size]byte) ([]byte, error) {
	d.idxMu.RLock()
	i, ok := d.index[sum]
	cp, n := d.cosigned, d.cosN
	d.idxMu.RUnlock()
	if !ok || i >= n {
		return nil, errNotLogged
	}
	return d.store.Log().Proof(ctx, i, cp)
}

// checkpoint returns the latest cosigned checkpoint, or nil.
func (d *decisionLog) checkpoint() []byte {
	d.idxMu.RLock()
	defer d.idxMu.RUnlock()
	return d.cosigned
}

// close closes the queue file.
func (d *decisionLog) close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.queue == nil {
		return nil
	}
	return d.queue.Close()
}

// retryAfter is the Retry-After of a proof not cosigned yet: the next
// round, in whole seconds.
func (d *decisionLog) retryAfter() string {
	return strconv.Itoa(max(1, int((2*d.interval+time.Second-1)/time.Second)))
}
