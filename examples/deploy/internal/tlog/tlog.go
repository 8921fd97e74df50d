// Package tlog runs one of the issuer's transparency logs (DESIGN.md,
// sections 10 and 11) on Tessera (github.com/transparency-dev/tessera)
// and its POSIX driver: a c2sp.org/tlog-tiles log in a directory, with
// checkpoints signed by the log's note key (c2sp.org/tlog-checkpoint),
// c2sp.org/tlog-witness add-checkpoint requests for the witnesses, and
// inclusion proofs in the c2sp.org/tlog-proof@v1 form that token.Open
// checks.
//
// An issuer runs two: one of directory records (token.LogRecord) and one
// of decision records, each with its own origin and key. Open starts one;
// Append adds a batch of entries in an order drawn at random; the caller
// has the witnesses cosign Checkpoint (witnessclient, with the Log as the
// maker of requests), keeps the cosigned checkpoint, and passes it back to
// Open at the next start so that a state rolled back behind it is refused.
//
// # Security considerations
//
// The directory holds the whole log and nothing secret; the log's signer
// key is the caller's to keep. Open checks the files it starts from (see
// Open): a log that lost entries the witnesses cosigned must not start
// again from what is left, since it would sign a second tree that no
// witness will cosign and that contradicts proofs already handed out.
package tlog

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"filippo.io/torchwood"
	"github.com/statustoken/statustoken/internal/transparency"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/client"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var (
	// ErrDamaged: a file of the log directory is missing, truncated or
	// does not hash to the signed tree. The error says which file and
	// what to restore.
	ErrDamaged = errors.New("tlog: log directory damaged")
	// ErrRollback: the log directory is behind, or not an extension of,
	// the last cosigned checkpoint passed to Open. Restore the directory
	// from a backup at least as new as that checkpoint.
	ErrRollback = errors.New("tlog: log directory behind its cosigned checkpoint")
	// ErrEntry: an entry, or a batch, that the log does not take.
	ErrEntry = errors.New("tlog: entry refused")
	// ErrRequest: a checkpoint not of this log, an index or tree size it
	// does not have, or a tile path that is not the canonical path of a
	// tile of its tree.
	ErrRequest = errors.New("tlog: request refused")
	// ErrClosed: the log was closed.
	ErrClosed = errors.New("tlog: log closed")
)

// Options are a log's settings; the zero value is the defaults.
type Options struct {
	// MaxEntrySize bounds an entry in bytes: 1024 when zero, at most
	// 65535 (c2sp.org/tlog-tiles).
	MaxEntrySize int
	// MaxBatch bounds the entries of one Append: 16384 when zero.
	MaxBatch int
	// BatchAge is how long Tessera gathers entries before it sequences
	// them: 50ms when zero. Tessera also sequences every 1024 entries.
	BatchAge time.Duration
	// CheckpointInterval is how often a new checkpoint is signed while
	// the log grows: 500ms when zero, at least 100ms.
	CheckpointInterval time.Duration
	// Cosigned is the last checkpoint of this log that the witnesses
	// cosigned, as the caller kept it, or nil. Open refuses a log
	// directory whose tree does not extend it (ErrRollback).
	Cosigned []byte
	// EdgeCheckOnly limits Open's check of the files to the right edge
	// of the tree (the tiles that the next entries build on and the
	// last entry bundle). Without it Open also rehashes every entry
	// bundle and tile under the checkpoint, which reads the whole log
	// (about 115 bytes per entry of 80 bytes).
	EdgeCheckOnly bool
}

const (
	defaultMaxEntrySize = 1024
	defaultMaxBatch     = 1 << 14
	defaultBatchAge     = 50 * time.Millisecond
	defaultInterval     = 500 * time.Millisecond
	batchMaxSize        = 1024
	// maxCheckpoint bounds a checkpoint note read from disk or given.
	maxCheckpoint = 16 << 10
)

