/*
 * statustoken.h: the C interface of libstatustoken.so, a statustoken
 * scanner (token verifier) built from the Go library with
 * `go build -buildmode=c-shared` (see README.md in this directory).
 *
 * This hand-written header is the public interface. The build also writes
 * a cgo-generated header, libstatustoken.h, next to the library; it
 * includes this file and declares the same functions, and the C compiler
 * checks while building the library that the two agree (a conflicting
 * declaration does not compile). The Go test of this directory compares
 * them once more, function by function.
 *
 * A verifier is made from a published key directory (its bytes, its root
 * signature and its transparency proof) and the trust policy the scanner
 * pins (the issuer's root key, the log's key, the witnesses and their
 * quorum). It then checks tokens offline, one at a time or in batches,
 * in the order of token/SPEC.md, "Verification", with the results of the
 * Go package verify.
 *
 * Ownership. The library copies every input before it uses it, and keeps
 * no pointer passed to it after the call returns: the caller owns
 * and frees all of its buffers, and may reuse them at once. The library
 * allocates no memory that the caller must free; outputs go to storage the
 * caller provides (st_result, the codes array, the st_verifier variable).
 * The only library-owned memory a caller sees is the string returned by
 * st_error_name, which is static and must not be freed or written.
 *
 * Thread safety. Every function may be called from any thread, and all of
 * them may be called concurrently, on the same verifier handle as well as
 * on different ones: a verifier is immutable after st_verifier_new except
 * for its spent-token store, which is locked internally, and each batch
 * call takes a batch of its own from a pool kept per verifier, so that
 * concurrent batch calls neither share buffers nor wait for each other.
 * Output buffers (st_result, codes, results) must not be shared between
 * calls running at the same time. Freeing a verifier while other threads
 * still use it is memory-safe (calls already running complete normally,
 * later ones return ST_ERR_INVALID_HANDLE), but it is a logic error.
 *
 * The Go runtime. Loading the library starts a Go runtime in the process,
 * with threads of its own; batch calls may verify on several of them. The
 * runtime installs signal handlers for the synchronous signals (SIGSEGV,
 * SIGBUS, SIGFPE), SIGPIPE and SIGURG (goroutine preemption) only, and
 * passes a synchronous signal raised in C code to the handler installed
 * before it. A program that installs signal handlers after loading the
 * library must use SA_ONSTACK (see "Non-Go programs that call Go code" in
 * the documentation of Go's os/signal). After fork(), the child must not
 * call this library (exec only).
 *
 * Panics. A Go panic never crosses into C: each function recovers from a
 * panic on the calling thread, fills its outputs as for an error, and
 * returns ST_ERR_INTERNAL (writing one line to stderr); the verifier stays
 * usable. That includes the panic Go raises for a read of an unmapped
 * address near 0. A read of any other unmapped address (a wild pointer),
 * a panic on one of the worker goroutines that check the signatures of a
 * batch (which work on the library's own copies only), and fatal runtime
 * errors such as running out of memory end the process, as they would in
 * C.
 */
#ifndef STATUSTOKEN_H
#define STATUSTOKEN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Limits. An input longer than its limit is refused, with the code     */
/* given, before any of it is read.                                     */

/* A binary token: 111 bytes (ed25519) or 303 (rsabssa). Longer: ST_ERR_MALFORMED. */
#define ST_MAX_TOKEN_SIZE 303
/* A token's text form, "HT1:" and base45: 171 or 459 characters. Longer: ST_ERR_MALFORMED. */
#define ST_MAX_TEXT_SIZE 459
/* A directory. Longer: ST_ERR_MALFORMED_DIRECTORY. */
#define ST_MAX_DIRECTORY_SIZE 1048576
/* A directory's root signature (Ed25519). Longer: ST_ERR_DIRECTORY_SIGNATURE. */
#define ST_MAX_SIGNATURE_SIZE 64
/* A proof bundle (c2sp.org/tlog-proof@v1). Longer: ST_ERR_NOT_LOGGED. */
#define ST_MAX_PROOF_SIZE 16384
/* A trust policy's text. Longer: ST_ERR_MALFORMED_TRUST. */
#define ST_MAX_TRUST_SIZE 65536
/* The number of tokens of one batch call. More: ST_ERR_INVALID_ARGUMENT. */
#define ST_MAX_BATCH 65536
/* The size of st_result.status_name: 32 characters of [a-z0-9_-] and a NUL. */
#define ST_STATUS_NAME_SIZE 33

