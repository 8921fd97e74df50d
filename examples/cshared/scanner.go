//go:build cgo

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

// This file holds the Go side of the C interface, in Go types only, so
// that the tests of this package can call it; export.go converts between
// it and C.

// sentinels maps each error of the Go library to its C code, in the order
// errors.Is tries them. Every error the library returns for a token or a
// directory wraps exactly one of them.
var sentinels = []struct {
	err  error
	code int32
}{
	{token.ErrMalformed, codeMalformed},
	{verify.ErrExpired, codeExpired},
	{verify.ErrNotYetValid, codeNotYetValid},
	{verify.ErrTooFarAhead, codeTooFarAhead},
	{verify.ErrUnknownKey, codeUnknownKey},
	{verify.ErrKeyMismatch, codeKeyMismatch},
	{verify.ErrInvalidSignature, codeInvalidSignature},
	{verify.ErrReplayed, codeReplayed},
	{verify.ErrStoreUnavailable, codeStoreUnavailable},
	{verify.ErrStoreFull, codeStoreFull},
	{verify.ErrRandomness, codeRandomness},
	{token.ErrMalformedDirectory, codeMalformedDirectory},
	{token.ErrInvalidDirectory, codeInvalidDirectory},
	{token.ErrDirectorySignature, codeDirectorySignature},
	{token.ErrRollback, codeRollback},
	{token.ErrNotLogged, codeNotLogged},
	{token.ErrQuorum, codeQuorum},
	{token.ErrStale, codeStale},
	{token.ErrInconsistent, codeInconsistent},
	{token.ErrMalformedTrust, codeMalformedTrust},
	{token.ErrNotNewest, codeNotNewest},
	{token.ErrStatusRenamed, codeStatusRenamed},
}

// codeOf returns the code of a token's or a directory's error: codeOK for
// nil, codeInternal for an error that wraps no known sentinel.
func codeOf(err error) int32 {
	if err == nil {
		return codeOK
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return s.code
		}
	}
	return codeInternal
}

// Limits of the C interface (statustoken.h).
const (
	maxBatch   = 1 << 16
	maxSkew    = 86400
	maxNow     = 1<<33 - 1
	maxWorkers = 1024
	flagReplay = 1
)

// scanOptions is st_options.
type scanOptions struct {
	flags      uint32
	spentLimit uint32
	now        int64
	skew       int64
	minSerial  uint64
	workers    uint32
	reserved   uint32
}

// scanner is what a verifier handle names: a verify.Verifier and a pool
// of batches for it, so that concurrent batch calls each get their own.
type scanner struct {
	v       *verify.Verifier
	batches sync.Pool // of *batchState
}

// newScanner loads a published directory under the trust policy text, as
// st_verifier_new. The slices are the caller's copies.
func newScanner(p token.Published, trustText []byte, o scanOptions) (*scanner, int32) {
	switch {
	case o.flags&^flagReplay != 0, o.reserved != 0,
		o.now < 0, o.now > maxNow,
		o.skew > maxSkew,
		o.workers > maxWorkers:
		return nil, codeInvalidArgument
	case len(trustText) > token.MaxTrustSize:
		return nil, codeMalformedTrust
	case len(p.Directory) > token.MaxDirectorySize:
		return nil, codeMalformedDirectory
	case len(p.Signature) > maxSignatureSize:
		return nil, codeDirectorySignature
	case len(p.Proof) > token.MaxProofSize:
		return nil, codeNotLogged
	}
	trust, err := token.ParseTrust(trustText)
	if err != nil {
		return nil, codeOf(err)
	}
	opts := &verify.Options{Accepted: token.Accepted{Serial: o.minSerial}, Workers: int(o.workers)}
	if o.now != 0 {
		t := time.Unix(o.now, 0)
		opts.Now = func() time.Time { return t }
	}
	switch {
	case o.skew < 0:
		opts.Skew = -1
	case o.skew > 0:
		opts.Skew = time.Duration(o.skew) * time.Second
	}
	if o.flags&flagReplay != 0 {
		opts.Spent = verify.NewMemoryStore(int(o.spentLimit), opts.Now)
	}
	v, err := verify.New(p, trust, opts)
	if err != nil {
		return nil, codeOf(err)
	}
	s := &scanner{v: v}
	s.batches.New = func() any { return &batchState{b: v.NewBatch()} }
	return s, codeOK
}

