/*
 * st_error_name, in C: the names are static strings in the library's
 * read-only data, and the function never enters the Go runtime.
 */
#include "statustoken.h"

const char *st_error_name(int code) {
	switch (code) {
	case ST_OK: return "ST_OK";
	case ST_ERR_MALFORMED: return "ST_ERR_MALFORMED";
	case ST_ERR_EXPIRED: return "ST_ERR_EXPIRED";
	case ST_ERR_NOT_YET_VALID: return "ST_ERR_NOT_YET_VALID";
	case ST_ERR_TOO_FAR_AHEAD: return "ST_ERR_TOO_FAR_AHEAD";
	case ST_ERR_UNKNOWN_KEY: return "ST_ERR_UNKNOWN_KEY";
	case ST_ERR_KEY_MISMATCH: return "ST_ERR_KEY_MISMATCH";
	case ST_ERR_INVALID_SIGNATURE: return "ST_ERR_INVALID_SIGNATURE";
	case ST_ERR_REPLAYED: return "ST_ERR_REPLAYED";
	case ST_ERR_STORE_UNAVAILABLE: return "ST_ERR_STORE_UNAVAILABLE";
	case ST_ERR_STORE_FULL: return "ST_ERR_STORE_FULL";
	case ST_ERR_RANDOMNESS: return "ST_ERR_RANDOMNESS";
	case ST_ERR_MALFORMED_DIRECTORY: return "ST_ERR_MALFORMED_DIRECTORY";
	case ST_ERR_INVALID_DIRECTORY: return "ST_ERR_INVALID_DIRECTORY";
	case ST_ERR_DIRECTORY_SIGNATURE: return "ST_ERR_DIRECTORY_SIGNATURE";
	case ST_ERR_ROLLBACK: return "ST_ERR_ROLLBACK";
	case ST_ERR_NOT_LOGGED: return "ST_ERR_NOT_LOGGED";
	case ST_ERR_QUORUM: return "ST_ERR_QUORUM";
	case ST_ERR_STALE: return "ST_ERR_STALE";
	case ST_ERR_INCONSISTENT: return "ST_ERR_INCONSISTENT";
	case ST_ERR_MALFORMED_TRUST: return "ST_ERR_MALFORMED_TRUST";
	case ST_ERR_NOT_NEWEST: return "ST_ERR_NOT_NEWEST";
	case ST_ERR_STATUS_RENAMED: return "ST_ERR_STATUS_RENAMED";
	case ST_ERR_BATCH: return "ST_ERR_BATCH";
	case ST_ERR_INVALID_ARGUMENT: return "ST_ERR_INVALID_ARGUMENT";
	case ST_ERR_INVALID_HANDLE: return "ST_ERR_INVALID_HANDLE";
	case ST_ERR_INTERNAL: return "ST_ERR_INTERNAL";
	}
	return "ST_UNKNOWN_CODE";
}
