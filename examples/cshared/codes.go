package main

/*
#include "statustoken.h"

// Compile-time checks of the header's layouts, in the build of the library.
_Static_assert(sizeof(st_options) == 40, "st_options layout");
_Static_assert(sizeof(st_result) == 56, "st_result layout");
*/
import "C"

// The codes of statustoken.h, as Go constants for the rest of the package
// (and its tests, which cannot use cgo).
const (
	codeOK                 = int32(C.ST_OK)
	codeMalformed          = int32(C.ST_ERR_MALFORMED)
	codeExpired            = int32(C.ST_ERR_EXPIRED)
	codeNotYetValid        = int32(C.ST_ERR_NOT_YET_VALID)
	codeTooFarAhead        = int32(C.ST_ERR_TOO_FAR_AHEAD)
	codeUnknownKey         = int32(C.ST_ERR_UNKNOWN_KEY)
	codeKeyMismatch        = int32(C.ST_ERR_KEY_MISMATCH)
	codeInvalidSignature   = int32(C.ST_ERR_INVALID_SIGNATURE)
	codeReplayed           = int32(C.ST_ERR_REPLAYED)
	codeStoreUnavailable   = int32(C.ST_ERR_STORE_UNAVAILABLE)
	codeStoreFull          = int32(C.ST_ERR_STORE_FULL)
	codeRandomness         = int32(C.ST_ERR_RANDOMNESS)
	codeMalformedDirectory = int32(C.ST_ERR_MALFORMED_DIRECTORY)
	codeInvalidDirectory   = int32(C.ST_ERR_INVALID_DIRECTORY)
	codeDirectorySignature = int32(C.ST_ERR_DIRECTORY_SIGNATURE)
	codeRollback           = int32(C.ST_ERR_ROLLBACK)
	codeNotLogged          = int32(C.ST_ERR_NOT_LOGGED)
	codeQuorum             = int32(C.ST_ERR_QUORUM)
	codeStale              = int32(C.ST_ERR_STALE)
	codeInconsistent       = int32(C.ST_ERR_INCONSISTENT)
	codeMalformedTrust     = int32(C.ST_ERR_MALFORMED_TRUST)
	codeNotNewest          = int32(C.ST_ERR_NOT_NEWEST)
	codeStatusRenamed      = int32(C.ST_ERR_STATUS_RENAMED)
	codeBatch              = int32(C.ST_ERR_BATCH)
	codeInvalidArgument    = int32(C.ST_ERR_INVALID_ARGUMENT)
	codeInvalidHandle      = int32(C.ST_ERR_INVALID_HANDLE)
	codeInternal           = int32(C.ST_ERR_INTERNAL)
)

// Limits of statustoken.h that the Go library has no constant for, and
// the ones it has, to check that the header agrees (limits_test.go).
const (
	maxSignatureSize   = C.ST_MAX_SIGNATURE_SIZE
	hdrMaxTokenSize    = C.ST_MAX_TOKEN_SIZE
	hdrMaxTextSize     = C.ST_MAX_TEXT_SIZE
	hdrMaxDirectory    = C.ST_MAX_DIRECTORY_SIZE
	hdrMaxProofSize    = C.ST_MAX_PROOF_SIZE
	hdrMaxTrustSize    = C.ST_MAX_TRUST_SIZE
	hdrMaxBatch        = C.ST_MAX_BATCH
	hdrStatusNameSize  = C.ST_STATUS_NAME_SIZE
	hdrFlagReplay      = C.ST_FLAG_REPLAY
	hdrReplayChecked   = C.ST_REPLAY_CHECKED
	hdrReplayStoreDown = C.ST_REPLAY_STORE_DOWN
)

// errorName returns st_error_name(code), for the tests.
func errorName(code int32) string { return C.GoString(C.st_error_name(C.int(code))) }