// verifyOne checks one token, binary or text, as st_verify and
// st_verify_text. raw may be longer than the limits: it is then refused
// without being read.
func (s *scanner) verifyOne(raw []byte, text bool) (verify.Result, int32) {
	var (
		r   verify.Result
		err error
	)
	switch {
	case text && len(raw) > token.MaxTextSize, !text && len(raw) > token.MaxSize:
		return r, codeMalformed
	case text:
		r, err = s.v.VerifyText(context.Background(), string(raw))
	default:
		r, err = s.v.Verify(context.Background(), raw)
	}
	return r, codeOf(err)
}

// batchState is one batch call's working memory, reused through the
// scanner's pool: the copies of the inputs, in one arena, and the slices
// given to verify.Batch.
type batchState struct {
	b       *verify.Batch
	in      [][]byte // the caller's inputs (views of C memory), not retained
	arena   []byte
	toks    [][]byte
	texts   []string
	results []verify.Result
	errs    []error
	codes   []int32
}

// run verifies s.in, binary tokens or text forms, as st_verify_batch and
// st_verify_text_batch: it copies each input no longer than its limit
// into the arena (a longer one is refused as malformed unread), verifies
// the copies with s.b, and sets s.codes, and s.results if wantResults.
// It returns the call's code.
func (s *batchState) run(text bool, wantResults bool) int32 {
	n := len(s.in)
	limit := token.MaxSize
	if text {
		limit = token.MaxTextSize
	}
	total := 0
	for _, b := range s.in {
		if len(b) <= limit {
			total += len(b)
		}
	}
	if cap(s.arena) < total {
		s.arena = make([]byte, total)
	}
	arena := s.arena[:total]
	s.errs = grow(s.errs, n)
	s.codes = grow(s.codes, n)
	var results []verify.Result
	if wantResults {
		s.results = grow(s.results, n)
		results = s.results
	}
	ctx := context.Background()
	var err error
	if text {
		off := 0
		for _, b := range s.in {
			if len(b) <= limit {
				off += copy(arena[off:], b)
			}
		}
		all := string(arena) // one copy for the whole batch
		s.texts = grow(s.texts, n)
		off = 0
		for i, b := range s.in {
			s.texts[i] = "" // refused as malformed
			if len(b) <= limit {
				s.texts[i] = all[off : off+len(b)]
				off += len(b)
			}
		}
		err = s.b.VerifyText(ctx, s.texts, results, s.errs)
		clear(s.texts)
	} else {
		s.toks = grow(s.toks, n)
		off := 0
		for i, b := range s.in {
			s.toks[i] = nil // refused as malformed
			if len(b) <= limit {
				c := arena[off : off+len(b) : off+len(b)]
				copy(c, b)
				s.toks[i] = c
				off += len(b)
			}
		}
		err = s.b.Verify(ctx, s.toks, results, s.errs)
		clear(s.toks)
	}
	for i, e := range s.errs {
		s.codes[i] = codeOf(e)
	}
	clear(s.errs)
	switch {
	case err == nil:
		return codeOK
	case errors.Is(err, verify.ErrRandomness):
		return codeRandomness
	case errors.Is(err, verify.ErrBatch):
		return codeBatch
	}
	return codeInternal
}

// done drops the references of s to the caller's memory and to the
// call's results, before s goes back to the pool.
func (s *batchState) done() {
	clear(s.in)
	s.in = s.in[:0]
	clear(s.results)
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// recovered reports a panic that an exported function recovered from: a
// bug, which the caller sees as ST_ERR_INTERNAL.
func recovered(fn string, r any) {
	fmt.Fprintf(os.Stderr, "libstatustoken: %s: recovered from a Go panic (returning ST_ERR_INTERNAL): %v\n", fn, r)
}