// Log is a log on Tessera's POSIX driver. It is safe for concurrent use.
type Log struct {
	dir         string
	signer      note.Signer
	verifier    note.Verifier
	verifierKey string
	maxEntry    int
	maxBatch    int
	interval    time.Duration
	fetch       client.FileFetcher
	// openSize is the size of the tree Tessera had integrated when Open
	// checked the directory.
	openSize int64

	add      tessera.AddFn
	shutdown func(context.Context) error
	cancel   context.CancelFunc

	mu     sync.RWMutex // guards closed; Append holds it for reading
	closed bool
}

// Open opens the log in dir, creating it when dir holds none, with the
// note signer key skey (as issue.GenerateLogKey makes: its name is the
// log's origin).
//
// Before Tessera starts, Open checks what it would build on, and refuses
// with ErrDamaged (saying which file to restore) a checkpoint file that
// is missing, unsigned or of another log; a tree state file
// (.state/treeState) that does not parse or is behind the checkpoint;
// tiles that do not hash to the checkpoint's root or to the tree state's;
// an entry bundle at the right edge whose entries do not hash to their
// tile; tiles or a checkpoint without a tree state; and, unless
// opts.EdgeCheckOnly, any entry bundle or tile under the checkpoint that
// does not hash as it must. With opts.Cosigned, a tree smaller than that
// checkpoint's, or whose root at its size differs, is refused with
// ErrRollback.
func Open(ctx context.Context, dir, skey string, opts *Options) (*Log, error) {
	if opts == nil {
		opts = &Options{}
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("tlog: the log's signer key does not parse: %v", err)
	}
	vkey, err := verifierKey(skey)
	if err != nil {
		return nil, err
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("tlog: %v", err)
	}
	l := &Log{
		dir: dir, signer: signer, verifier: verifier, verifierKey: vkey,
		maxEntry: opts.MaxEntrySize, maxBatch: opts.MaxBatch, interval: opts.CheckpointInterval,
		fetch: client.FileFetcher{Root: dir},
	}
	if l.maxEntry == 0 {
		l.maxEntry = defaultMaxEntrySize
	}
	if l.maxBatch == 0 {
		l.maxBatch = defaultMaxBatch
	}
	if l.interval == 0 {
		l.interval = defaultInterval
	}
	age := opts.BatchAge
	if age == 0 {
		age = defaultBatchAge
	}
	if l.maxEntry < 1 || l.maxEntry > tessera.DefaultEntrySizeLimit || l.maxBatch < 1 || l.interval < 100*time.Millisecond || age < 0 {
		return nil, errors.New("tlog: options out of range: MaxEntrySize 1 to 65535, MaxBatch at least 1, CheckpointInterval at least 100ms, BatchAge not negative")
	}
	if err := l.check(ctx, opts); err != nil {
		return nil, err
	}
	driver, err := posix.New(ctx, posix.Config{Path: dir})
	if err != nil {
		return nil, fmt.Errorf("tlog: %v", err)
	}
	// The appender's background work lives as long as the Log, not the
	// context of the call that opened it.
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	appender, shutdown, _, err := tessera.NewAppender(actx, driver, tessera.NewAppendOptions().
		WithCheckpointSigner(signer).
		WithBatching(batchMaxSize, age).
		WithPushback(uint(max(4*l.maxBatch, tessera.DefaultPushbackMaxOutstanding))).
		WithCheckpointInterval(l.interval).
		WithCheckpointRepublishInterval(0))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("tlog: starting Tessera in %s: %v", dir, err)
	}
	l.add, l.shutdown, l.cancel = appender.Add, shutdown, cancel
	return l, nil
}

