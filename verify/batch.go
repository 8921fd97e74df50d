package verify

import (
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/statustoken/statustoken/internal/edsig"
	"github.com/statustoken/statustoken/internal/keyset"
	"github.com/statustoken/statustoken/token"
)

// Batch verifies many tokens at once. Ed25519 tokens are checked together
// with one randomized equation per batch (SPEC.md, "Batch verification"),
// which is several times faster per token than single verification and
// gives the same result for every token; a large batch is split into
// sub-batches verified in parallel. rsabssa tokens are checked in
// parallel. A Batch keeps its buffers between calls, so a reused Batch
// does not allocate per token. It is not safe for concurrent use; use one
// per goroutine.
type Batch struct {
	v   *Verifier
	eds []edSub       // Ed25519 sub-batches, one per goroutine
	rsa []rsaJob      // rsabssa tokens
	ks  []*keyset.Key // key of each token that passed prechecks
	ns  []token.Nonce // nonce of each token that passed prechecks
	buf [token.MessageSize]byte
	wg  sync.WaitGroup
	rnd lockedReader
}

// edSub is one Ed25519 sub-batch: a contiguous range of the tokens.
type edSub struct {
	ed  edsig.Batch
	idx []int  // edsig entry -> token index
	ok  []bool // edsig results
}

// edParallelMin is the number of tokens per goroutine from which a batch's
// Ed25519 tokens are split into sub-batches verified in parallel. Below
// it, the cost of starting goroutines and the lower efficiency of smaller
// multi-scalar multiplications outweigh the gain (BenchmarkVerifyBatch with
// -cpu 1,2).
var edParallelMin = 256

// lockedReader serializes reads from Options.Rand, which need not be safe
// for concurrent use, by parallel sub-batches.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

type rsaJob struct {
	i   int
	msg [token.MessageSize]byte
	sig []byte
}

// NewBatch returns a Batch for v's directory and options.
func (v *Verifier) NewBatch() *Batch { return &Batch{v: v} }

// Verify checks every token in tokens as Verifier.Verify would, and sets
// errs[i] to nil or the error for tokens[i]. It returns nil when every
// token is valid and an error wrapping ErrBatch otherwise. errs must have
// the length of tokens: if it does not, no token is checked, and the error
// returned, which does not wrap ErrBatch, is also set in every slot of errs.
// With a spent-token store set, valid tokens are recorded in order, so the
// second of two equal tokens is ErrReplayed.
//
// Each token is at most token.MaxSize bytes; longer ones are refused as
// malformed without being read. A Batch's memory grows in proportion to
// the largest number of tokens it has been given, and is kept for reuse.
func (b *Batch) Verify(tokens [][]byte, errs []error) error {
	return b.VerifyResults(tokens, nil, errs)
}

// VerifyResults is Verify that also describes each valid token: results[i]
// is set as Verifier.Verify would return it for tokens[i] (the zero Result
// where errs[i] is not nil). results may be nil; otherwise it must have the
// length of tokens, like errs. Use it to read statuses and, with a
// fail-open spent-token store, which tokens skipped the replay check.
func (b *Batch) VerifyResults(tokens [][]byte, results []Result, errs []error) error {
	if len(errs) != len(tokens) || (results != nil && len(results) != len(tokens)) {
		err := fmt.Errorf("verify: Batch.Verify given %d error slots and %d result slots for %d tokens", len(errs), len(results), len(tokens))
		for i := range errs {
			errs[i] = err
		}
		return err
	}
	v := b.v
	now := v.now()
	// Split the Ed25519 tokens, counted by their suite byte, into w
	// sub-batches of consecutive tokens.
	nEd := 0
	for _, raw := range tokens {
		if len(raw) > 1 && raw[1] == byte(token.Ed25519) {
			nEd++
		}
	}
	w := 1
	if v != nil {
		w = max(1, min(v.opts.Workers, runtime.GOMAXPROCS(0), nEd/edParallelMin))
	}
	for len(b.eds) < w {
		b.eds = append(b.eds, edSub{})
	}
	for s := range b.eds {
		b.eds[s].ed.Reset()
		b.eds[s].idx = b.eds[s].idx[:0]
	}
	b.rsa = b.rsa[:0]
	edSeen := 0
	b.ks = grow(b.ks, len(tokens))
	b.ns = grow(b.ns, len(tokens))
	for i, raw := range tokens {
		msg, t, k, err := v.precheck(b.buf[:], raw, now)
		errs[i], b.ks[i], b.ns[i] = err, k, t.Nonce
		if err != nil {
			continue
		}
		switch k.Suite {
		case token.Ed25519:
			sub := &b.eds[0]
			if w > 1 { // then nEd ≥ w·edParallelMin
				sub = &b.eds[min(edSeen*w/nEd, w-1)]
			}
			edSeen++
			sub.ed.Add(k.Ed, msg, t.Signature)
			sub.idx = append(sub.idx, i)
		case token.RSABSSA:
			b.rsa = append(b.rsa, rsaJob{i: i, sig: t.Signature})
			copy(b.rsa[len(b.rsa)-1].msg[:], msg)
		}
	}
	b.verifyEd25519(w, errs)
	b.verifyRSA(errs)
	bad := 0
	for i := range tokens {
		var r Result
		if errs[i] == nil && (results != nil || v.opts.Spent != nil) {
			r = v.result(b.ks[i])
		}
		if errs[i] == nil && v.opts.Spent != nil {
			errs[i] = v.spend(b.ks[i], b.ns[i], &r)
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
		return fmt.Errorf("%w: %d of %d", ErrBatch, bad, len(tokens))
	}
	return nil
}

// verifyEd25519 checks the first w Ed25519 sub-batches, each on its own
// goroutine.
func (b *Batch) verifyEd25519(w int, errs []error) {
	var rnd io.Reader // nil: crypto/rand, which is safe for concurrent use
	if b.v != nil && b.v.opts.Rand != nil {
		rnd = b.v.opts.Rand
		if w > 1 {
			b.rnd.r = b.v.opts.Rand
			rnd = &b.rnd
		}
	}
	for s := 1; s < w; s++ {
		b.wg.Add(1)
		go b.verifySub(s, rnd)
	}
	b.verifySub(0, rnd)
	b.wg.Wait()
	b.rnd.r = nil
	for s := range b.eds[:w] {
		sub := &b.eds[s]
		for j, i := range sub.idx {
			if !sub.ok[j] {
				errs[i] = ErrInvalidSignature
			}
		}
	}
}

// verifySub verifies sub-batch s; for s > 0 it runs on its own goroutine.
func (b *Batch) verifySub(s int, rnd io.Reader) {
	sub := &b.eds[s]
	sub.ok = grow(sub.ok, len(sub.idx))
	if len(sub.idx) > 0 {
		sub.ed.Verify(rnd, sub.ok)
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
		if !k.VerifySignature(j.msg[:], j.sig) {
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

var batchPool = sync.Pool{New: func() any { return new(Batch) }}

// VerifyBatch is Batch.Verify with a pooled Batch.
func (v *Verifier) VerifyBatch(tokens [][]byte, errs []error) error {
	b := batchPool.Get().(*Batch)
	b.v = v
	err := b.Verify(tokens, errs)
	b.v = nil
	batchPool.Put(b)
	return err
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
