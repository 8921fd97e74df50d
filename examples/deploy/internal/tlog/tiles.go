package tlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/tlog"
)

// maxTile bounds a tile file: 256 hashes, or 256 entries of the largest
// size with their length prefixes.
const maxTile = 256 * (2 + 65535)

// ErrNotFound: a tile within the tree whose file is not there, such as
// a partial tile that Tessera removed once the full tile was written; a
// client asks for the full tile instead (c2sp.org/tlog-tiles).
var ErrNotFound = errors.New("tlog: tile not found")

// Tile returns the tile at path in the c2sp.org/tlog-tiles layout:
// "tile/<L>/<N>[.p/<W>]" for hashes, "tile/entries/<N>[.p/<W>]" for entry
// bundles. Only the canonical spelling of a tile within the tree of the
// latest checkpoint is served (a partial tile as wide as a tree had at
// its right edge, from the full tile once that is written); any other
// path is refused with ErrRequest. A tile file is at most 256 hashes or
// 256 entries of the largest size.
func (l *Log) Tile(path string) ([]byte, error) {
	tile, err := torchwood.ParseTilePath(path)
	if err != nil || torchwood.TilePath(tile) != path {
		return nil, fmt.Errorf("%w: %q is not a tile path", ErrRequest, truncate(path))
	}
	size, err := l.Size()
	if err != nil {
		return nil, err
	}
	var width int64
	switch {
	case tile.L == -1:
		width = size
	case tile.L >= 0 && tile.L < 64/torchwood.TileHeight:
		width = size >> (tile.L * torchwood.TileHeight)
	default:
		return nil, fmt.Errorf("%w: tile level %d", ErrRequest, tile.L)
	}
	w := int64(tile.W)
	if tile.N < 0 || w < 1 || w > torchwood.TileWidth || w > width || tile.N > (width-w)>>torchwood.TileHeight {
		return nil, fmt.Errorf("%w: tile %q beyond the tree of %d entries", ErrRequest, path, size)
	}
	b, err := readLimited(filepath.Join(l.dir, filepath.FromSlash(path)), maxTile)
	if errors.Is(err, fs.ErrNotExist) && w < torchwood.TileWidth {
		// Tessera removes a partial tile once the full one is written;
		// the partial tile is its prefix.
		full := tile
		full.W = torchwood.TileWidth
		if b, err = readLimited(filepath.Join(l.dir, filepath.FromSlash(torchwood.TilePath(full))), maxTile); err == nil {
			return prefix(b, tile.L, w)
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, path)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	return b, nil
}

// prefix returns the first w hashes, or entries at level -1, of a full
// tile.
func prefix(b []byte, level int, w int64) ([]byte, error) {
	if level >= 0 {
		if int64(len(b)) < w*tlog.HashSize {
			return nil, fmt.Errorf("%w: a short tile", ErrDamaged)
		}
		return b[:w*tlog.HashSize], nil
	}
	n := 0
	for range w {
		if len(b) < n+2 {
			return nil, fmt.Errorf("%w: a short entry bundle", ErrDamaged)
		}
		n += 2 + int(binary.BigEndian.Uint16(b[n:]))
		if n > len(b) {
			return nil, fmt.Errorf("%w: a short entry bundle", ErrDamaged)
		}
	}
	return b[:n], nil
}

// ServeHTTP serves the log read-only over HTTP at the root of its
// handler: GET /checkpoint and GET /tile/... (c2sp.org/tlog-tiles).
// Mount it with http.StripPrefix under a path of its own.
func (l *Log) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/")
	var b []byte
	var err error
	if path == "checkpoint" {
		b, err = l.Checkpoint()
		w.Header().Set("Cache-Control", "no-store")
	} else {
		b, err = l.Tile(path)
		if err == nil && !strings.Contains(path, ".p/") {
			w.Header().Set("Cache-Control", "public, max-age=604800, immutable")
		}
	}
	switch {
	case errors.Is(err, ErrRequest), errors.Is(err, ErrNotFound):
		http.Error(w, "not found", http.StatusNotFound)
		return
	case err != nil:
		http.Error(w, "log unavailable", http.StatusInternalServerError)
		return
	}
	if path == "checkpoint" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	w.Write(b)
}
