package edsig

import (
	cryptorand "crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Batch verification.
//
// For weights z_i drawn for each call to Verify (see drawWeights), a batch
// is valid iff
//
//	[8]( [Σ z_i·s_i]B − Σ [z_i]R_i − Σ_keys [Σ_{i∈key} z_i·k_i]A_key ) = 0.
//
// The key terms fold into one per distinct key, so the only multi-scalar
// multiplication with one point per signature is over the R_i, with 128-bit
// scalars z_i. If every signature is valid, each satisfies
// [8]([s_i]B − R_i − [k_i]A) = 0 and so does the sum, whatever the weights.
// If one is not, its term [8][z_i](…) is a nonzero point of prime order L,
// so exactly one z_i mod L makes the sum vanish, and a uniform 128-bit z_i
// is that value with probability below 2⁻¹²⁷. Single and batch verification
// therefore agree, always in one direction and, in the other, except with
// that probability for each check an invalid entry takes part in.
//
// When a batch fails, the bad entries are found by bisection over the same
// weights. The sum Q of a failing range is known; the sum Q_L of its first
// half is computed and the second half's is Q − Q_L, for free. Only halves
// that fail are split again, so one bad entry among n costs one extra
// multi-scalar multiplication over n/2 + n/4 + … ≈ n points. Ranges of a few
// entries, and levels at which every range fails, are checked one entry at
// a time, and so is the whole batch if a few entries at unpredictable
// positions are all bad.

const (
	// minBatch is the smallest batch verified as a batch; smaller ones are
	// checked one signature at a time.
	minBatch = 2
	// singleCutoff is the largest failing range that is checked one entry
	// at a time rather than split.
	singleCutoff = 2
	// denseLevel is the number of ranges from which, if every range at a
	// bisection level fails, most entries are taken to be bad and the
	// failing ranges are checked one entry at a time.
	denseLevel = 16
	// denseSamples entries of a failing batch of at least denseSampleMin
	// entries are checked one at a time first; if all are bad, every entry
	// is checked one at a time.
	denseSamples   = 4
	denseSampleMin = 64
	// strausMax is the largest multiplication done with Straus rather than
	// Pippenger.
	strausMax = 80
	// linearKeys is the number of distinct keys up to which Add finds a
	// key's index by a linear scan rather than a map.
	linearKeys = 8
)

// pippengerWindow returns the window width for a Pippenger multiplication
// over n points. The widths and strausMax were tuned by measurement; the
// cost per point is flat within about 5% around each choice.
func pippengerWindow(n int) uint {
	switch {
	case n < 160:
		return 5
	case n < 640:
		return 6
	case n < 2560:
		return 8
	case n < 5120:
		return 10
	default:
		return 11
	}
}

// Batch collects Ed25519 signatures and verifies them together, for much
// less than the cost of verifying each one. Its results equal those of
// [Verify] on each entry: a valid signature always passes, and an invalid
// one fails except with the negligible probability given in the package
// documentation.
//
// The zero value is an empty batch ready to use. A Batch keeps its memory
// across [Batch.Reset], so that a reused batch does not allocate. It is not
// safe for concurrent use.
type Batch struct {
	// slot has one element per Add: the index of the entry, or −1 for a
	// signature rejected by Add.
	slot []int32

	// Entries, one per signature accepted by Add. rEnc holds the encoding
	// of R, and negR the decoded −R of the first len(negR) entries.
	rEnc [][32]byte
	negR []affinePoint
	s, k [][32]byte
	key  []int32 // index into keys

	// Per call to Verify.
	z    []scalar128
	good []bool

	keys   []*PublicKey
	keyMap map[*PublicKey]int32 // used past linearKeys distinct keys
	h      *hasher

	// Scratch space.
	dropped   []int32
	remap     []int32
	wbuf      [sha512.Size + 8]byte // seed, then T and a block counter
	keySum    []wideAcc
	keyStamp  []uint32
	stamp     uint32
	touched   []int32
	fixed     []fixedTerm
	rTables   []rTable
	rNafs     [][nafLen]int8
	extra     []extraTerm
	pip       pippenger
	level     []bisectNode
	nextLevel []bisectNode

	stats batchStats

	// rand replaces crypto/rand.Reader in this package's tests.
	rand io.Reader
}

// batchStats counts the work of Verify calls, for tests of its cost.
type batchStats struct {
	sumPoints int // signature points in weighted sums
	singles   int // entries checked one at a time
}

// bisectNode is a failing range of entries with its weighted sum.
type bisectNode struct {
	lo, hi int
	q      extPoint
}

// NewBatch returns an empty batch with room for n signatures.
func NewBatch(n int) *Batch {
	n = max(n, 0)
	return &Batch{
		slot: make([]int32, 0, n),
		rEnc: make([][32]byte, 0, n),
		negR: make([]affinePoint, 0, n),
		s:    make([][32]byte, 0, n),
		k:    make([][32]byte, 0, n),
		key:  make([]int32, 0, n),
	}
}

// Reset empties the batch, keeping its memory for reuse.
func (b *Batch) Reset() {
	b.slot = b.slot[:0]
	b.rEnc = b.rEnc[:0]
	b.negR = b.negR[:0]
	b.s = b.s[:0]
	b.k = b.k[:0]
	b.key = b.key[:0]
	clear(b.keys) // do not keep keys alive
	b.keys = b.keys[:0]
	clear(b.keyMap)
}

// Len returns the number of signatures added since the last Reset.
func (b *Batch) Len() int { return len(b.slot) }

// Add adds the signature sig of msg by pk to the batch. It hashes msg at
// once and keeps neither msg nor sig. A signature that is not 64 bytes
// long, whose s or R is not canonical, or whose key is nil or zero, is
// recorded as invalid. R is decoded by the next Verify, several points at
// a time.
func (b *Batch) Add(pk *PublicKey, msg, sig []byte) {
	r, s, ok := splitSignature(sig)
	if pk == nil || !pk.valid || !ok {
		b.slot = append(b.slot, -1)
		return
	}
	if b.h == nil {
		b.h = newHasher()
	}
	var k [32]byte
	b.h.challenge(&k, sig[:32], pk.enc[:], msg)
	b.slot = append(b.slot, int32(len(b.rEnc)))
	b.rEnc = append(b.rEnc, r)
	b.s = append(b.s, s)
	b.k = append(b.k, k)
	b.key = append(b.key, b.keyIndex(pk))
}

// decodeVarTime decodes the R of every entry added since the last call,
// and drops the entries whose R is not a curve point, marking their
// signatures invalid.
func (b *Batch) decodeVarTime() {
	lo, m := len(b.negR), len(b.rEnc)
	if lo == m {
		return
	}
	b.negR = slices.Grow(b.negR, m-lo)[:m]
	b.dropped = decodeNegManyVarTime(b.negR[lo:m], b.rEnc[lo:m], lo, b.dropped[:0])
	if len(b.dropped) == 0 {
		return
	}
	// Move the entries after each dropped one down, and renumber the
	// slots that point past lo.
	b.remap = grow(b.remap, m-lo)
	next, d := lo, 0
	for i := lo; i < m; i++ {
		if d < len(b.dropped) && int(b.dropped[d]) == i {
			b.remap[i-lo] = -1
			d++
			continue
		}
		b.remap[i-lo] = int32(next)
		b.negR[next], b.rEnc[next] = b.negR[i], b.rEnc[i]
		b.s[next], b.k[next], b.key[next] = b.s[i], b.k[i], b.key[i]
		next++
	}
	b.negR, b.rEnc = b.negR[:next], b.rEnc[:next]
	b.s, b.k, b.key = b.s[:next], b.k[:next], b.key[:next]
	for j, e := range b.slot {
		if int(e) >= lo {
			b.slot[j] = b.remap[int(e)-lo]
		}
	}
}

// keyIndex returns the index of pk in b.keys, adding it if needed.
func (b *Batch) keyIndex(pk *PublicKey) int32 {
	n := len(b.keys)
	if n > 0 && b.keys[n-1] == pk {
		return int32(n - 1)
	}
	if n <= linearKeys {
		for i, k := range b.keys {
			if k == pk {
				return int32(i)
			}
		}
	} else if i, ok := b.keyMap[pk]; ok {
		return i
	}
	b.keys = append(b.keys, pk)
	if len(b.keys) > linearKeys {
		if b.keyMap == nil {
			b.keyMap = make(map[*PublicKey]int32)
		}
		if len(b.keyMap) == 0 {
			for i, k := range b.keys {
				b.keyMap[k] = int32(i)
			}
		} else {
			b.keyMap[pk] = int32(n)
		}
	}
	return int32(n)
}

// Verify verifies every signature in the batch and reports whether all are
// valid. If results is not nil, results[i] is set to the validity of the
// i-th signature added; it must be at least Len() long. With a nil results,
// Verify stops at the first sign of an invalid signature.
//
// The batch weights are derived from a seed read from crypto/rand and
// from the batch's contents. If crypto/rand fails, Verify returns an
// error, reports every signature as invalid, and accepts nothing. The batch is unchanged by Verify and may be verified again.
// Verify is variable-time.
func (b *Batch) Verify(results []bool) (bool, error) {
	n := len(b.slot)
	if results != nil && len(results) < n {
		panic("edsig: results shorter than the batch")
	}
	b.decodeVarTime()
	m := len(b.negR)
	if results == nil && m < n {
		return false, nil
	}
	b.good = grow(b.good, m)
	clear(b.good)
	var err error
	if m > 0 {
		err = b.verifyEntries(results == nil)
	}
	all := err == nil
	for i, e := range b.slot {
		ok := err == nil && e >= 0 && b.good[e]
		if results != nil {
			results[i] = ok
		}
		all = all && ok
	}
	return all, err
}

// grow returns s with length n, reusing its memory when large enough.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n, n+n/4)
	}
	return s[:n]
}

