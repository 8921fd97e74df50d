package tlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/transparency-dev/tessera/client"
	"github.com/transparency-dev/tessera/fsck"
	"golang.org/x/mod/sumdb/tlog"
)

// treeStateFile is where Tessera's POSIX driver (v1.0.x) keeps the size
// and root of the tree it has integrated, which may be ahead of the
// published checkpoint: {"size":N,"root":"<base64>"}.
const treeStateFile = ".state/treeState"

// check checks the log directory before Tessera starts on it (see Open).
func (l *Log) check(ctx context.Context, opts *Options) error {
	var cosigned tlog.Tree
	if opts.Cosigned != nil {
		t, err := l.treeOf(opts.Cosigned)
		if err != nil {
			return fmt.Errorf("the cosigned checkpoint given to Open: %w", err)
		}
		cosigned = t
	}
	raw, err := readLimited(filepath.Join(l.dir, treeStateFile), 4<<10)
	if errors.Is(err, fs.ErrNotExist) {
		// A new log, unless something of one is there: Tessera would
		// start again from an empty tree over it.
		for _, name := range []string{"checkpoint", "tile"} {
			if _, err := os.Lstat(filepath.Join(l.dir, name)); !errors.Is(err, fs.ErrNotExist) {
				return l.damaged(treeStateFile, "it is missing while %s is there", name)
			}
		}
		if cosigned.N > 0 {
			return fmt.Errorf("%w: %s holds no log, and the witnesses cosigned a tree of %d entries: restore %s from a backup at least that recent",
				ErrRollback, l.dir, cosigned.N, l.dir)
		}
		return nil
	}
	if err != nil {
		return l.damaged(treeStateFile, "%v", err)
	}
	var state struct {
		Size *int64 `json:"size"`
		Root []byte `json:"root"`
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(&state); err != nil || d.More() || state.Size == nil || *state.Size < 0 || len(state.Root) != tlog.HashSize {
		return l.damaged(treeStateFile, "it does not parse")
	}
	size := *state.Size
	l.openSize = size
	var stateRoot tlog.Hash
	copy(stateRoot[:], state.Root)

	cp, t, err := l.checkpoint()
	if err != nil {
		return l.damaged("checkpoint", "missing, unreadable, or not signed by the key of the log %s (or this is the directory of a log with another key)", l.Origin())
	}
	if t.N > size {
		return l.damaged(treeStateFile, "it holds a tree of %d entries, behind the checkpoint's %d", size, t.N)
	}
	if root, err := l.root(ctx, t.N); err != nil || root != t.Hash {
		return l.damaged("tile", "the tiles do not hash to the checkpoint's tree of %d entries", t.N)
	}
	if root, err := l.root(ctx, size); err != nil || root != stateRoot {
		return l.damaged("tile", "the tiles do not hash to the tree of %d entries that %s holds", size, treeStateFile)
	}
	if err := l.checkLastBundle(ctx, size); err != nil {
		return err
	}
	if cosigned.N > t.N {
		return fmt.Errorf("%w: %s holds a tree of %d entries, and the witnesses cosigned one of %d: restore %s from a backup at least that recent",
			ErrRollback, l.dir, t.N, cosigned.N, l.dir)
	}
	if root, err := l.root(ctx, cosigned.N); opts.Cosigned != nil && (err != nil || root != cosigned.Hash) {
		return fmt.Errorf("%w: the tree in %s does not extend the cosigned tree of %d entries: restore %s from a backup at least that recent",
			ErrRollback, l.dir, cosigned.N, l.dir)
	}
	if !opts.EdgeCheckOnly && t.N > 0 {
		f := fsck.New(l.Origin(), l.verifier, fixedCheckpoint{l.fetch, cp}, bundleHashes, fsck.Opts{N: 2})
		if err := f.Check(ctx); err != nil {
			return l.damaged("tile", "rehashing the log: %v", err)
		}
	}
	return nil
}

// checkLastBundle checks that the entry bundle at the right edge of a
// tree of size entries hashes to its leaves in the level-0 tile.
func (l *Log) checkLastBundle(ctx context.Context, size int64) error {
	if size == 0 {
		return nil
	}
	idx := uint64(size-1) / 256
	want, err := client.FetchLeafHashes(ctx, l.fetch.ReadTile, idx*256, uint64(size)-idx*256, uint64(size))
	if err != nil {
		return l.damaged("tile", "the leaf hashes at the end of the tree of %d entries: %v", size, err)
	}
	raw, err := l.fetch.ReadEntryBundle(ctx, idx, uint8(size%256))
	if err != nil {
		return l.damaged("tile/entries", "the last entry bundle: %v", err)
	}
	got, err := bundleHashes(raw)
	if err != nil || len(got) < len(want) {
		return l.damaged("tile/entries", "the last entry bundle does not parse or is short")
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			return l.damaged("tile/entries", "the last entry bundle does not hash to its tile")
		}
	}
	return nil
}

// damaged returns an ErrDamaged error naming the file found wrong.
func (l *Log) damaged(name, format string, args ...any) error {
	return fmt.Errorf("%w: %s in %s: %s: restore %s from a backup taken while the log was whole",
		ErrDamaged, name, l.dir, fmt.Sprintf(format, args...), l.dir)
}

// fixedCheckpoint is a fetcher that gives fsck the checkpoint Open read,
// whatever is on disk by then.
type fixedCheckpoint struct {
	client.FileFetcher
	checkpoint []byte
}

func (f fixedCheckpoint) ReadCheckpoint(context.Context) ([]byte, error) {
	return f.checkpoint, nil
}
