package verify

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/statustoken/statustoken/internal/edsig"
	"github.com/statustoken/statustoken/internal/format"
	"github.com/statustoken/statustoken/internal/keyset"
	"github.com/statustoken/statustoken/token"
)

// Batch verifies many tokens at once. Ed25519 tokens are checked together
// with one randomized equation per batch (token/SPEC.md, "Batch
// verification"), which is several times faster per token than single
// verification and gives the same result for every token; a large batch
// is split into sub-batches verified in parallel. rsabssa tokens are
// checked in parallel. A Batch keeps its buffers between calls, so a
// reused Batch does not allocate per token. It is not safe for concurrent
// use; use one per goroutine.
type Batch struct {
	v     *Verifier
	eds   []edSub        // Ed25519 sub-batches, one per goroutine
	rsa   []rsaJob       // rsabssa tokens
	ks    []*keyset.Key  // key of each token that passed prechecks
	toks  []format.Token // each token as parsed; Signature aliases its input
	order []int32        // valid tokens, sorted to find repeats
	texts [][format.MaxTokenSize]byte
	views [][]byte // binary tokens decoded from texts
	buf   [format.MessageSize]byte
	wg    sync.WaitGroup
}

// edSub is one Ed25519 sub-batch: a contiguous range of the tokens.
type edSub struct {
	ed  edsig.Batch
	idx []int  // edsig entry -> token index
	ok  []bool // edsig results
	err error  // set if the random source failed
}

// rsaJob is an rsabssa token to verify: its index and signed message.
type rsaJob struct {
	i   int
	msg [format.MessageSize]byte
}

// NewBatch returns a Batch for v's directory and options. A Batch not
// made by NewBatch is a programming error: its methods panic.
func (v *Verifier) NewBatch() *Batch {
	v.check()
	return &Batch{v: v}
}

// Verify checks every binary token in tokens as Verifier.Verify would:
// it sets errs[i] to nil or the error for tokens[i], and, unless results
// is nil, results[i] to the token's Result (the zero Result where errs[i]
// is not nil). It returns nil when every token is valid, an error
// wrapping ErrBatch when some are not, and one wrapping ErrRandomness,
// set for every token too, if the system's random source failed, in which
// case no token is accepted.
//
// errs, and results unless nil, must have the length of tokens: if they
// do not, no token is checked, and the error returned, which wraps
// neither, is also set in every slot of errs.
//
// With a spent-token store set, valid tokens are recorded in order, so
// the second of two equal tokens is ErrReplayed, whatever the store's
// state. Every store call gets ctx, with the one deadline of
// Options.SpentTimeout if set, which starts once the signatures are
// checked: a deadline bounds the time the whole batch spends on the
// store, and once it has passed the store is not asked again.
//
// Each token is at most token.MaxSize bytes; longer ones are refused as
// malformed without being read. A Batch's memory grows in proportion to
// the largest number of tokens it has been given, and is kept for reuse.
func (b *Batch) Verify(ctx context.Context, tokens [][]byte, results []Result, errs []error) error {
	b.v.check()
	if err := checkSlots(len(tokens), results, errs); err != nil {
		return err
	}
	clear(errs)
	return b.run(ctx, tokens, results, errs)
}

// VerifyText is Verify for tokens in their QR text form
// (token.ParseText), each at most token.MaxTextSize characters. Each text
// is decoded once, straight into the batch's own buffers.
func (b *Batch) VerifyText(ctx context.Context, texts []string, results []Result, errs []error) error {
	b.v.check()
	if err := checkSlots(len(texts), results, errs); err != nil {
		return err
	}
	if cap(b.texts) < len(texts) {
		b.texts = make([][format.MaxTokenSize]byte, len(texts))
	}
	b.texts = b.texts[:len(texts)]
	b.views = grow(b.views, len(texts))
	for i, s := range texts {
		raw, err := format.DecodeText(&b.texts[i], s)
		b.views[i], errs[i] = raw, nil
		if err != nil {
			errs[i] = fmt.Errorf("%w: %v", token.ErrMalformed, err)
		}
	}
	err := b.run(ctx, b.views, results, errs)
	clear(b.views)
	return err
}