/* ------------------------------------------------------------------ */
/* Result codes. Every function but st_error_name returns one of these; */
/* batch calls also write one per token. The numbers are stable: a code */
/* keeps its number in every later version, and new codes get new       */
/* numbers. st_error_name returns each one's name as written here.      */

enum {
	ST_OK = 0, /* the token is valid (or: the call succeeded) */

	/* A token was refused (token/SPEC.md, "Verification"). */
	ST_ERR_MALFORMED = 1,          /* not one canonical v1 token, binary or text form: ask for a new scan */
	ST_ERR_EXPIRED = 2,            /* its expiry, plus the tolerated skew, has passed */
	ST_ERR_NOT_YET_VALID = 3,      /* its key's epoch has not started: check the scanner's clock */
	ST_ERR_TOO_FAR_AHEAD = 4,      /* its expiry is beyond the directory's max_lifetime: check the clock */
	ST_ERR_UNKNOWN_KEY = 5,        /* no key of the directory has its key ID: update the directory */
	ST_ERR_KEY_MISMATCH = 6,       /* its suite, status or expiry differ from its key's: forged */
	ST_ERR_INVALID_SIGNATURE = 7,  /* its signature does not verify: forged or damaged */
	ST_ERR_REPLAYED = 8,           /* replay protection is on and the token was accepted before */
	ST_ERR_STORE_UNAVAILABLE = 9,  /* the spent-token store could not be asked (not produced by the in-memory store of this version) */
	ST_ERR_STORE_FULL = 10,        /* the in-memory spent-token store holds its limit of nonces */
	ST_ERR_RANDOMNESS = 11,        /* batches only: the system's random source failed; no token of the batch was accepted */

	/* st_verifier_new refused the directory (token/SPEC.md, "Loading a directory"). */
	ST_ERR_MALFORMED_DIRECTORY = 20, /* the directory bytes do not parse as a canonical directory */
	ST_ERR_INVALID_DIRECTORY = 21,   /* it parses but breaks a directory rule */
	ST_ERR_DIRECTORY_SIGNATURE = 22, /* its root signature does not verify under the pinned root key */
	ST_ERR_ROLLBACK = 23,            /* its serial is below st_options.min_serial */
	ST_ERR_NOT_LOGGED = 24,          /* the proof is malformed or does not show the directory in the log */
	ST_ERR_QUORUM = 25,              /* the checkpoint lacks the log's signature or a quorum of witness cosignatures */
	ST_ERR_STALE = 26,               /* the witnesses' cosignatures are older than the policy's max-age */
	ST_ERR_INCONSISTENT = 27,        /* the checkpoint does not extend one accepted before (not produced by this version, which takes no earlier checkpoint) */
	ST_ERR_MALFORMED_TRUST = 28,     /* the trust policy's text is not valid */
	ST_ERR_NOT_NEWEST = 29,          /* the directory is logged but not the newest record of its checkpoint: fetch it again */
	ST_ERR_STATUS_RENAMED = 30,      /* the directory renames a status accepted before (not produced by this version, which takes no earlier state) */

	/* The call itself. */
	ST_ERR_BATCH = 40,            /* batch calls: some tokens were refused; see each token's code */
	ST_ERR_INVALID_ARGUMENT = 41, /* a NULL pointer where one is needed, a count or option out of range */
	ST_ERR_INVALID_HANDLE = 42,   /* the verifier handle is 0, was freed, or was never returned by st_verifier_new */
	ST_ERR_INTERNAL = 43          /* a bug: the library recovered from a Go panic */
};

/* ------------------------------------------------------------------ */
/* Types.                                                               */

/*
 * A verifier handle: an opaque nonzero integer naming a verifier held by
 * the Go runtime (it is not a pointer, and has no meaning in C). 0 is
 * never a valid handle. A handle stays valid until st_verifier_free.
 */
typedef uintptr_t st_verifier;

/* st_options.flags */
#define ST_FLAG_REPLAY 0x1u /* keep an in-memory spent-token store: a token is accepted once */

/*
 * Options of st_verifier_new. Zero-initialize it and set what you need; a
 * NULL options pointer means all zero. The library copies it.
 */
