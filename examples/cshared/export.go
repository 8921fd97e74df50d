// Command cshared is built as a C shared library, libstatustoken.so, whose
// interface statustoken.h documents:
//
//	go build -buildmode=c-shared -o libstatustoken.so .
//
// Every exported function recovers from Go panics on its own goroutine
// (returning ST_ERR_INTERNAL), copies what it reads from C before using
// it, keeps no C pointer after it returns, and passes no Go pointer to C:
// a verifier is known to C only as a runtime/cgo.Handle, an integer.
package main

/*
#include "statustoken.h"
#include "cgo_types.h"
*/
import "C"

import (
	"bytes"
	"runtime/cgo"
	"unsafe"

	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

func main() {}

// view returns the n bytes at p, in C memory, without copying: for the
// duration of the call only.
func view(p unsafe.Pointer, n C.size_t) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(p), int(n))
}

// lookup returns the scanner that handle h names, or nil if h is 0,
// deleted or not one of this library's scanner handles (cgo.Handle.Value
// panics for a handle it does not know).
func lookup(h C.st_verifier) (s *scanner) {
	if h == 0 {
		return nil
	}
	defer func() {
		if recover() != nil {
			s = nil
		}
	}()
	s, _ = cgo.Handle(h).Value().(*scanner)
	return s
}

// putResult writes r into dst, zeroed first.
func putResult(dst *C.st_result, r *verify.Result) {
	*dst = C.st_result{}
	dst.expiry = C.int64_t(r.Expiry.Unix())
	dst.suite = C.uint8_t(r.Suite)
	dst.status = C.uint8_t(r.Status)
	dst.replay = C.uint8_t(r.Replay)
	for i, b := range r.KeyID {
		dst.key_id[i] = C.uint8_t(b)
	}
	name := unsafe.Slice((*byte)(unsafe.Pointer(&dst.status_name[0])), len(dst.status_name)-1)
	copy(name, r.StatusName) // the last byte stays NUL
}

//export st_verifier_new
func st_verifier_new(directory *C.st_cgo_cbytes, directory_len C.size_t,
	signature *C.st_cgo_cbytes, signature_len C.size_t,
	proof *C.st_cgo_cbytes, proof_len C.size_t,
	trust *C.st_cgo_cbytes, trust_len C.size_t,
	options *C.st_cgo_coptions, verifier *C.st_verifier) (rc C.int) {
	defer func() {
		if r := recover(); r != nil {
			recovered("st_verifier_new", r)
			rc = C.ST_ERR_INTERNAL
			if verifier != nil {
				*verifier = 0
			}
		}
	}()
	if verifier == nil {
		return C.ST_ERR_INVALID_ARGUMENT
	}
	*verifier = 0
	if (directory == nil && directory_len != 0) || (signature == nil && signature_len != 0) ||
		(proof == nil && proof_len != 0) || (trust == nil && trust_len != 0) {
		return C.ST_ERR_INVALID_ARGUMENT
	}
	var o scanOptions
	if options != nil {
		c := *options
		o = scanOptions{flags: uint32(c.flags), spentLimit: uint32(c.spent_limit), now: int64(c.now),
			skew: int64(c.skew), minSerial: uint64(c.min_serial), workers: uint32(c.workers), reserved: uint32(c.reserved)}
	}
	// Check the lengths before copying anything (newScanner checks them
	// again, on the copies).
	switch {
	case trust_len > C.size_t(token.MaxTrustSize):
		return C.ST_ERR_MALFORMED_TRUST
	case directory_len > C.size_t(token.MaxDirectorySize):
		return C.ST_ERR_MALFORMED_DIRECTORY
	case signature_len > C.size_t(maxSignatureSize):
		return C.ST_ERR_DIRECTORY_SIGNATURE
	case proof_len > C.size_t(token.MaxProofSize):
		return C.ST_ERR_NOT_LOGGED
	}
	p := token.Published{
		Directory: bytes.Clone(view(unsafe.Pointer(directory), directory_len)),
		Signature: bytes.Clone(view(unsafe.Pointer(signature), signature_len)),
		Proof:     bytes.Clone(view(unsafe.Pointer(proof), proof_len)),
	}
	s, code := newScanner(p, bytes.Clone(view(unsafe.Pointer(trust), trust_len)), o)
	if code != codeOK {
		return C.int(code)
	}
	*verifier = C.st_verifier(cgo.NewHandle(s))
	return C.ST_OK
}

//export st_verifier_free
func st_verifier_free(verifier C.st_verifier) (rc C.int) {
	if verifier == 0 {
		return C.ST_OK
	}
	defer func() {
		// cgo.Handle.Delete panics for a handle it does not hold: one
		// freed before, or never made.
		if recover() != nil {
			rc = C.ST_ERR_INVALID_HANDLE
		}
	}()
	h := cgo.Handle(verifier)
	if _, ok := h.Value().(*scanner); !ok {
		return C.ST_ERR_INVALID_HANDLE
	}
	h.Delete()
	return C.ST_OK
}

//export st_verify
func st_verify(verifier C.st_verifier, token *C.st_cgo_cbytes, token_len C.size_t, result *C.st_result) (rc C.int) {
	return verifyOne("st_verify", verifier, unsafe.Pointer(token), token_len, result, false)
}