func checkSlots(n int, results []Result, errs []error) error {
	if len(errs) == n && (results == nil || len(results) == n) {
		return nil
	}
	err := fmt.Errorf("verify: Batch given %d error slots and %d result slots for %d tokens", len(errs), len(results), n)
	for i := range errs {
		errs[i] = err
	}
	return err
}

// run verifies every token whose errs slot is nil.
func (b *Batch) run(ctx context.Context, tokens [][]byte, results []Result, errs []error) error {
	nEd := countEd25519(tokens)
	w := b.prepare(len(tokens), nEd)
	b.precheckAll(tokens, w, nEd, errs)
	err := b.verifyEd25519(w, errs)
	if err != nil {
		err = b.refuseAll(fmt.Errorf("%w: %v", ErrRandomness, err), results, errs)
	} else {
		b.verifyRSA(errs)
		if b.v != nil && b.v.opts.Spent != nil {
			b.refuseRepeats(errs)
		}
		err = b.finish(ctx, results, errs)
	}
	clear(b.toks) // keep no reference to the caller's tokens
	return err
}

// prepare empties the batch's buffers and sizes them for n tokens, nEd of
// them Ed25519, and returns the number of Ed25519 sub-batches.
func (b *Batch) prepare(n, nEd int) int {
	w := b.edWorkers(nEd)
	for len(b.eds) < w {
		b.eds = append(b.eds, edSub{})
	}
	for s := range b.eds {
		b.eds[s].ed.Reset()
		b.eds[s].idx = b.eds[s].idx[:0]
		b.eds[s].err = nil
	}
	b.rsa = b.rsa[:0]
	b.ks = grow(b.ks, n)
	clear(b.ks)
	b.toks = grow(b.toks, n)
	return w
}

// edWorkers returns the number of sub-batches, verified in parallel, for
// nEd Ed25519 tokens: one, or up to Options.Workers (and GOMAXPROCS) once
// each gets edParallelMin tokens.
func (b *Batch) edWorkers(nEd int) int {
	v := b.v
	pmin := edParallelMin
	if v.parallelMin > 0 {
		pmin = v.parallelMin
	}
	return max(1, min(v.opts.Workers, runtime.GOMAXPROCS(0), nEd/pmin))
}

// countEd25519 returns the number of tokens whose suite byte is Ed25519's,
// before they are parsed.
func countEd25519(tokens [][]byte) int {
	n := 0
	for _, raw := range tokens {
		if len(raw) > 1 && raw[1] == byte(token.Ed25519) {
			n++
		}
	}
	return n
}

// precheckAll runs every check but the signature and the spent store on
// each token whose errs slot is nil, and queues the tokens that pass for
// signature verification: the Ed25519 ones, of nEd counted, split in
// order over w sub-batches, the rsabssa ones in one list.
func (b *Batch) precheckAll(tokens [][]byte, w, nEd int, errs []error) {
	now := b.v.now()
	edSeen := 0
	for i, raw := range tokens {
		if errs[i] != nil {
			continue
		}
		t, k, err := b.v.precheck(raw, now)
		errs[i], b.ks[i], b.toks[i] = err, k, t
		if err != nil {
			continue
		}
		msg := format.AppendMessage(b.buf[:0], raw)
		switch k.Suite {
		case token.Ed25519:
			sub := &b.eds[0]
			if w > 1 { // then nEd ≥ w·pmin
				sub = &b.eds[min(edSeen*w/nEd, w-1)]
			}
			edSeen++
			sub.ed.Add(k.Ed, msg, t.Signature)
			sub.idx = append(sub.idx, i)
		case token.RSABSSA:
			b.rsa = append(b.rsa, rsaJob{i: i})
			copy(b.rsa[len(b.rsa)-1].msg[:], msg)
		}
	}
}