typedef struct st_options {
	/* ST_FLAG_* bits; any other bit set is ST_ERR_INVALID_ARGUMENT. */
	uint32_t flags;
	/*
	 * With ST_FLAG_REPLAY: the most nonces the store holds at a time
	 * (about 100 bytes each); 0 means 1048576. When it is full, valid
	 * tokens are refused with ST_ERR_STORE_FULL. Nonces are forgotten
	 * once their tokens have expired.
	 */
	uint32_t spent_limit;
	/*
	 * Clock override, in Unix seconds: 0 (the default) uses the system
	 * clock; any other value is used as the current time, fixed, for
	 * loading the directory (the freshness of the witnesses'
	 * cosignatures), for every verification with this verifier, and for
	 * its spent-token store. For tests, and for re-checking recorded
	 * scans; a scanner in service leaves it 0. Valid: 0 or 1..2^33-1.
	 */
	int64_t now;
	/*
	 * Clock skew tolerated at both ends of a token's validity, in
	 * seconds: 0 means 300; a negative value means none; at most 86400.
	 */
	int64_t skew;
	/*
	 * Refuse a directory whose serial is lower (ST_ERR_ROLLBACK): the
	 * highest serial this scanner has accepted before, 0 for none.
	 */
	uint64_t min_serial;
	/*
	 * Threads a batch call may use: 0 means one per CPU (Go's
	 * GOMAXPROCS); 1 keeps every batch on the calling thread. At most
	 * 1024.
	 */
	uint32_t workers;
	/* Must be 0. */
	uint32_t reserved;
} st_options;

/* st_result.suite */
#define ST_SUITE_ED25519 1
#define ST_SUITE_RSABSSA 2

/* st_result.replay */
#define ST_REPLAY_NOT_CHECKED 0 /* the verifier has no spent-token store */
#define ST_REPLAY_CHECKED 1     /* the store recorded the token as used */
#define ST_REPLAY_STORE_DOWN 2  /* reserved: the store was down and the verifier failed open */

/*
 * What a valid token says. The library zeroes a result it is given and
 * fills it only for a token that is valid (code ST_OK).
 */
typedef struct st_result {
	int64_t expiry;   /* the token's expiry, Unix seconds (the end of its key's epoch) */
	uint8_t suite;    /* ST_SUITE_ED25519 or ST_SUITE_RSABSSA */
	uint8_t status;   /* the status code, 1..255 */
	uint8_t replay;   /* ST_REPLAY_* */
	uint8_t reserved; /* 0 */
	uint8_t key_id[8]; /* the issuing key's ID */
	/* The directory's name for the status, NUL-terminated (copied into the struct). */
	char status_name[ST_STATUS_NAME_SIZE];
} st_result;

/* The layouts are part of the ABI (for FFI bindings too): 40 and 56 bytes. */
typedef char st_check_options_size[sizeof(st_options) == 40 ? 1 : -1];
typedef char st_check_result_size[sizeof(st_result) == 56 ? 1 : -1];

/* ------------------------------------------------------------------ */
/* Functions. Pointers marked "may be NULL if its length is 0" are      */
/* never read when the length is 0.                                     */

/*
 * st_verifier_new loads a published directory under a trust policy and,
 * on ST_OK, stores a new verifier handle in *verifier (on any other code
 * it stores 0 there, if verifier is not NULL).
 *
 *   directory, directory_len  the canonical directory bytes as published
 *   signature, signature_len  their detached root signature
 *   proof, proof_len          the c2sp.org/tlog-proof@v1 bundle
 *   trust, trust_len          the trust policy text the scanner pins,
 *                             which holds the root key; never take it
 *                             from where the directory comes from
 *   options                   NULL, or the options above
 *
 * Each buffer may be NULL if its length is 0. The directory is checked in
 * the order of token/SPEC.md, "Loading a directory", at the options' clock:
 * it returns ST_ERR_MALFORMED_TRUST, ST_ERR_DIRECTORY_SIGNATURE,
 * ST_ERR_MALFORMED_DIRECTORY, ST_ERR_INVALID_DIRECTORY, ST_ERR_ROLLBACK,
 * ST_ERR_NOT_LOGGED, ST_ERR_QUORUM or ST_ERR_STALE for a refused directory,
 * ST_ERR_INVALID_ARGUMENT for a NULL verifier, a NULL buffer with a
 * nonzero length or an option out of range, and ST_ERR_INTERNAL.
 * The inputs are copied; nothing is retained. Free the handle with
 * st_verifier_free. Thread-safe.
 */