// verifyEntries sets b.good for every entry. If boolOnly is set and some
// entry is invalid, it may leave b.good all false. It fails only if the
// weights cannot be drawn.
func (b *Batch) verifyEntries(boolOnly bool) error {
	m := len(b.negR)
	if m < minBatch {
		b.singlesVarTime(0, m, false)
		return nil
	}
	if err := b.drawWeights(); err != nil {
		return err
	}
	b.keySum = grow(b.keySum, len(b.keys))
	if len(b.keyStamp) < len(b.keys) {
		b.keyStamp = make([]uint32, len(b.keys), cap(b.keySum))
		b.stamp = 0
	}

	var q extPoint
	b.sumVarTime(&q, 0, m)
	if q.cofactorClears() {
		for i := range b.good {
			b.good[i] = true
		}
		return nil
	}
	if boolOnly {
		return nil
	}
	if m >= denseSampleMin && b.mostlyBadVarTime() {
		b.singlesVarTime(0, m, true)
		return nil
	}
	b.bisectVarTime(&q)
	return nil
}

// mostlyBadVarTime checks denseSamples entries at positions drawn from the
// weights, which the signers cannot predict, and reports whether all of
// them are bad. That is likely if most of the batch is bad and unlikely
// otherwise: with half of the entries bad, it happens once in 16.
func (b *Batch) mostlyBadVarTime() bool {
	m := len(b.negR)
	for j := range denseSamples {
		i := int(b.z[j][1] % uint64(m))
		b.stats.singles++
		if checkVarTime(b.keys[b.key[i]], &b.negR[i], &b.s[i], &b.k[i]) {
			return false
		}
	}
	return true
}

