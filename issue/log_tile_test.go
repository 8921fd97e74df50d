package issue

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"
	"testing"

	"filippo.io/torchwood"
	"github.com/statustoken/statustoken/internal/transparency"
	"golang.org/x/mod/sumdb/tlog"
)

// tileLogSize is the size of the log of the tile tests: 257 full tiles
// and a partial one at level 0, a full tile and a partial one at level 1,
// and a partial tile at level 2.
const tileLogSize = 256*256 + 300

// tileLog returns a log of n records of serials 1 to n, and the oracle
// of its tiles.
func tileLog(t testing.TB, n int) (*Log, *tileOracle) {
	t.Helper()
	skey, _, err := GenerateLogKey("example.org/health/directory")
	if err != nil {
		t.Fatal(err)
	}
	o := &tileOracle{tiles: map[string]tlog.Tile{}}
	for i := range n {
		r := transparency.Record(uint64(i+1), []byte(strconv.Itoa(i)))
		hs, err := tlog.StoredHashes(int64(i), r, o.hashes)
		if err != nil {
			t.Fatal(err)
		}
		o.records = append(o.records, r)
		o.hashes = append(o.hashes, hs...)
	}
	l, err := NewLog(skey, o.records)
	if err != nil {
		t.Fatal(err)
	}
	// Every tile of the tree, every width of each: spelled out from its
	// numbers, never parsed.
	for level := -1; level < 8; level++ {
		width := int64(n)
		if level >= 0 {
			width = int64(n) >> (8 * level)
		}
		for index := int64(0); index*256 < width; index++ {
			for w := 1; w <= 256 && index*256+int64(w) <= width; w++ {
				tile := tlog.Tile{H: 8, L: level, N: index, W: w}
				o.tiles[torchwood.TilePath(tile)] = tile
			}
		}
	}
	return l, o
}

// tileOracle computes a log's tiles on its own, from its records.
type tileOracle struct {
	records [][]byte
	hashes  hashList
	tiles   map[string]tlog.Tile // by path
}

// tile returns the tile at path, and whether the tree has it.
func (o *tileOracle) tile(t testing.TB, path string) ([]byte, bool) {
	tile, ok := o.tiles[path]
	if !ok {
		return nil, false
	}
	if tile.L >= 0 {
		data, err := tlog.ReadTileData(tile, o.hashes)
		if err != nil {
			t.Fatal(err)
		}
		return data, true
	}
	var data []byte
	for _, r := range o.records[tile.N*256 : tile.N*256+int64(tile.W)] {
		data = binary.BigEndian.AppendUint16(data, uint16(len(r)))
		data = append(data, r...)
	}
	return data, true
}

// hashList is a tlog.HashReader of stored hashes.
type hashList []tlog.Hash

func (l hashList) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(l)) {
			return nil, errors.New("hash not stored")
		}
		out[i] = l[x]
	}
	return out, nil
}

// checkTile checks that the log serves path as the oracle computes it,
// or refuses it with ErrLog if the tree has no such tile.
func checkTile(t *testing.T, l *Log, o *tileOracle, path string) {
	t.Helper()
	got, err := l.Tile(path)
	want, ok := o.tile(t, path)
	switch {
	case !ok && (err == nil || got != nil):
		t.Fatalf("Tile(%q): %d bytes, %v; the tree has no such tile", path, len(got), err)
	case !ok && !errors.Is(err, ErrLog):
		t.Fatalf("Tile(%q): %v, not ErrLog", path, err)
	case ok && err != nil:
		t.Fatalf("Tile(%q): %v", path, err)
	case ok && !bytes.Equal(got, want):
		t.Fatalf("Tile(%q): other data than the tile's", path)
	}
}