// verifierKey returns the vkey of an Ed25519 note signer key,
// "PRIVATE+KEY+<name>+<hash>+<base64 of 0x01 || seed>".
func verifierKey(skey string) (string, error) {
	rest, ok := strings.CutPrefix(skey, "PRIVATE+KEY+")
	name, rest, ok2 := strings.Cut(rest, "+")
	_, key, ok3 := strings.Cut(rest, "+")
	k, err := base64.StdEncoding.DecodeString(key)
	if !ok || !ok2 || !ok3 || err != nil || len(k) != 1+ed25519.SeedSize || k[0] != 1 {
		return "", errors.New("tlog: the log's signer key is not an Ed25519 note key")
	}
	pub := ed25519.NewKeyFromSeed(k[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return "", fmt.Errorf("tlog: %v", err)
	}
	return vkey, nil
}

// OpenSize returns the size of the tree that Tessera had integrated when
// Open checked the log directory. The checkpoint may lag it after a stop
// between integrating entries and publishing a checkpoint over them;
// AwaitCheckpoint(ctx, OpenSize()) waits until one covers them.
func (l *Log) OpenSize() int64 { return l.openSize }

// Origin returns the origin line of the log's checkpoints.
func (l *Log) Origin() string { return l.signer.Name() }

// VerifierKey returns the log's verifier key (vkey), for trust policies
// and the witnesses.
func (l *Log) VerifierKey() string { return l.verifierKey }

// Close waits until every entry appended is under a published checkpoint
// (or ctx is done) and stops the log. Append after Close fails with
// ErrClosed; the methods that read the log still work.
func (l *Log) Close(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	err := l.shutdown(ctx)
	l.cancel()
	if err != nil {
		return fmt.Errorf("tlog: closing: %v", err)
	}
	return nil
}

// Append appends entries, in an order drawn at random within the batch
// (a shuffle seeded from crypto/rand), so that the positions in the log
// do not give away the order in which the entries arrived. It returns
// once Tessera has integrated them into the tree, with each entry's
// index, in the order of entries; AwaitCheckpoint then gives the first
// checkpoint that covers them. Each entry is 1 to
// Options.MaxEntrySize bytes, and a batch at most Options.MaxBatch
// entries; otherwise nothing is appended (ErrEntry). When ctx ends first,
// the entries queued may still be appended.
func (l *Log) Append(ctx context.Context, entries [][]byte) ([]int64, error) {
	if len(entries) > l.maxBatch {
		return nil, fmt.Errorf("%w: a batch of %d entries, the limit is %d", ErrEntry, len(entries), l.maxBatch)
	}
	for i, e := range entries {
		if len(e) < 1 || len(e) > l.maxEntry {
			return nil, fmt.Errorf("%w: entry %d of %d bytes, the limit is 1 to %d", ErrEntry, i, len(e), l.maxEntry)
		}
	}
	if len(entries) == 0 {
		return nil, nil
	}
	var seed [32]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("tlog: %v", err)
	}
	order := mrand.New(mrand.NewChaCha8(seed)).Perm(len(entries))
	futures := make([]tessera.IndexFuture, len(entries))
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return nil, ErrClosed
	}
	for _, i := range order {
		futures[i] = l.add(ctx, tessera.NewEntry(bytes.Clone(entries[i])))
	}
	l.mu.RUnlock()
	out := make([]int64, len(entries))
	for i, f := range futures {
		idx, err := f()
		if err != nil {
			return nil, fmt.Errorf("tlog: appending: %w", err)
		}
		out[i] = int64(idx.Index)
	}
	return out, nil
}

// AwaitCheckpoint waits until the log's latest checkpoint covers at
// least size entries (the next one is signed within
// Options.CheckpointInterval) and returns it; after Append, size is one
// more than the highest index returned.
func (l *Log) AwaitCheckpoint(ctx context.Context, size int64) ([]byte, error) {
	tick := time.NewTicker(min(l.interval/4, 50*time.Millisecond))
	defer tick.Stop()
	for {
		b, t, err := l.checkpoint()
		if err != nil {
			return nil, err
		}
		if t.N >= size {
			return b, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("tlog: waiting for a checkpoint of %d entries: %w", size, ctx.Err())
		case <-tick.C:
		}
	}
}

// Checkpoint returns the log's latest checkpoint, signed by the log: the
// note that witnesses cosign.
func (l *Log) Checkpoint() ([]byte, error) {
	b, _, err := l.checkpoint()
	return b, err
}

// Size returns the size of the tree of the latest checkpoint.
func (l *Log) Size() (int64, error) {
	_, t, err := l.checkpoint()
	return t.N, err
}