// drawWeights fills b.z with nonzero 128-bit weights derived from a seed
// read from crypto/rand (or from b.rand, which this package's tests set)
// and from the batch's own entries, numbered from 0:
//
//	T   = SHA-512(weightLabel || seed || k_0 || s_0 || … || k_{m−1} || s_{m−1})
//	z_i = bytes 16(i mod 4) to 16(i mod 4)+15 of SHA-512(T || uint64le(⌊i/4⌋)),
//	      read little-endian, with 0 replaced by 1
//
// Each k_i = SHA-512(R_i || A_i || M_i) mod L binds the entry's R, key and
// message, so T binds the whole batch. A source that is predictable, even
// constant, then still gives weights that the signers cannot choose: to
// make invalid signatures cancel, they would have to find contents whose
// hash gives weights that fit them. A seed of zeros, which a working source
// gives with probability 2⁻²⁵⁶, is taken as a failed source.
func (b *Batch) drawWeights() error {
	rand := b.rand
	if rand == nil {
		rand = cryptorand.Reader
	}
	seed := b.wbuf[:weightSeedSize]
	if _, err := io.ReadFull(rand, seed); err != nil {
		return fmt.Errorf("reading the batch weights' seed: %w", err)
	}
	if isZeroBytes(seed) {
		return errZeroSeed
	}
	if b.h == nil {
		b.h = newHasher()
	}
	h := b.h.h
	h.Reset()
	h.Write(weightLabel)
	h.Write(seed)
	m := len(b.negR)
	for i := range m {
		h.Write(b.k[i][:])
		h.Write(b.s[i][:])
	}
	h.Sum(b.wbuf[:0]) // T, over the seed
	ctr := b.wbuf[sha512.Size:]
	b.z = grow(b.z, m)
	for i := 0; i < m; i += 4 {
		binary.LittleEndian.PutUint64(ctr, uint64(i/4))
		h.Reset()
		h.Write(b.wbuf[:])
		block := h.Sum(b.h.digest[:0])
		for j := 0; j < 4 && i+j < m; j++ {
			b.z[i+j] = weightFromBytes(block[16*j:])
		}
	}
	return nil
}

