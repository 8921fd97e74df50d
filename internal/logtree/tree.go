// Package logtree is the issuer's side of directory transparency
// (token/SPEC.md, "Directory transparency"): the log of directory records
// in memory, its signed checkpoints, inclusion proofs in the
// c2sp.org/tlog-proof format, c2sp.org/tlog-witness requests, and tiles
// in the c2sp.org/tlog-tiles layout.
//
// It is apart from package transparency, which wallets and scanners link
// (a js/wasm build among them), so that the verification side does not
// carry the issuer's dependencies.
package logtree

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"filippo.io/torchwood"
	"github.com/statustoken/statustoken/internal/transparency"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Tree is an append-only log in memory: its records and the stored
// hashes of their RFC 6962 Merkle tree. It is not safe for concurrent use.
type Tree struct {
	records [][]byte
	hashes  []tlog.Hash // in tlog.StoredHashIndex order
}

// Append adds a record.
func (t *Tree) Append(record []byte) error {
	hs, err := tlog.StoredHashes(int64(len(t.records)), record, t)
	if err != nil {
		return err
	}
	t.records = append(t.records, bytes.Clone(record))
	t.hashes = append(t.hashes, hs...)
	return nil
}

// Size returns the number of records.
func (t *Tree) Size() int64 { return int64(len(t.records)) }

// Record returns record i, which must exist.
func (t *Tree) Record(i int64) []byte { return bytes.Clone(t.records[i]) }

// ReadHashes implements tlog.HashReader.
func (t *Tree) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(t.hashes)) {
			return nil, fmt.Errorf("hash %d not stored", x)
		}
		out[i] = t.hashes[x]
	}
	return out, nil
}

// Hash returns the root hash of the first n records.
func (t *Tree) Hash(n int64) (tlog.Hash, error) { return tlog.TreeHash(n, t) }

// Checkpoint returns the checkpoint of the whole tree, signed by s.
func (t *Tree) Checkpoint(s note.Signer) ([]byte, error) {
	h, err := t.Hash(t.Size())
	if err != nil {
		return nil, err
	}
	c := torchwood.Checkpoint{Origin: s.Name(), Tree: tlog.Tree{N: t.Size(), Hash: h}}
	return note.Sign(&note.Note{Text: c.String()}, s)
}

// TreeOf returns the tree of a checkpoint signed by the log key v, after
// checking that it is a tree of this log.
func (t *Tree) TreeOf(signed []byte, v note.Verifier) (tlog.Tree, error) {
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return tlog.Tree{}, errors.New("not a checkpoint signed by this log")
	}
	c, err := torchwood.ParseCheckpoint(n.Text)
	if err != nil || c.Origin != v.Name() || c.N > t.Size() {
		return tlog.Tree{}, errors.New("not a checkpoint of this log")
	}
	if h, err := t.Hash(c.N); err != nil || h != c.Hash {
		return tlog.Tree{}, errors.New("checkpoint of a tree this log does not have")
	}
	return c.Tree, nil
}

// Proof returns the proof bundle of record i under a checkpoint of tree
// size n (checked by the caller), whose signed note is checkpoint.
func (t *Tree) Proof(i, n int64, checkpoint []byte) ([]byte, error) {
	if i < 0 || i >= n {
		return nil, fmt.Errorf("no record %d in the tree of size %d", i, n)
	}
	p, err := tlog.ProveRecord(n, i, t)
	if err != nil {
		return nil, err
	}
	return (&transparency.Proof{Index: i, Hashes: p, Checkpoint: checkpoint}).Format(), nil
}

// WitnessRequest returns the body of a c2sp.org/tlog-witness
// add-checkpoint request for checkpoint, of tree size n (checked by the
// caller), to a witness whose latest tree has oldSize records.
func (t *Tree) WitnessRequest(oldSize, n int64, checkpoint []byte) ([]byte, error) {
	if oldSize < 0 || oldSize > n {
		return nil, fmt.Errorf("old size %d outside 0..%d", oldSize, n)
	}
	var proof tlog.TreeProof
	if oldSize > 0 && oldSize < n {
		var err error
		if proof, err = tlog.ProveTree(n, oldSize, t); err != nil {
			return nil, err
		}
	}
	b := []byte("old " + strconv.FormatInt(oldSize, 10) + "\n")
	for _, h := range proof {
		b = append(b, h.String()...)
		b = append(b, '\n')
	}
	b = append(b, '\n')
	return append(b, checkpoint...), nil
}

// Tile returns the tile at path in the c2sp.org/tlog-tiles layout, tile
// height 8 (token/SPEC.md, "Directory transparency"):
// "tile/<L>/<N>[.p/<W>]", the hashes of level L at indexes N·256 to
// N·256+W-1, or "tile/entries/<N>[.p/<W>]", the records at those
// indexes, each prefixed by its uint16 length. W is 256 without a ".p/"
// suffix. Only the canonical path of a tile within the tree is served,
// whatever its numbers: levels 0 to 7 (no tree of fewer than 2^63
// records has a hash at level 8), and a partial tile at the right edge
// of the tree or one of an earlier, smaller tree (a prefix of a tile
// that has grown). Any other path is an error.
func (t *Tree) Tile(path string) ([]byte, error) {
	tile, err := torchwood.ParseTilePath(path)
	if err != nil || torchwood.TilePath(tile) != path {
		return nil, errors.New("not a tile path")
	}
	// width is the number of hashes at the tile's level, or of records.
	var width int64
	switch {
	case tile.L == -1:
		width = t.Size()
	case tile.L >= 0 && tile.L < 64/torchwood.TileHeight:
		width = t.Size() >> (tile.L * torchwood.TileHeight)
	default:
		return nil, fmt.Errorf("level %d beyond any tree", tile.L)
	}
	// The tile lies within the level if N·256 + W <= width, which is
	// computed here without overflow for any N the path spells.
	w := int64(tile.W)
	if tile.N < 0 || w < 1 || w > torchwood.TileWidth || w > width || tile.N > (width-w)>>torchwood.TileHeight {
		return nil, fmt.Errorf("tile beyond the tree of size %d", t.Size())
	}
	start := tile.N << torchwood.TileHeight
	if tile.L >= 0 {
		return tlog.ReadTileData(tile, t)
	}
	var b []byte
	for _, r := range t.records[start : start+w] {
		if b, err = torchwood.AppendTileEntry(b, r); err != nil {
			return nil, err
		}
	}
	return b, nil
}