int st_verifier_new(const uint8_t *directory, size_t directory_len,
                    const uint8_t *signature, size_t signature_len,
                    const uint8_t *proof, size_t proof_len,
                    const uint8_t *trust, size_t trust_len,
                    const st_options *options, st_verifier *verifier);

/*
 * st_verifier_free releases a verifier and its spent-token store. It
 * returns ST_OK (also for handle 0, which it ignores) or
 * ST_ERR_INVALID_HANDLE for a handle already freed or never made. The
 * handle must not be used afterwards. Thread-safe.
 */
int st_verifier_free(st_verifier verifier);

/*
 * st_verify checks one binary token of token_len bytes (token may be NULL
 * if token_len is 0) and returns ST_OK or the first check that failed:
 * ST_ERR_MALFORMED, ST_ERR_EXPIRED, ST_ERR_TOO_FAR_AHEAD,
 * ST_ERR_KEY_MISMATCH, ST_ERR_UNKNOWN_KEY, ST_ERR_NOT_YET_VALID,
 * ST_ERR_INVALID_SIGNATURE, and with replay protection ST_ERR_REPLAYED or
 * ST_ERR_STORE_FULL; or ST_ERR_INVALID_HANDLE, ST_ERR_INVALID_ARGUMENT
 * (token NULL with a nonzero length), ST_ERR_INTERNAL. With replay
 * protection, a valid token is recorded as used. result may be NULL; if
 * not, it is zeroed, then filled when the code is ST_OK. The token is
 * copied; nothing is retained. Thread-safe.
 */
int st_verify(st_verifier verifier, const uint8_t *token, size_t token_len, st_result *result);

/*
 * st_verify_text is st_verify for a token's text form, as a QR code holds
 * it: text_len bytes starting with "HT1:", no NUL terminator needed, and
 * none allowed inside (the text is taken as it is: no trimming; a space is
 * a base45 character). Thread-safe.
 */
int st_verify_text(st_verifier verifier, const char *text, size_t text_len, st_result *result);

/*
 * st_verify_batch checks count binary tokens at once, several times
 * faster per ed25519 token than st_verify and with the same result for
 * each (token/SPEC.md, "Batch verification"): tokens[i] points to
 * token_lens[i] bytes (it may be NULL if that length is 0), codes[i]
 * receives the token's code, and results[i], unless results is NULL, its
 * result (zeroed unless the code is ST_OK). With replay protection valid
 * tokens are recorded in order, and a token repeating an earlier one of
 * the same batch is ST_ERR_REPLAYED.
 *
 * It returns ST_OK if every token is valid (also for count 0, when the
 * arrays may be NULL), ST_ERR_BATCH if some are not, ST_ERR_RANDOMNESS
 * (every code is then ST_ERR_RANDOMNESS and no token is recorded),
 * ST_ERR_INVALID_HANDLE, ST_ERR_INVALID_ARGUMENT (count above
 * ST_MAX_BATCH; tokens, token_lens or codes NULL; a token NULL with a
 * nonzero length) or ST_ERR_INTERNAL. For those last three, no token is
 * checked or recorded, and every codes[i] is set to the code returned,
 * unless codes is NULL or count above ST_MAX_BATCH, when nothing is
 * written. The tokens are copied; nothing is retained. Thread-safe, also
 * concurrently on one verifier: each call uses a batch of its own.
 */
int st_verify_batch(st_verifier verifier, const uint8_t *const *tokens, const size_t *token_lens,
                    size_t count, int32_t *codes, st_result *results);

/*
 * st_verify_text_batch is st_verify_batch for text forms (see
 * st_verify_text): texts[i] points to text_lens[i] bytes. Thread-safe.
 */
int st_verify_text_batch(st_verifier verifier, const char *const *texts, const size_t *text_lens,
                         size_t count, int32_t *codes, st_result *results);

/*
 * st_error_name returns the name of a code as a static NUL-terminated
 * string, such as "ST_ERR_EXPIRED" for ST_ERR_EXPIRED, and
 * "ST_UNKNOWN_CODE" for a number that is no code. Never NULL; do not free
 * it. Thread-safe; it does not enter the Go runtime.
 */
const char *st_error_name(int code);

#ifdef __cplusplus
}
#endif

#endif /* STATUSTOKEN_H */