const weightSeedSize = 32

// weightLabel separates the hash of a batch's weights from every other use
// of SHA-512.
var weightLabel = []byte("statustoken edsig batch weights v1")

// weightFromBytes reads a weight from 16 little-endian bytes, mapping zero
// to one so that every weight is nonzero.
func weightFromBytes(p []byte) scalar128 {
	z := scalar128{binary.LittleEndian.Uint64(p), binary.LittleEndian.Uint64(p[8:])}
	if z.isZero() {
		z[0] = 1
	}
	return z
}

func isZeroBytes(p []byte) bool {
	var acc byte
	for _, c := range p {
		acc |= c
	}
	return acc == 0
}

var errZeroSeed = errors.New("randomness source returned only zero bytes")

// sumVarTime sets q = Σ_{lo≤i<hi} z_i·([s_i]B − R_i − [k_i]A_i), the
// weighted sum of a range of entries before the cofactor is cleared.
func (b *Batch) sumVarTime(q *extPoint, lo, hi int) {
	b.stats.sumPoints += hi - lo
	sLo, sHi := b.foldScalars(lo, hi)
	if m := hi - lo; m <= strausMax && (!useFE8 || m <= vecStrausMax) {
		b.strausVarTime(q, lo, hi, sLo, sHi)
	} else {
		b.pippengerVarTime(q, lo, hi, sLo, sHi, pippengerWindow(m))
	}
}

// foldScalars returns the halves of Σ z_i·s_i mod L over [lo, hi), and
// sets keySum[key] = Σ z_i·k_i, unreduced, for each key listed in touched.
func (b *Batch) foldScalars(lo, hi int) (sLo, sHi scalar128) {
	b.stamp++
	if b.stamp == 0 {
		clear(b.keyStamp)
		b.stamp = 1
	}
	b.touched = b.touched[:0]
	var sum wideAcc
	for i := lo; i < hi; i++ {
		sum.mulAdd(&b.z[i], &b.s[i])
		key := b.key[i]
		if b.keyStamp[key] != b.stamp {
			b.keyStamp[key] = b.stamp
			b.keySum[key] = wideAcc{}
			b.touched = append(b.touched, key)
		}
		b.keySum[key].mulAdd(&b.z[i], &b.k[i])
	}
	s := sum.reduce()
	return split128(&s)
}

// strausVarTime computes the weighted sum of [lo, hi) with Straus, given
// the folded basepoint scalar and key sums.
func (b *Batch) strausVarTime(q *extPoint, lo, hi int, sLo, sHi scalar128) {
	bt := getBaseTables()
	m := hi - lo
	b.fixed = grow(b.fixed, 2+2*len(b.touched))
	b.fixed[0].table = bt.b[:]
	nafVarTime(&b.fixed[0].naf, &sLo, baseWindow)
	b.fixed[1].table = bt.b128[:]
	nafVarTime(&b.fixed[1].naf, &sHi, baseWindow)
	for j, key := range b.touched {
		pk := b.keys[key]
		c := b.keySum[key].reduce()
		cLo, cHi := split128(&c)
		f := b.fixed[2+2*j:]
		f[0].table = pk.negA[:]
		nafVarTime(&f[0].naf, &cLo, keyWindow)
		f[1].table = pk.negA128[:]
		nafVarTime(&f[1].naf, &cHi, keyWindow)
	}
	b.rTables = grow(b.rTables, m)
	b.rNafs = grow(b.rNafs, m)
	for i := range m {
		b.rTables[i].setVarTime(&b.negR[lo+i])
		nafVarTime(&b.rNafs[i], &b.z[lo+i], rWindow)
	}
	strausVarTime(q, b.fixed, b.rTables, b.rNafs)
}