// refuseAll refuses every token with err, the random source's failure:
// without weights there is no verdict on any token.
func (b *Batch) refuseAll(err error, results []Result, errs []error) error {
	for i := range errs {
		errs[i] = err
		if results != nil {
			results[i] = Result{}
		}
	}
	return err
}

// finish records the valid tokens in the spent store, in order and under
// one deadline, fills results, and returns the batch's error.
func (b *Batch) finish(ctx context.Context, results []Result, errs []error) error {
	v := b.v
	if v != nil && v.opts.Spent != nil {
		var cancel context.CancelFunc
		ctx, cancel = v.spendContext(ctx)
		defer cancel()
	}
	bad := 0
	for i := range errs {
		var r Result
		if errs[i] == nil {
			r = v.result(b.ks[i])
			errs[i] = v.spend(ctx, b.ks[i], b.toks[i].Nonce, &r)
		}
		if errs[i] != nil {
			bad++
			r = Result{}
		}
		if results != nil {
			results[i] = r
		}
	}
	if bad > 0 {
		return fmt.Errorf("%w: %d of %d", ErrBatch, bad, len(errs))
	}
	return nil
}

// refuseRepeats sets ErrReplayed for every valid token that repeats an
// earlier valid token of the batch (same key and nonce), so that a token
// is accepted at most once per batch whatever the spent store answers.
func (b *Batch) refuseRepeats(errs []error) {
	b.order = b.order[:0]
	for i, err := range errs {
		if err == nil {
			b.order = append(b.order, int32(i))
		}
	}
	if len(b.order) < 2 {
		return
	}
	slices.SortFunc(b.order, b.compareTokens)
	for j := 1; j < len(b.order); j++ {
		prev, i := b.order[j-1], b.order[j]
		if b.ks[prev] == b.ks[i] && b.toks[prev].Nonce == b.toks[i].Nonce {
			errs[i] = ErrReplayed
		}
	}
}

// compareTokens orders token indices by nonce, then key, then index.
func (b *Batch) compareTokens(i, j int32) int {
	if c := bytes.Compare(b.toks[i].Nonce[:], b.toks[j].Nonce[:]); c != 0 {
		return c
	}
	if c := bytes.Compare(b.ks[i].ID[:], b.ks[j].ID[:]); c != 0 {
		return c
	}
	return int(i - j)
}

// verifyEd25519 checks the first w Ed25519 sub-batches, each on its own
// goroutine. It fails only if the random source does.
func (b *Batch) verifyEd25519(w int, errs []error) error {
	for s := 1; s < w; s++ {
		b.wg.Add(1)
		go b.verifySub(s)
	}
	b.verifySub(0)
	b.wg.Wait()
	for s := range b.eds[:w] {
		sub := &b.eds[s]
		if sub.err != nil {
			return sub.err
		}
		for j, i := range sub.idx {
			if !sub.ok[j] {
				errs[i] = ErrInvalidSignature
			}
		}
	}
	return nil
}

// verifySub verifies sub-batch s; for s > 0 it runs on its own goroutine.
func (b *Batch) verifySub(s int) {
	sub := &b.eds[s]
	sub.ok = grow(sub.ok, len(sub.idx))
	if len(sub.idx) > 0 {
		_, sub.err = sub.ed.Verify(sub.ok)
	}
	if s > 0 {
		b.wg.Done()
	}
}

// verifyRSA checks the collected rsabssa tokens on up to Options.Workers
// goroutines.
func (b *Batch) verifyRSA(errs []error) {
	jobs := b.rsa
	if len(jobs) == 0 {
		return
	}
	check := func(j *rsaJob) {
		k := b.ks[j.i]
		if !k.VerifySignature(j.msg[:], b.toks[j.i].Signature) {
			errs[j.i] = ErrInvalidSignature
		}
	}
	w := min(b.v.opts.Workers, len(jobs))
	if w <= 1 {
		for j := range jobs {
			check(&jobs[j])
		}
		return
	}
	var wg sync.WaitGroup
	for g := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := g; j < len(jobs); j += w {
				check(&jobs[j])
			}
		}()
	}
	wg.Wait()
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