func (l *Log) checkpoint() ([]byte, tlog.Tree, error) {
	b, err := readLimited(filepath.Join(l.dir, "checkpoint"), maxCheckpoint)
	if err != nil {
		return nil, tlog.Tree{}, fmt.Errorf("%w: reading the checkpoint: %v", ErrDamaged, err)
	}
	t, err := l.treeOf(b)
	if err != nil {
		return nil, tlog.Tree{}, fmt.Errorf("%w: the checkpoint file is not signed by the key of the log %s", ErrDamaged, l.Origin())
	}
	return b, t, nil
}

// treeOf returns the tree of a checkpoint signed by this log. It does
// not check that the log has that tree.
func (l *Log) treeOf(checkpoint []byte) (tlog.Tree, error) {
	if len(checkpoint) > maxCheckpoint {
		return tlog.Tree{}, fmt.Errorf("%w: a checkpoint of %d bytes", ErrRequest, len(checkpoint))
	}
	n, err := note.Open(checkpoint, note.VerifierList(l.verifier))
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("%w: not a checkpoint signed by the log %s", ErrRequest, l.Origin())
	}
	c, err := torchwood.ParseCheckpoint(n.Text)
	if err != nil || c.Origin != l.Origin() {
		return tlog.Tree{}, fmt.Errorf("%w: not a checkpoint of the log %s", ErrRequest, l.Origin())
	}
	return c.Tree, nil
}

// tree returns the tree of checkpoint after checking that it is a tree
// of this log: no larger than the latest checkpoint's, with the root hash
// that the log's tiles give for its size.
func (l *Log) tree(ctx context.Context, checkpoint []byte) (tlog.Tree, error) {
	t, err := l.treeOf(checkpoint)
	if err != nil {
		return tlog.Tree{}, err
	}
	size, err := l.Size()
	if err != nil {
		return tlog.Tree{}, err
	}
	if t.N > size {
		return tlog.Tree{}, fmt.Errorf("%w: a checkpoint of %d entries, the log has %d", ErrRequest, t.N, size)
	}
	root, err := l.root(ctx, t.N)
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("%w: the tiles of the tree of %d entries: %v", ErrDamaged, t.N, err)
	}
	if root != t.Hash {
		return tlog.Tree{}, fmt.Errorf("%w: a checkpoint of a tree this log does not have", ErrRequest)
	}
	return t, nil
}

// root returns the root hash of the first n entries, from the tiles.
func (l *Log) root(ctx context.Context, n int64) (tlog.Hash, error) {
	if n == 0 {
		// RFC 6962: the hash of an empty tree is that of the empty string.
		return sha256.Sum256(nil), nil
	}
	hashes, err := client.FetchRangeNodes(ctx, uint64(n), l.fetch.ReadTile)
	if err != nil {
		return tlog.Hash{}, err
	}
	// The compact range's nodes are the roots of the perfect subtrees
	// that make up the tree, largest first; fold them from the right.
	if len(hashes) == 0 {
		return tlog.Hash{}, errors.New("no range nodes")
	}
	var h tlog.Hash
	for i := len(hashes) - 1; i >= 0; i-- {
		if len(hashes[i]) != tlog.HashSize {
			return tlog.Hash{}, errors.New("a hash of the wrong size")
		}
		var x tlog.Hash
		copy(x[:], hashes[i])
		if i == len(hashes)-1 {
			h = x
		} else {
			h = tlog.NodeHash(x, h)
		}
	}
	return h, nil
}

// Entry returns the entry at index i, which a published checkpoint
// covers.
func (l *Log) Entry(ctx context.Context, i int64) ([]byte, error) {
	size, err := l.Size()
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= size {
		return nil, fmt.Errorf("%w: no entry %d in a log of %d", ErrRequest, i, size)
	}
	b, err := client.GetEntryBundle(ctx, l.fetch.ReadEntryBundle, uint64(i)/256, uint64(size))
	if err != nil {
		return nil, fmt.Errorf("%w: the entry bundle of entry %d: %v", ErrDamaged, i, err)
	}
	if int(i%256) >= len(b.Entries) {
		return nil, fmt.Errorf("%w: the entry bundle of entry %d is short", ErrDamaged, i)
	}
	return bytes.Clone(b.Entries[i%256]), nil
}