// pippengerVarTime computes the weighted sum of [lo, hi) with Pippenger's
// method and c-bit windows, given the folded basepoint scalar and key sums.
func (b *Batch) pippengerVarTime(q *extPoint, lo, hi int, sLo, sHi scalar128, c uint) {
	bt := getBaseTables()
	b.extra = grow(b.extra, 2+2*len(b.touched))
	b.extra[0] = extraTerm{&bt.b[0], sLo}
	b.extra[1] = extraTerm{&bt.b128[0], sHi}
	for j, key := range b.touched {
		pk := b.keys[key]
		c := b.keySum[key].reduce()
		cLo, cHi := split128(&c)
		b.extra[2+2*j] = extraTerm{&pk.negA[0], cLo}
		b.extra[3+2*j] = extraTerm{&pk.negA128[0], cHi}
	}
	if useFE8 {
		b.pip.multVecVarTime(q, b.negR[lo:hi], b.z[lo:hi], b.extra, vecWindow(hi-lo))
		return
	}
	if useFE4 {
		b.pip.multVec4VarTime(q, b.negR[lo:hi], b.z[lo:hi], b.extra, vec4Window(hi-lo))
		return
	}
	b.pip.multVarTime(q, b.negR[lo:hi], b.z[lo:hi], b.extra, c)
}

// bisectVarTime finds the bad entries of the batch, whose weighted sum q
// is known to fail.
func (b *Batch) bisectVarTime(q *extPoint) {
	b.level = append(b.level[:0], bisectNode{lo: 0, hi: len(b.negR), q: *q})
	width := 1 // the number of ranges at this level
	for len(b.level) > 0 {
		if width >= denseLevel && len(b.level) == width {
			for i := range b.level {
				b.singlesVarTime(b.level[i].lo, b.level[i].hi, true)
			}
			return
		}
		b.nextLevel = b.nextLevel[:0]
		for i := range b.level {
			nd := &b.level[i]
			switch size := nd.hi - nd.lo; {
			case size == 1:
				// Known bad: b.good[nd.lo] stays false.
			case size <= singleCutoff:
				b.singlesVarTime(nd.lo, nd.hi, true)
			default:
				mid := nd.lo + size/2
				var ql, qr extPoint
				b.sumVarTime(&ql, nd.lo, mid)
				qr.sub(&nd.q, &ql)
				b.settleVarTime(nd.lo, mid, &ql)
				b.settleVarTime(mid, nd.hi, &qr)
			}
		}
		b.level, b.nextLevel = b.nextLevel, b.level
		width *= 2
	}
}

// settleVarTime marks the range [lo, hi) good if its weighted sum q passes,
// and queues it for the next bisection level otherwise.
func (b *Batch) settleVarTime(lo, hi int, q *extPoint) {
	if q.cofactorClears() {
		for i := lo; i < hi; i++ {
			b.good[i] = true
		}
		return
	}
	b.nextLevel = append(b.nextLevel, bisectNode{lo: lo, hi: hi, q: *q})
}

// singlesVarTime checks the entries of [lo, hi) one at a time. If knownBad
// is set, the range holds at least one bad entry, so when all but the last
// pass the last one is bad without a check.
func (b *Batch) singlesVarTime(lo, hi int, knownBad bool) {
	allGood := true
	for i := lo; i < hi; i++ {
		if knownBad && allGood && i == hi-1 {
			return
		}
		b.stats.singles++
		b.good[i] = checkVarTime(b.keys[b.key[i]], &b.negR[i], &b.s[i], &b.k[i])
		allGood = allGood && b.good[i]
	}
}