//export st_verify_text
func st_verify_text(verifier C.st_verifier, text *C.st_cgo_cchars, text_len C.size_t, result *C.st_result) (rc C.int) {
	return verifyOne("st_verify_text", verifier, unsafe.Pointer(text), text_len, result, true)
}

func verifyOne(fn string, verifier C.st_verifier, p unsafe.Pointer, n C.size_t, result *C.st_result, text bool) (rc C.int) {
	defer func() {
		if r := recover(); r != nil {
			recovered(fn, r)
			rc = C.ST_ERR_INTERNAL
			if result != nil {
				*result = C.st_result{}
			}
		}
	}()
	if result != nil {
		*result = C.st_result{}
	}
	s := lookup(verifier)
	switch {
	case s == nil:
		return C.ST_ERR_INVALID_HANDLE
	case p == nil && n != 0:
		return C.ST_ERR_INVALID_ARGUMENT
	}
	var in []byte // a copy of the token, unless it is too long to read
	if (text && n <= C.size_t(token.MaxTextSize)) || (!text && n <= C.size_t(token.MaxSize)) {
		in = bytes.Clone(view(p, n))
	} else {
		return C.ST_ERR_MALFORMED
	}
	r, code := s.verifyOne(in, text)
	if code == codeOK && result != nil {
		putResult(result, &r)
	}
	return C.int(code)
}

//export st_verify_batch
func st_verify_batch(verifier C.st_verifier, tokens *C.st_cgo_cbytes_ptr, token_lens *C.st_cgo_csize,
	count C.size_t, codes *C.int32_t, results *C.st_result) (rc C.int) {
	return verifyBatch("st_verify_batch", verifier, unsafe.Pointer(tokens), unsafe.Pointer(token_lens), count, codes, results, false)
}

//export st_verify_text_batch
func st_verify_text_batch(verifier C.st_verifier, texts *C.st_cgo_cchars_ptr, text_lens *C.st_cgo_csize,
	count C.size_t, codes *C.int32_t, results *C.st_result) (rc C.int) {
	return verifyBatch("st_verify_text_batch", verifier, unsafe.Pointer(texts), unsafe.Pointer(text_lens), count, codes, results, true)
}

func verifyBatch(fn string, verifier C.st_verifier, ptrs, lens unsafe.Pointer, count C.size_t,
	codes *C.int32_t, results *C.st_result, text bool) (rc C.int) {
	// Once count is known to be in range, every return other than ST_OK
	// and ST_ERR_BATCH sets every code to the code returned, and zeroes
	// the results.
	fill := false
	defer func() {
		if r := recover(); r != nil {
			recovered(fn, r)
			rc = C.ST_ERR_INTERNAL
		}
		if fill && rc != C.ST_OK && rc != C.ST_ERR_BATCH {
			cs := unsafe.Slice((*int32)(unsafe.Pointer(codes)), int(count))
			for i := range cs {
				cs[i] = int32(rc)
			}
			if results != nil {
				clear(unsafe.Slice(results, int(count)))
			}
		}
	}()
	if count > C.size_t(maxBatch) {
		return C.ST_ERR_INVALID_ARGUMENT
	}
	fill = codes != nil
	s := lookup(verifier)
	switch {
	case s == nil:
		return C.ST_ERR_INVALID_HANDLE
	case count == 0:
		return C.ST_OK
	case codes == nil || ptrs == nil || lens == nil:
		return C.ST_ERR_INVALID_ARGUMENT
	}
	n := int(count)
	ps := unsafe.Slice((*unsafe.Pointer)(ptrs), n)
	ls := unsafe.Slice((*C.size_t)(lens), n)
	st := s.batches.Get().(*batchState)
	st.in = grow(st.in, n)
	for i := range n {
		if ps[i] == nil && ls[i] != 0 {
			st.done()
			s.batches.Put(st)
			return C.ST_ERR_INVALID_ARGUMENT
		}
		// A view of the caller's memory, for this call only; run copies
		// what it reads. A length beyond the limits is clamped (see
		// clampLen): run refuses such a token by its length, unread.
		st.in[i] = nil
		if ls[i] != 0 {
			st.in[i] = unsafe.Slice((*byte)(ps[i]), clampLen(ls[i]))
		}
	}
	code := st.run(text, results != nil)
	cs := unsafe.Slice((*int32)(unsafe.Pointer(codes)), n)
	copy(cs, st.codes)
	if results != nil {
		rs := unsafe.Slice(results, n)
		for i := range rs {
			rs[i] = C.st_result{}
			if st.codes[i] == codeOK {
				putResult(&rs[i], &st.results[i])
			}
		}
	}
	// Back to the pool only after a call that ended normally: after a
	// panic, st is dropped.
	st.done()
	s.batches.Put(st)
	return C.int(code)
}

// clampLen returns the length of a view of an input: n itself within the
// limits, or one byte beyond the longest limit for anything longer, which
// run refuses unread (it only compares the length).
func clampLen(n C.size_t) int {
	if n > C.size_t(token.MaxTextSize)+1 {
		return token.MaxTextSize + 1
	}
	return int(n)
}
