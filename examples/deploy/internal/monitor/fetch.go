package monitor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/tlog"
)

// maxTileSize bounds a tile read: a full hash tile is 8 KiB and a full
// entry bundle of directory records about 11 KiB.
const maxTileSize = 1 << 20

// tileConcurrency bounds the parallel tile requests.
const tileConcurrency = 4

// missingError is an issuer's answer that it has no such resource (404 or
// 410): for something the log commits to, the issuer withholds it.
type missingError struct {
	path   string
	status string
}

func (e *missingError) Error() string {
	return fmt.Sprintf("%s: the issuer answered %s", e.path, e.status)
}

// fetchError is any other failure to get a resource: the network, a
// timeout, another status. It may be transient: the run stops and the
// next one retries.
type fetchError struct {
	path string
	err  error
}

func (e *fetchError) Error() string { return fmt.Sprintf("%s: %v", e.path, e.err) }
func (e *fetchError) Unwrap() error { return e.err }

// fetcher gets the log's resources under base, which ends in "/log/". It
// implements torchwood.TileReader for the c2sp.org/tlog-tiles layout.
type fetcher struct {
	base string
	hc   *http.Client
}

// get returns the body of base+path, at most limit+1 bytes: a longer
// body is cut there, so that the caller's own size check refuses it.
func (f *fetcher) get(ctx context.Context, path string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.base+path, nil)
	if err != nil {
		return nil, &fetchError{path, err}
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		return nil, &fetchError{path, err}
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusGone:
		return nil, &missingError{path, resp.Status}
	default:
		return nil, &fetchError{path, fmt.Errorf("the issuer answered %s", resp.Status)}
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, &fetchError{path, err}
	}
	return b, nil
}

// ReadTiles implements torchwood.TileReader. The tiles are not checked
// here: the tlog and torchwood readers check them against the tree.
func (f *fetcher) ReadTiles(ctx context.Context, tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	errs := make([]error, len(tiles))
	sem := make(chan struct{}, tileConcurrency)
	var wg sync.WaitGroup
	for i, t := range tiles {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if t.H != torchwood.TileHeight {
				errs[i] = fmt.Errorf("tile of height %d, want %d", t.H, torchwood.TileHeight)
				return
			}
			path := torchwood.TilePath(t)
			b, err := f.get(ctx, path, maxTileSize)
			if err == nil && len(b) > maxTileSize {
				err = &fetchError{path, fmt.Errorf("tile larger than %d bytes", maxTileSize)}
			}
			data[i], errs[i] = b, err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return data, nil
}

// SaveTiles implements torchwood.TileReader: nothing is cached.
func (f *fetcher) SaveTiles([]tlog.Tile, [][]byte) {}

// ReadEndpoint implements torchwood.TileReader.
func (f *fetcher) ReadEndpoint(ctx context.Context, path string) ([]byte, error) {
	return f.get(ctx, strings.TrimPrefix(path, "/"), maxTileSize)
}