// tilePaths are paths that the log of tileLogSize records has, then
// paths it must refuse, whatever their numbers.
var tilePaths = []string{
	"tile/0/000", "tile/0/000.p/1", "tile/0/000.p/255", "tile/0/256", "tile/0/257.p/44", "tile/0/257.p/1",
	"tile/1/000", "tile/1/000.p/17", "tile/1/001.p/1", "tile/2/000.p/1",
	"tile/entries/000", "tile/entries/000.p/3", "tile/entries/256", "tile/entries/257.p/44",

	// Beyond the tree.
	"tile/0/257", "tile/0/257.p/45", "tile/0/258.p/1", "tile/1/001.p/2", "tile/1/001", "tile/2/000.p/2",
	"tile/2/001.p/1", "tile/3/000.p/1", "tile/7/000.p/1", "tile/entries/257.p/45", "tile/entries/258.p/1",
	// Indexes N whose first index N·256 is 2^55 (N = 2^47), 2^63 - 256
	// (N = 2^55 - 1), -2^63 once wrapped in 64 bits (N = 2^55), 0 once
	// wrapped (N = 2^56, the index of another tile), beyond (2^57, 2^63 - 1),
	// and N beyond 64 bits.
	"tile/0/x140/x737/x488/x355/328", "tile/entries/x140/x737/x488/x355/328.p/1",
	"tile/0/x036/x028/x797/x018/x963/967", "tile/entries/x036/x028/x797/x018/x963/967.p/1",
	"tile/0/x036/x028/x797/x018/x963/968", "tile/entries/x036/x028/x797/x018/x963/968",
	"tile/0/x036/x028/x797/x018/x963/968.p/1", "tile/entries/x036/x028/x797/x018/x963/968.p/1",
	"tile/0/x072/x057/x594/x037/x927/936", "tile/entries/x072/x057/x594/x037/x927/936",
	"tile/0/x072/x057/x594/x037/x927/936.p/1", "tile/entries/x072/x057/x594/x037/x927/936.p/1",
	"tile/0/x144/x115/x188/x075/x855/872", "tile/entries/x144/x115/x188/x075/x855/872",
	"tile/0/x009/x223/x372/x036/x854/x775/807", "tile/entries/x009/x223/x372/x036/x854/x775/807",
	"tile/0/x999/x999/x999/x999/x999/x999/x999/999", "tile/entries/x999/x999/x999/x999/x999/x999/x999/999.p/1",
	// Levels beyond any tree.
	"tile/8/000.p/1", "tile/9/000", "tile/63/000.p/1", "tile/64/000.p/1", "tile/4611686018427387904/000.p/1",
	"tile/9223372036854775807/000", "tile/99999999999999999999/000",
	// Widths.
	"tile/0/000.p/0", "tile/0/000.p/256", "tile/0/000.p/257", "tile/0/000.p/-1", "tile/0/000.p/01",
	"tile/0/000.p/+1", "tile/0/000.p/", "tile/0/000.p", "tile/entries/000.p/0", "tile/entries/000.p/65536",
	"tile/0/000.p/9223372036854775807", "tile/0/000.p/-9223372036854775808",
	// Not the canonical spelling, or not a documented path.
	"tile/0/0", "tile/0/00", "tile/0/0000", "tile/0/x000/000", "tile/0/x000/001", "tile/00/000", "tile/+0/000",
	"tile/-1/000", "tile/-0/000", "tile/0/-001", "tile/0/+01", "tile/0/x1/000", "tile/data/000",
	"tile/8/0/000", "tile/8/data/000", "tile/entries/x000/000", "tile/entries/data/000",
	// Extra or missing segments.
	"tile/0/000/", "tile/0/000/000", "tile/0/000.p/1/", "tile/0/000.p/1/1", "tile//0/000", "/tile/0/000",
	"tile/0/000.p/1.p/1", "tile/0", "tile/0/", "tile/", "tile", "tile/entries", "tile/entries/",
	"tile/entries/000/", "tile/0/000?x", "tile/0/000 ", " tile/0/000", "tile/0/000\n", "tile/0/x001",
	"checkpoint", "", "tile/0/\x00",
}

// TestLogTileBounds: every tile the tree has is served as computed from
// the records; any other path, whatever its numbers, is refused with
// ErrLog, and never panics or gives the data of another tile.
func TestLogTileBounds(t *testing.T) {
	l, o := tileLog(t, tileLogSize)
	for _, path := range tilePaths {
		checkTile(t, l, o, path)
	}
	for i, path := range tilePaths {
		if _, ok := o.tiles[path]; ok != (i < 14) {
			t.Errorf("%q: a tile of the tree: %v", path, ok)
		}
	}
	// Every width of every tile of smaller logs, and an empty log, which
	// has no tile.
	for _, n := range []int{0, 1, 255, 256, 600} {
		small, so := tileLog(t, n)
		for path := range so.tiles {
			checkTile(t, small, so, path)
		}
		for _, path := range tilePaths {
			checkTile(t, small, so, path)
		}
	}
}

// FuzzLogTile: Log.Tile never panics, serves exactly the tiles of the
// tree as computed from its records, and refuses any other path with
// ErrLog.
func FuzzLogTile(f *testing.F) {
	l, o := tileLog(f, tileLogSize)
	for _, path := range tilePaths {
		f.Add(path)
	}
	f.Fuzz(func(t *testing.T, path string) {
		checkTile(t, l, o, path)
	})
}