// Entries returns the entries from index from up to, not including, to,
// which a published checkpoint covers, reading each entry bundle once.
func (l *Log) Entries(ctx context.Context, from, to int64) ([][]byte, error) {
	size, err := l.Size()
	if err != nil {
		return nil, err
	}
	if from < 0 || from > to || to > size {
		return nil, fmt.Errorf("%w: no entries %d to %d in a log of %d", ErrRequest, from, to, size)
	}
	out := make([][]byte, 0, to-from)
	for i := from; i < to; {
		b, err := client.GetEntryBundle(ctx, l.fetch.ReadEntryBundle, uint64(i)/256, uint64(size))
		if err != nil {
			return nil, fmt.Errorf("%w: the entry bundle of entry %d: %v", ErrDamaged, i, err)
		}
		end := min(to, (i/256+1)*256)
		if int((end-1)%256) >= len(b.Entries) {
			return nil, fmt.Errorf("%w: the entry bundle of entry %d is short", ErrDamaged, i)
		}
		for ; i < end; i++ {
			out = append(out, bytes.Clone(b.Entries[i%256]))
		}
	}
	return out, nil
}

// Proof returns the c2sp.org/tlog-proof@v1 bundle that shows the entry
// at index i in the tree of checkpoint, a checkpoint of this log with the
// witnesses' cosignatures added (see Cosigned): the proof that wallets
// and scanners check with token.Open for a directory record. The proof
// is checked against the checkpoint's root before it is returned; the
// cosignatures are not checked here.
func (l *Log) Proof(ctx context.Context, i int64, checkpoint []byte) ([]byte, error) {
	t, err := l.tree(ctx, checkpoint)
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= t.N {
		return nil, fmt.Errorf("%w: no entry %d in the tree of %d", ErrRequest, i, t.N)
	}
	pb, err := client.NewProofBuilder(ctx, uint64(t.N), l.fetch.ReadTile)
	if err != nil {
		return nil, fmt.Errorf("tlog: %v", err)
	}
	raw, err := pb.InclusionProof(ctx, uint64(i))
	if err != nil {
		return nil, fmt.Errorf("%w: inclusion proof of entry %d: %v", ErrDamaged, i, err)
	}
	leaf, err := client.FetchLeafHashes(ctx, l.fetch.ReadTile, uint64(i), 1, uint64(t.N))
	if err != nil {
		return nil, fmt.Errorf("%w: the hash of entry %d: %v", ErrDamaged, i, err)
	}
	hashes, err := toHashes(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	lh, err := toHashes(leaf)
	if err != nil || len(lh) != 1 {
		return nil, fmt.Errorf("%w: the hash of entry %d", ErrDamaged, i)
	}
	if tlog.CheckRecord(hashes, t.N, t.Hash, i, lh[0]) != nil {
		return nil, fmt.Errorf("%w: the tiles do not prove entry %d in the tree of %d", ErrDamaged, i, t.N)
	}
	return (&transparency.Proof{Index: i, Hashes: hashes, Checkpoint: bytes.Clone(checkpoint)}).Format(), nil
}

// WitnessRequest returns the body of a c2sp.org/tlog-witness
// add-checkpoint request for checkpoint, a checkpoint of this log, to a
// witness whose latest cosigned tree has oldSize entries: "old N", the
// consistency proof from that tree to the checkpoint's, an empty line and
// the checkpoint. With it a Log is the witnessclient.Log of a
// witnessclient.Client.
func (l *Log) WitnessRequest(oldSize int64, checkpoint []byte) ([]byte, error) {
	ctx := context.Background()
	t, err := l.tree(ctx, checkpoint)
	if err != nil {
		return nil, err
	}
	if oldSize < 0 || oldSize > t.N {
		return nil, fmt.Errorf("%w: old size %d outside 0..%d", ErrRequest, oldSize, t.N)
	}
	var proof [][]byte
	if oldSize > 0 && oldSize < t.N {
		pb, err := client.NewProofBuilder(ctx, uint64(t.N), l.fetch.ReadTile)
		if err != nil {
			return nil, fmt.Errorf("tlog: %v", err)
		}
		if proof, err = pb.ConsistencyProof(ctx, uint64(oldSize), uint64(t.N)); err != nil {
			return nil, fmt.Errorf("%w: consistency proof from %d to %d: %v", ErrDamaged, oldSize, t.N, err)
		}
	}
	b := []byte("old " + strconv.FormatInt(oldSize, 10) + "\n")
	for _, h := range proof {
		b = base64.StdEncoding.AppendEncode(b, h)
		b = append(b, '\n')
	}
	b = append(b, '\n')
	return append(b, checkpoint...), nil
}

// Cosigned returns checkpoint, a checkpoint of this log, with the
// cosignature lines that witnesses returned for it added (each a
// c2sp.org/tlog-witness add-checkpoint response: lines
// "— <name> <base64>"), one line per key: where a key has several lines,
// the newest cosignature by its timestamp is kept (c2sp.org/tlog-
// cosignature), in the place of the first. The log's own signature is
// kept as it is. Whether a cosignature verifies is for wallets and
// scanners to check.
func (l *Log) Cosigned(checkpoint []byte, cosignatures ...[]byte) ([]byte, error) {
	if _, err := l.treeOf(checkpoint); err != nil {
		return nil, err
	}
	// A note that opened ends with a blank line and its signature lines.
	split := bytes.LastIndex(checkpoint, []byte("\n\n")) + 2
	type line struct {
		text string
		time uint64
	}
	var lines []line
	index := map[string]int{}
	own := fmt.Sprintf("%s %08x", l.verifier.Name(), l.verifier.KeyHash())
	addLine := func(s string, cosig bool) error {
		rest, ok := strings.CutPrefix(s, "— ")
		rest, ok2 := strings.CutSuffix(rest, "\n")
		name, b64, ok3 := strings.Cut(rest, " ")
		sig, err := base64.StdEncoding.DecodeString(b64)
		if !ok || !ok2 || !ok3 || name == "" || strings.ContainsAny(name, "+ \t") || err != nil || len(sig) < 5 ||
			cosig && base64.StdEncoding.EncodeToString(sig) != b64 {
			return fmt.Errorf("%w: %q is not a signature line", ErrRequest, truncate(s))
		}
		key := fmt.Sprintf("%s %08x", name, binary.BigEndian.Uint32(sig))
		var ts uint64
		if len(sig) == 4+8+ed25519.SignatureSize {
			ts = binary.BigEndian.Uint64(sig[4:])
		}
		if i, ok := index[key]; ok {
			if key != own && ts > lines[i].time {
				lines[i] = line{s, ts}
			}
			return nil
		}
		index[key] = len(lines)
		lines = append(lines, line{s, ts})
		return nil
	}
	for _, s := range strings.SplitAfter(string(checkpoint[split:]), "\n") {
		if s != "" {
			if err := addLine(s, false); err != nil {
				return nil, err
			}
		}
	}
	for _, c := range cosignatures {
		for _, s := range strings.SplitAfter(string(c), "\n") {
			if s != "" {
				if err := addLine(s, true); err != nil {
					return nil, err
				}
			}
		}
	}
	out := bytes.Clone(checkpoint[:split])
	for _, s := range lines {
		out = append(out, s.text...)
	}
	return out, nil
}

func toHashes(raw [][]byte) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(raw))
	for i, h := range raw {
		if len(h) != tlog.HashSize {
			return nil, errors.New("a hash of the wrong size")
		}
		copy(out[i][:], h)
	}
	return out, nil
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60]
	}
	return s
}

// readLimited reads the file name, of at most limit bytes.
func readLimited(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() > limit {
		return nil, fmt.Errorf("%s: not a regular file of at most %d bytes", name, limit)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, limit)
	}
	return b, nil
}

// bundleHashes returns the RFC 6962 leaf hashes of an entry bundle.
func bundleHashes(raw []byte) ([][]byte, error) {
	var b api.EntryBundle
	if err := b.UnmarshalText(raw); err != nil {
		return nil, err
	}
	out := make([][]byte, len(b.Entries))
	for i, e := range b.Entries {
		h := tlog.RecordHash(e)
		out[i] = h[:]
	}
	return out, nil
}
