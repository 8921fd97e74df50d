/*
 * The C test of libstatustoken.so, against the fixture that cmd/fixture
 * writes:
 *
 *   go build -buildmode=c-shared -o libstatustoken.so .
 *   go run ./cmd/fixture -out /tmp/stfixture
 *   cc -std=c11 -Wall -Wextra -o st_test test/test.c -L. -lstatustoken -Wl,-rpath,"$PWD" -lpthread
 *   ./st_test /tmp/stfixture [--no-fault]
 *
 * It checks every error name; st_verifier_new on good and bad inputs
 * (each directory loading code the fixture can produce, argument errors,
 * lengths beyond the limits, which must not be read); every token result
 * the fixture covers, in binary and text form, singly and in batches;
 * the clock parameter; replay refusal, also within a batch and across
 * threads; invalid handles; and malformed inputs of every length from 0
 * to 1000 bytes, random and derived from valid tokens (prefixes,
 * extensions, bit flips), singly and in batches. Exit status 0 when every
 * check passes.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static int checks, failures;

#define CHECK(cond, ...)                                                     \
	do {                                                                     \
		checks++;                                                            \
		if (!(cond)) {                                                       \
			failures++;                                                      \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);             \
			fprintf(stderr, __VA_ARGS__);                                    \
			fputc('\n', stderr);                                             \
		}                                                                    \
	} while (0)

#define CHECK_CODE(got, want, what)                                                           \
	do {                                                                                      \
		int got_ = (got), want_ = (want);                                                     \
		CHECK(got_ == want_, "%s: got %s (%d), want %s (%d)", (what), st_error_name(got_),    \
		      got_, st_error_name(want_), want_);                                             \
	} while (0)

static const char *fixture;

/* The fixture's tokens. */
static buf ed_valid, ed_valid_text, ed_red, rsa_valid, rsa_valid_text, ed_key_id, ed_tampered,
    rsa_tampered, ed_wrong_status, ed_unknown_key, ed_expired, ed_next, ed_far;
static int64_t fx_now, fx_start, fx_expiry;
static buf *bench;
static size_t bench_n;

static int is_zero(const void *p, size_t n) {
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i]) return 0;
	return 1;
}

/* ---------------------------------------------------------------- */

static void test_error_names(void) {
	static const struct {
		int code;
		const char *name;
	} names[] = {
#define N(c) {c, #c}
	    N(ST_OK),
	    N(ST_ERR_MALFORMED),
	    N(ST_ERR_EXPIRED),
	    N(ST_ERR_NOT_YET_VALID),
	    N(ST_ERR_TOO_FAR_AHEAD),
	    N(ST_ERR_UNKNOWN_KEY),
	    N(ST_ERR_KEY_MISMATCH),
	    N(ST_ERR_INVALID_SIGNATURE),
	    N(ST_ERR_REPLAYED),
	    N(ST_ERR_STORE_UNAVAILABLE),
	    N(ST_ERR_STORE_FULL),
	    N(ST_ERR_RANDOMNESS),
	    N(ST_ERR_MALFORMED_DIRECTORY),
	    N(ST_ERR_INVALID_DIRECTORY),
	    N(ST_ERR_DIRECTORY_SIGNATURE),
	    N(ST_ERR_ROLLBACK),
	    N(ST_ERR_NOT_LOGGED),
	    N(ST_ERR_QUORUM),
	    N(ST_ERR_STALE),
	    N(ST_ERR_INCONSISTENT),
	    N(ST_ERR_MALFORMED_TRUST),
	    N(ST_ERR_NOT_NEWEST),
	    N(ST_ERR_STATUS_RENAMED),
	    N(ST_ERR_BATCH),
	    N(ST_ERR_INVALID_ARGUMENT),
	    N(ST_ERR_INVALID_HANDLE),
	    N(ST_ERR_INTERNAL),
#undef N
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		const char *got = st_error_name(names[i].code);
		CHECK(got != NULL && strcmp(got, names[i].name) == 0, "st_error_name(%d) = %s, want %s",
		      names[i].code, got ? got : "NULL", names[i].name);
		/* The same pointer every time: a static string. */
		CHECK(st_error_name(names[i].code) == got, "st_error_name(%d) not static", names[i].code);
	}
	/* Every number from -1 to 100 that is no code, and extremes. */
	for (int c = -1; c <= 100; c++) {
		int known = 0;
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) known |= names[i].code == c;
		if (!known) CHECK(strcmp(st_error_name(c), "ST_UNKNOWN_CODE") == 0, "st_error_name(%d) = %s", c, st_error_name(c));
	}
	CHECK(strcmp(st_error_name(INT32_MIN), "ST_UNKNOWN_CODE") == 0, "INT32_MIN");
	CHECK(strcmp(st_error_name(INT32_MAX), "ST_UNKNOWN_CODE") == 0, "INT32_MAX");
}

/* ---------------------------------------------------------------- */

/* Calls st_verifier_new on the fixture's files, with one of them replaced
 * when its pointer is not NULL, and frees a verifier it gets. */
static int load(const buf *dir, const buf *sig, const buf *proof, const buf *trust, const st_options *o) {
	buf d = dir ? *dir : read_file(fixture, "directory"), s = sig ? *sig : read_file(fixture, "signature"),
	    p = proof ? *proof : read_file(fixture, "proof"), t = trust ? *trust : read_file(fixture, "trust");
	st_verifier v = 12345;
	int rc = st_verifier_new(d.data, d.len, s.data, s.len, p.data, p.len, t.data, t.len, o, &v);
	if (rc == ST_OK) {
		CHECK(v != 0, "ST_OK with handle 0");
		CHECK_CODE(st_verifier_free(v), ST_OK, "free");
	} else {
		CHECK(v == 0, "handle %lu stored with code %d", (unsigned long)v, rc);
	}
	/* The replaced buffers are the caller's. */
	if (!dir) free(d.data);
	if (!sig) free(s.data);
	if (!proof) free(p.data);
	if (!trust) free(t.data);
	return rc;
}

static buf copy_of(const buf *b) {
	buf c = {xmalloc(b->len), b->len};
	memcpy(c.data, b->data, b->len);
	return c;
}

static void test_new(void) {
	buf d = read_file(fixture, "directory"), s = read_file(fixture, "signature"), p = read_file(fixture, "proof"),
	    t = read_file(fixture, "trust");
	st_verifier v = 0;
	st_options o;

	CHECK_CODE(load(NULL, NULL, NULL, NULL, NULL), ST_OK, "the fixture's directory");
	memset(&o, 0, sizeof o);
	CHECK_CODE(load(NULL, NULL, NULL, NULL, &o), ST_OK, "zero options");

	/* Arguments. */
	CHECK_CODE(st_verifier_new(d.data, d.len, s.data, s.len, p.data, p.len, t.data, t.len, NULL, NULL),
	           ST_ERR_INVALID_ARGUMENT, "NULL verifier");
	v = 99;
	CHECK_CODE(st_verifier_new(NULL, d.len, s.data, s.len, p.data, p.len, t.data, t.len, NULL, &v),
	           ST_ERR_INVALID_ARGUMENT, "NULL directory");
	CHECK(v == 0, "handle not cleared");
	CHECK_CODE(st_verifier_new(d.data, d.len, NULL, s.len, p.data, p.len, t.data, t.len, NULL, &v),
	           ST_ERR_INVALID_ARGUMENT, "NULL signature");
	CHECK_CODE(st_verifier_new(d.data, d.len, s.data, s.len, NULL, p.len, t.data, t.len, NULL, &v),
	           ST_ERR_INVALID_ARGUMENT, "NULL proof");
	CHECK_CODE(st_verifier_new(d.data, d.len, s.data, s.len, p.data, p.len, NULL, t.len, NULL, &v),
	           ST_ERR_INVALID_ARGUMENT, "NULL trust");
	CHECK_CODE(st_verifier_new(NULL, 0, NULL, 0, NULL, 0, NULL, 0, NULL, &v), ST_ERR_MALFORMED_TRUST, "all empty");
	CHECK_CODE(st_verifier_new(NULL, 0, NULL, 0, NULL, 0, t.data, t.len, NULL, &v), ST_ERR_DIRECTORY_SIGNATURE,
	           "empty directory and signature");

	struct {
		const char *what;
		st_options o;
	} bad[] = {
	    {"unknown flag", {.flags = 2}},
	    {"high flag", {.flags = 0x80000000u}},
	    {"reserved", {.reserved = 1}},
	    {"negative clock", {.now = -1}},
	    {"clock beyond 2^33", {.now = INT64_C(1) << 33}},
	    {"skew above a day", {.skew = 86401}},
	    {"workers", {.workers = 1025}},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_CODE(load(NULL, NULL, NULL, NULL, &bad[i].o), ST_ERR_INVALID_ARGUMENT, bad[i].what);
	struct {
		const char *what;
		st_options o;
	} good[] = {
	    {"replay", {.flags = ST_FLAG_REPLAY, .spent_limit = 10}},
	    {"no skew", {.skew = -1}},
	    {"a day of skew", {.skew = 86400}},
	    {"one worker", {.workers = 1}},
	    {"1024 workers", {.workers = 1024}},
	    {"clock at generation", {.now = fx_now}},
	    {"min serial 1", {.min_serial = 1}},
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		CHECK_CODE(load(NULL, NULL, NULL, NULL, &good[i].o), ST_OK, good[i].what);

	/* Lengths beyond the limits are refused unread: the buffers are one
	 * byte (ASan or valgrind report any read beyond). */
	uint8_t *one = xmalloc(1);
	one[0] = 0;
	CHECK_CODE(st_verifier_new(d.data, d.len, s.data, s.len, p.data, p.len, one, ST_MAX_TRUST_SIZE + 1, NULL, &v),
	           ST_ERR_MALFORMED_TRUST, "trust too long");
	CHECK_CODE(st_verifier_new(one, ST_MAX_DIRECTORY_SIZE + 1, s.data, s.len, p.data, p.len, t.data, t.len, NULL, &v),
	           ST_ERR_MALFORMED_DIRECTORY, "directory too long");
	CHECK_CODE(st_verifier_new(d.data, d.len, one, ST_MAX_SIGNATURE_SIZE + 1, p.data, p.len, t.data, t.len, NULL, &v),
	           ST_ERR_DIRECTORY_SIGNATURE, "signature too long");
	CHECK_CODE(st_verifier_new(d.data, d.len, s.data, s.len, one, ST_MAX_PROOF_SIZE + 1, t.data, t.len, NULL, &v),
	           ST_ERR_NOT_LOGGED, "proof too long");
	CHECK_CODE(st_verifier_new(one, SIZE_MAX, one, SIZE_MAX, one, SIZE_MAX, one, SIZE_MAX, NULL, &v),
	           ST_ERR_MALFORMED_TRUST, "SIZE_MAX lengths");
	free(one);

	/* Directories refused. */
	buf x = copy_of(&s);
	x.data[10] ^= 1;
	CHECK_CODE(load(NULL, &x, NULL, NULL, NULL), ST_ERR_DIRECTORY_SIGNATURE, "signature bit flipped");
	x.len = 63;
	CHECK_CODE(load(NULL, &x, NULL, NULL, NULL), ST_ERR_DIRECTORY_SIGNATURE, "signature truncated");
	free(x.data);
	x = copy_of(&d);
	x.data[x.len / 2] ^= 0x20;
	CHECK_CODE(load(&x, NULL, NULL, NULL, NULL), ST_ERR_DIRECTORY_SIGNATURE, "directory changed after signing");
	free(x.data);
	buf md = read_file(fixture, "directory_malformed"), ms = read_file(fixture, "signature_malformed");
	CHECK_CODE(load(&md, &ms, NULL, NULL, NULL), ST_ERR_MALFORMED_DIRECTORY, "signed bytes that are no directory");
	free(md.data);
	free(ms.data);
	buf id = read_file(fixture, "directory_invalid"), is = read_file(fixture, "signature_invalid");
	CHECK_CODE(load(&id, &is, NULL, NULL, NULL), ST_ERR_INVALID_DIRECTORY, "signed directory breaking a rule");
	free(id.data);
	free(is.data);
	memset(&o, 0, sizeof o);
	o.min_serial = 2;
	CHECK_CODE(load(NULL, NULL, NULL, NULL, &o), ST_ERR_ROLLBACK, "serial 1 below min_serial 2");

	/* Proofs refused. */
	buf empty = {NULL, 0};
	CHECK_CODE(load(NULL, NULL, &empty, NULL, NULL), ST_ERR_NOT_LOGGED, "no proof");
	x = copy_of(&p);
	x.len -= 10;
	CHECK_CODE(load(NULL, NULL, &x, NULL, NULL), ST_ERR_NOT_LOGGED, "proof truncated");
	free(x.data);
	x = copy_of(&p);
	/* The root hash of the checkpoint: the line after the tree size. */
	char *root = strstr((char *)x.data, "\n1\n");
	CHECK(root != NULL, "proof layout");
	if (root) {
		root[4] = root[4] == 'A' ? 'B' : 'A';
		CHECK_CODE(load(NULL, NULL, &x, NULL, NULL), ST_ERR_QUORUM, "checkpoint root hash changed");
	}
	free(x.data);
	buf lo = read_file(fixture, "proof_log_only");
	CHECK_CODE(load(NULL, NULL, &lo, NULL, NULL), ST_ERR_QUORUM, "checkpoint with no cosignature");
	free(lo.data);
	memset(&o, 0, sizeof o);
	o.now = fx_now + 49 * 3600;
	CHECK_CODE(load(NULL, NULL, NULL, NULL, &o), ST_ERR_STALE, "loaded 49 hours after cosigning");
	o.now = fx_now + 47 * 3600;
	CHECK_CODE(load(NULL, NULL, NULL, NULL, &o), ST_OK, "loaded 47 hours after cosigning");

	/* Trust policies refused. */
	buf junk = {(uint8_t *)"root nonsense\n", 14};
	CHECK_CODE(load(NULL, NULL, NULL, &junk, NULL), ST_ERR_MALFORMED_TRUST, "nonsense policy");
	CHECK_CODE(load(NULL, NULL, NULL, &empty, NULL), ST_ERR_MALFORMED_TRUST, "empty policy");
	x = copy_of(&t);
	x.len -= 16; /* drops "max-age 48h\n" and more */
	CHECK_CODE(load(NULL, NULL, NULL, &x, NULL), ST_ERR_MALFORMED_TRUST, "truncated policy");
	free(x.data);
	/* Another root key: the policy's first key byte changed (base64
	 * 'U'..), which still decodes to 32 bytes. */
	x = copy_of(&t);
	x.data[5] = x.data[5] == 'A' ? 'B' : 'A';
	int rc = load(NULL, NULL, NULL, &x, NULL);
	CHECK(rc == ST_ERR_DIRECTORY_SIGNATURE || rc == ST_ERR_MALFORMED_TRUST, "other root: %s", st_error_name(rc));
	free(x.data);

	free(d.data);
	free(s.data);
	free(p.data);
	free(t.data);
}

/* ---------------------------------------------------------------- */

static int verify_bin(st_verifier v, const buf *b, st_result *r) { return st_verify(v, b->data, b->len, r); }
static int verify_txt(st_verifier v, const buf *b, st_result *r) {
	return st_verify_text(v, (const char *)b->data, b->len, r);
}

static void check_result(const st_result *r, int suite, int status, const char *name, const char *what) {
	CHECK(r->suite == suite, "%s: suite %d, want %d", what, r->suite, suite);
	CHECK(r->status == status, "%s: status %d, want %d", what, r->status, status);
	CHECK(strcmp(r->status_name, name) == 0, "%s: status name %.33s, want %s", what, r->status_name, name);
	CHECK(r->expiry == fx_expiry, "%s: expiry %lld, want %lld", what, (long long)r->expiry, (long long)fx_expiry);
	CHECK(r->reserved == 0, "%s: reserved %d", what, r->reserved);
	CHECK(r->status_name[ST_STATUS_NAME_SIZE - 1] == 0, "%s: name not terminated", what);
}

static void test_single(st_verifier v) {
	st_result r;
	memset(&r, 0xaa, sizeof r);
	CHECK_CODE(verify_bin(v, &ed_valid, &r), ST_OK, "ed25519 token");
	check_result(&r, ST_SUITE_ED25519, 1, "green", "ed25519 token");
	CHECK(memcmp(r.key_id, ed_key_id.data, 8) == 0, "key id");
	CHECK(r.replay == ST_REPLAY_NOT_CHECKED, "replay %d", r.replay);
	CHECK(is_zero(r.status_name + 5, ST_STATUS_NAME_SIZE - 5), "status name padding not zeroed");
	memset(&r, 0xaa, sizeof r);
	CHECK_CODE(verify_txt(v, &ed_valid_text, &r), ST_OK, "ed25519 text");
	check_result(&r, ST_SUITE_ED25519, 1, "green", "ed25519 text");
	CHECK_CODE(verify_bin(v, &ed_red, &r), ST_OK, "red token");
	check_result(&r, ST_SUITE_ED25519, 2, "red", "red token");
	CHECK_CODE(verify_bin(v, &rsa_valid, &r), ST_OK, "rsabssa token");
	check_result(&r, ST_SUITE_RSABSSA, 1, "green", "rsabssa token");
	CHECK_CODE(verify_txt(v, &rsa_valid_text, &r), ST_OK, "rsabssa text");
	check_result(&r, ST_SUITE_RSABSSA, 1, "green", "rsabssa text");
	CHECK_CODE(verify_bin(v, &ed_valid, NULL), ST_OK, "NULL result");
	CHECK_CODE(verify_txt(v, &ed_valid_text, NULL), ST_OK, "NULL result, text");

	struct {
		const char *what;
		const buf *b;
		int want;
	} bad[] = {
	    {"ed25519 signature bit flipped", &ed_tampered, ST_ERR_INVALID_SIGNATURE},
	    {"rsabssa signature bit flipped", &rsa_tampered, ST_ERR_INVALID_SIGNATURE},
	    {"status changed", &ed_wrong_status, ST_ERR_KEY_MISMATCH},
	    {"another issuer's key", &ed_unknown_key, ST_ERR_UNKNOWN_KEY},
	    {"epoch two before", &ed_expired, ST_ERR_EXPIRED},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&r, 0xaa, sizeof r);
		CHECK_CODE(verify_bin(v, bad[i].b, &r), bad[i].want, bad[i].what);
		CHECK(is_zero(&r, sizeof r), "%s: result not zeroed", bad[i].what);
	}
	buf cut = {ed_valid.data, ed_valid.len - 1};
	CHECK_CODE(verify_bin(v, &cut, &r), ST_ERR_MALFORMED, "truncated");
	CHECK_CODE(verify_txt(v, &ed_valid, &r), ST_ERR_MALFORMED, "binary as text");
	CHECK_CODE(verify_bin(v, &ed_valid_text, &r), ST_ERR_MALFORMED, "text as binary");
	CHECK_CODE(st_verify(v, NULL, 0, &r), ST_ERR_MALFORMED, "empty");
	CHECK_CODE(st_verify_text(v, NULL, 0, &r), ST_ERR_MALFORMED, "empty text");
	CHECK_CODE(st_verify(v, NULL, 1, &r), ST_ERR_INVALID_ARGUMENT, "NULL token");
	CHECK_CODE(st_verify_text(v, NULL, 1, &r), ST_ERR_INVALID_ARGUMENT, "NULL text");
	/* Longer than the limits: refused unread (a one-byte buffer). */
	uint8_t *one = xmalloc(1);
	CHECK_CODE(st_verify(v, one, ST_MAX_TOKEN_SIZE + 1, &r), ST_ERR_MALFORMED, "token too long");
	CHECK_CODE(st_verify(v, one, SIZE_MAX, &r), ST_ERR_MALFORMED, "SIZE_MAX token");
	CHECK_CODE(st_verify_text(v, (const char *)one, ST_MAX_TEXT_SIZE + 1, &r), ST_ERR_MALFORMED, "text too long");
	CHECK_CODE(st_verify_text(v, (const char *)one, SIZE_MAX, &r), ST_ERR_MALFORMED, "SIZE_MAX text");
	free(one);
	/* A text form followed by a NUL, or with a space trimmed. */
	buf t = {xmalloc(ed_valid_text.len + 1), ed_valid_text.len + 1};
	memcpy(t.data, ed_valid_text.data, ed_valid_text.len);
	t.data[ed_valid_text.len] = 0;
	CHECK_CODE(verify_txt(v, &t, &r), ST_ERR_MALFORMED, "text with a NUL");
	free(t.data);

	/* Handles. */
	CHECK_CODE(verify_bin(0, &ed_valid, &r), ST_ERR_INVALID_HANDLE, "handle 0");
	CHECK_CODE(verify_bin((st_verifier)123456789, &ed_valid, &r), ST_ERR_INVALID_HANDLE, "made-up handle");
	CHECK_CODE(verify_bin(v + 1000, &ed_valid, &r), ST_ERR_INVALID_HANDLE, "handle + 1000");
	CHECK_CODE(verify_txt((st_verifier)-1, &ed_valid_text, &r), ST_ERR_INVALID_HANDLE, "handle -1");
	CHECK_CODE(st_verifier_free((st_verifier)123456789), ST_ERR_INVALID_HANDLE, "free made-up handle");
	CHECK_CODE(st_verifier_free(0), ST_OK, "free 0");
	st_verifier w;
	CHECK_CODE(new_verifier(fixture, NULL, &w), ST_OK, "second verifier");
	CHECK(w != v, "two verifiers, one handle");
	CHECK_CODE(verify_bin(w, &ed_valid, &r), ST_OK, "second verifier");
	CHECK_CODE(st_verifier_free(w), ST_OK, "free");
	CHECK_CODE(verify_bin(w, &ed_valid, &r), ST_ERR_INVALID_HANDLE, "freed handle");
	CHECK_CODE(st_verifier_free(w), ST_ERR_INVALID_HANDLE, "double free");
	int32_t code = 77;
	const uint8_t *p = ed_valid.data;
	size_t n = ed_valid.len;
	CHECK_CODE(st_verify_batch(w, &p, &n, 1, &code, NULL), ST_ERR_INVALID_HANDLE, "batch on freed handle");
	CHECK_CODE(code, ST_ERR_INVALID_HANDLE, "batch code on freed handle");
}

/* ---------------------------------------------------------------- */

static void test_clock(void) {
	st_options o;
	st_verifier v;
	st_result r;
	memset(&o, 0, sizeof o);
	o.now = fx_start; /* the first second of the fixture's epoch */
	CHECK_CODE(new_verifier(fixture, &o, &v), ST_OK, "clock at the epoch's start");
	CHECK_CODE(verify_bin(v, &ed_valid, &r), ST_OK, "current epoch");
	CHECK_CODE(verify_bin(v, &ed_next, &r), ST_ERR_NOT_YET_VALID, "next epoch");
	CHECK_CODE(verify_bin(v, &ed_far, &r), ST_ERR_TOO_FAR_AHEAD, "two epochs ahead");
	CHECK_CODE(verify_bin(v, &ed_expired, &r), ST_ERR_EXPIRED, "two epochs before");
	st_verifier_free(v);

	/* The expiry, with the default skew of 300 s and with none. */
	struct {
		int64_t now, skew;
		int want;
	} cases[] = {
	    {fx_expiry + 299, 0, ST_OK},  {fx_expiry + 300, 0, ST_ERR_EXPIRED},
	    {fx_expiry - 1, -1, ST_OK},   {fx_expiry, -1, ST_ERR_EXPIRED},
	    {fx_expiry + 3599, 3600, ST_OK}, {fx_expiry + 3600, 3600, ST_ERR_EXPIRED},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		o.now = cases[i].now;
		o.skew = cases[i].skew;
		char what[96];
		snprintf(what, sizeof what, "expiry%+lld s, skew %lld", (long long)(cases[i].now - fx_expiry),
		         (long long)cases[i].skew);
		CHECK_CODE(new_verifier(fixture, &o, &v), ST_OK, what);
		CHECK_CODE(verify_bin(v, &ed_valid, &r), cases[i].want, what);
		CHECK_CODE(verify_txt(v, &ed_valid_text, &r), cases[i].want, what);
		const uint8_t *p = ed_valid.data;
		size_t n = ed_valid.len;
		int32_t code = -1;
		st_verify_batch(v, &p, &n, 1, &code, NULL);
		CHECK_CODE(code, cases[i].want, what);
		st_verifier_free(v);
	}
}

/* ---------------------------------------------------------------- */

static void test_replay(void) {
	st_options o;
	st_verifier v;
	st_result r;
	memset(&o, 0, sizeof o);
	o.flags = ST_FLAG_REPLAY;
	CHECK_CODE(new_verifier(fixture, &o, &v), ST_OK, "replay verifier");
	CHECK_CODE(verify_bin(v, &ed_valid, &r), ST_OK, "first presentation");
	CHECK(r.replay == ST_REPLAY_CHECKED, "replay %d, want checked", r.replay);
	memset(&r, 0xaa, sizeof r);
	CHECK_CODE(verify_bin(v, &ed_valid, &r), ST_ERR_REPLAYED, "second presentation");
	CHECK(is_zero(&r, sizeof r), "replayed result not zeroed");
	CHECK_CODE(verify_txt(v, &ed_valid_text, &r), ST_ERR_REPLAYED, "second presentation, as text");
	CHECK_CODE(verify_txt(v, &rsa_valid_text, &r), ST_OK, "rsabssa, as text");
	CHECK_CODE(verify_bin(v, &rsa_valid, &r), ST_ERR_REPLAYED, "rsabssa again, binary");
	/* A tampered copy is refused for its signature and spends nothing. */
	CHECK_CODE(verify_bin(v, &ed_tampered, &r), ST_ERR_INVALID_SIGNATURE, "tampered");

	/* Within a batch: the second of two equal tokens. */
	const uint8_t *p[4] = {ed_red.data, ed_red.data, ed_valid.data, bench[0].data};
	size_t n[4] = {ed_red.len, ed_red.len, ed_valid.len, bench[0].len};
	int32_t codes[4];
	st_result rs[4];
	CHECK_CODE(st_verify_batch(v, p, n, 4, codes, rs), ST_ERR_BATCH, "batch with a repeat");
	CHECK_CODE(codes[0], ST_OK, "first of two");
	CHECK(rs[0].replay == ST_REPLAY_CHECKED, "batch replay %d", rs[0].replay);
	CHECK_CODE(codes[1], ST_ERR_REPLAYED, "second of two");
	CHECK_CODE(codes[2], ST_ERR_REPLAYED, "spent before the batch");
	CHECK_CODE(codes[3], ST_OK, "fresh token");
	CHECK(is_zero(&rs[1], sizeof rs[1]) && is_zero(&rs[2], sizeof rs[2]), "refused results not zeroed");
	CHECK_CODE(st_verify_batch(v, p, n, 4, codes, NULL), ST_ERR_BATCH, "batch again");
	for (int i = 0; i < 4; i++) CHECK_CODE(codes[i], ST_ERR_REPLAYED, "batch again");
	st_verifier_free(v);

	/* A store of one nonce. */
	o.spent_limit = 1;
	CHECK_CODE(new_verifier(fixture, &o, &v), ST_OK, "store of one");
	CHECK_CODE(verify_bin(v, &ed_valid, &r), ST_OK, "first token");
	CHECK_CODE(verify_bin(v, &ed_red, &r), ST_ERR_STORE_FULL, "second token, store full");
	CHECK_CODE(verify_bin(v, &ed_valid, &r), ST_ERR_REPLAYED, "first token again");
	st_verifier_free(v);

	/* Without the flag, a token is accepted every time. */
	CHECK_CODE(new_verifier(fixture, NULL, &v), ST_OK, "no replay protection");
	for (int i = 0; i < 3; i++) CHECK_CODE(verify_bin(v, &ed_valid, &r), ST_OK, "presented again");
	st_verifier_free(v);
}

/* ---------------------------------------------------------------- */

static void test_batch(st_verifier v) {
	uint8_t *one = xmalloc(1);
	buf cut = {ed_valid.data, 50};
	buf empty = {NULL, 0};
	buf big = {one, SIZE_MAX};
	struct {
		const buf *b;
		int want;
	} mix[] = {
	    {&ed_valid, ST_OK},
	    {&ed_tampered, ST_ERR_INVALID_SIGNATURE},
	    {&rsa_valid, ST_OK},
	    {&ed_unknown_key, ST_ERR_UNKNOWN_KEY},
	    {&cut, ST_ERR_MALFORMED},
	    {&ed_expired, ST_ERR_EXPIRED},
	    {&ed_wrong_status, ST_ERR_KEY_MISMATCH},
	    {&empty, ST_ERR_MALFORMED},
	    {&big, ST_ERR_MALFORMED},
	    {&ed_red, ST_OK},
	    {&rsa_tampered, ST_ERR_INVALID_SIGNATURE},
	    {&ed_valid_text, ST_ERR_MALFORMED},
	    {&ed_valid, ST_OK}, /* no replay protection: accepted twice */
	};
	enum { M = sizeof mix / sizeof mix[0] };
	const uint8_t *p[M];
	size_t n[M];
	int32_t codes[M];
	st_result rs[M];
	for (int i = 0; i < M; i++) {
		p[i] = mix[i].b->data;
		n[i] = mix[i].b->len;
	}
	memset(rs, 0xaa, sizeof rs);
	CHECK_CODE(st_verify_batch(v, p, n, M, codes, rs), ST_ERR_BATCH, "mixed batch");
	for (int i = 0; i < M; i++) {
		char what[64];
		snprintf(what, sizeof what, "mixed batch, token %d", i);
		CHECK_CODE(codes[i], mix[i].want, what);
		if (mix[i].want == ST_OK) {
			CHECK(rs[i].status != 0 && rs[i].expiry == fx_expiry, "%s: result", what);
		} else {
			CHECK(is_zero(&rs[i], sizeof rs[i]), "%s: result not zeroed", what);
		}
		/* The same as single verification (not for the unread one). */
		if (mix[i].b != &big) CHECK_CODE(verify_bin(v, mix[i].b, NULL), codes[i], what);
	}
	check_result(&rs[0], ST_SUITE_ED25519, 1, "green", "batch result 0");
	check_result(&rs[2], ST_SUITE_RSABSSA, 1, "green", "batch result 2");
	check_result(&rs[9], ST_SUITE_ED25519, 2, "red", "batch result 9");
	CHECK_CODE(st_verify_batch(v, p, n, M, codes, NULL), ST_ERR_BATCH, "mixed batch, NULL results");

	/* Text forms. */
	const char *tp[6] = {(const char *)ed_valid_text.data, (const char *)rsa_valid_text.data, "HT1:", NULL,
	                     (const char *)ed_valid.data, (const char *)one};
	size_t tn[6] = {ed_valid_text.len, rsa_valid_text.len, 4, 0, ed_valid.len, ST_MAX_TEXT_SIZE + 1};
	int twant[6] = {ST_OK, ST_OK, ST_ERR_MALFORMED, ST_ERR_MALFORMED, ST_ERR_MALFORMED, ST_ERR_MALFORMED};
	memset(rs, 0xaa, sizeof rs);
	CHECK_CODE(st_verify_text_batch(v, tp, tn, 6, codes, rs), ST_ERR_BATCH, "text batch");
	for (int i = 0; i < 6; i++) CHECK_CODE(codes[i], twant[i], "text batch");
	check_result(&rs[0], ST_SUITE_ED25519, 1, "green", "text batch result 0");
	check_result(&rs[1], ST_SUITE_RSABSSA, 1, "green", "text batch result 1");
	CHECK(is_zero(&rs[2], 4 * sizeof rs[0]), "text batch: refused results not zeroed");
	CHECK_CODE(st_verify_text_batch(v, tp, tn, 2, codes, rs), ST_OK, "valid text batch");

	/* All valid: the bench tokens. */
	const uint8_t **bp = xmalloc(bench_n * sizeof *bp);
	size_t *bn = xmalloc(bench_n * sizeof *bn);
	int32_t *bc = xmalloc(bench_n * sizeof *bc);
	st_result *br = xmalloc(bench_n * sizeof *br);
	for (size_t i = 0; i < bench_n; i++) {
		bp[i] = bench[i].data;
		bn[i] = bench[i].len;
	}
	CHECK_CODE(st_verify_batch(v, bp, bn, bench_n, bc, br), ST_OK, "1024 valid tokens");
	int bad = 0;
	for (size_t i = 0; i < bench_n; i++) bad += bc[i] != ST_OK || br[i].status != 1;
	CHECK(bad == 0, "%d of the valid batch refused", bad);
	/* One forgery among them. */
	bench[500].data[100] ^= 0x04;
	CHECK_CODE(st_verify_batch(v, bp, bn, bench_n, bc, NULL), ST_ERR_BATCH, "one forgery among 1024");
	bad = 0;
	for (size_t i = 0; i < bench_n; i++) bad += bc[i] != (i == 500 ? ST_ERR_INVALID_SIGNATURE : ST_OK);
	CHECK(bad == 0, "one forgery among 1024: %d codes wrong", bad);
	bench[500].data[100] ^= 0x04;

	/* Arguments. */
	CHECK_CODE(st_verify_batch(v, NULL, NULL, 0, NULL, NULL), ST_OK, "count 0");
	CHECK_CODE(st_verify_text_batch(v, NULL, NULL, 0, NULL, NULL), ST_OK, "count 0, text");
	CHECK_CODE(st_verify_batch(0, NULL, NULL, 0, NULL, NULL), ST_ERR_INVALID_HANDLE, "count 0, handle 0");
	{
		/* The largest batch: ST_MAX_BATCH empty tokens. */
		const uint8_t **ep = calloc(ST_MAX_BATCH, sizeof *ep);
		size_t *en = calloc(ST_MAX_BATCH, sizeof *en);
		int32_t *ec = xmalloc(ST_MAX_BATCH * sizeof *ec);
		CHECK_CODE(st_verify_batch(v, ep, en, ST_MAX_BATCH, ec, NULL), ST_ERR_BATCH, "ST_MAX_BATCH tokens");
		int wrong = 0;
		for (size_t i = 0; i < ST_MAX_BATCH; i++) wrong += ec[i] != ST_ERR_MALFORMED;
		CHECK(wrong == 0, "ST_MAX_BATCH tokens: %d codes wrong", wrong);
		free(ep);
		free(en);
		free(ec);
	}
	for (int i = 0; i < M; i++) codes[i] = 77;
	CHECK_CODE(st_verify_batch(v, p, n, ST_MAX_BATCH + 1, codes, NULL), ST_ERR_INVALID_ARGUMENT, "count too high");
	CHECK_CODE(st_verify_batch(v, p, n, SIZE_MAX, codes, NULL), ST_ERR_INVALID_ARGUMENT, "count SIZE_MAX");
	CHECK(codes[0] == 77, "codes written for a count out of range");
	CHECK_CODE(st_verify_batch(v, p, n, M, NULL, NULL), ST_ERR_INVALID_ARGUMENT, "NULL codes");
	memset(rs, 0xaa, sizeof rs);
	CHECK_CODE(st_verify_batch(v, NULL, n, M, codes, rs), ST_ERR_INVALID_ARGUMENT, "NULL tokens");
	for (int i = 0; i < M; i++) CHECK_CODE(codes[i], ST_ERR_INVALID_ARGUMENT, "NULL tokens, code");
	CHECK(is_zero(rs, sizeof rs), "NULL tokens: results not zeroed");
	CHECK_CODE(st_verify_batch(v, p, NULL, M, codes, NULL), ST_ERR_INVALID_ARGUMENT, "NULL lengths");
	CHECK_CODE(st_verify_text_batch(v, NULL, tn, 6, codes, NULL), ST_ERR_INVALID_ARGUMENT, "NULL texts");
	const uint8_t *saved = p[3];
	p[3] = NULL;
	CHECK_CODE(st_verify_batch(v, p, n, M, codes, NULL), ST_ERR_INVALID_ARGUMENT, "a NULL token");
	for (int i = 0; i < M; i++) CHECK_CODE(codes[i], ST_ERR_INVALID_ARGUMENT, "a NULL token, code");
	p[3] = saved;
	CHECK_CODE(st_verify_batch(0, p, n, M, codes, NULL), ST_ERR_INVALID_HANDLE, "batch on handle 0");
	CHECK_CODE(codes[M - 1], ST_ERR_INVALID_HANDLE, "batch code on handle 0");

	free(bp);
	free(bn);
	free(bc);
	free(br);
	free(one);
}

/* ---------------------------------------------------------------- */

static uint64_t rng_state;
static uint64_t rng(void) {
	/* xorshift64*, seeded per length: the inputs are reproducible. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

static const char b45[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

enum { MAXLEN = 1000, VARIANTS = 8 };

/* Variant k of length len: binary (text == 0) or text. Returns 1 if the
 * variant is a genuine token (equal to a fixture token). */
static int make_input(uint8_t *out, size_t len, int k, int text) {
	const buf *ed = text ? &ed_valid_text : &ed_valid;
	const buf *rsa = text ? &rsa_valid_text : &rsa_valid;
	const buf *base = (k % 2) ? rsa : ed;
	switch (k) {
	case 0: /* random bytes */
		for (size_t i = 0; i < len; i++) out[i] = (uint8_t)rng();
		return 0;
	case 1: /* text: "HT1:" and random base45; binary: version 1, suite 1 or 2, random */
		for (size_t i = 0; i < len; i++) out[i] = text ? (uint8_t)b45[rng() % 45] : (uint8_t)rng();
		if (text) {
			memcpy(out, "HT1:", len < 4 ? len : 4);
		} else {
			if (len > 0) out[0] = 1;
			if (len > 1) out[1] = 1 + (uint8_t)(rng() % 2);
			if (len > 2) out[2] = 1;
		}
		return 0;
	case 2: /* prefix or extension of a valid ed25519 token */
	case 3: /* ... of a valid rsabssa token */
		for (size_t i = 0; i < len; i++)
			out[i] = i < base->len ? base->data[i] : text ? (uint8_t)b45[rng() % 45] : (uint8_t)rng();
		return len == base->len;
	case 4: /* the same, one bit flipped */
	case 5:
		make_input(out, len, k - 2, text);
		if (len > 0) out[rng() % len] ^= (uint8_t)(1u << (rng() % 8));
		return 0;
	case 6: /* all zero */
		memset(out, 0, len);
		return 0;
	case 7: /* all 0xff; text: all 'A' after the prefix */
		memset(out, text ? 'A' : 0xff, len);
		if (text) memcpy(out, "HT1:", len < 4 ? len : 4);
		return 0;
	}
	return 0;
}

static void test_malformed(st_verifier v) {
	uint8_t *in[VARIANTS];
	const uint8_t *ptrs[VARIANTS];
	size_t lens[VARIANTS];
	int32_t codes[VARIANTS];
	int single[VARIANTS], genuine[VARIANTS];
	st_result rs[VARIANTS];
	for (int k = 0; k < VARIANTS; k++) in[k] = xmalloc(MAXLEN);
	long inputs = 0, malformed = 0;
	for (int text = 0; text <= 1; text++) {
		for (size_t len = 0; len <= MAXLEN; len++) {
			rng_state = UINT64_C(0x9e3779b97f4a7c15) ^ (len * 2 + (size_t)text);
			/* The only lengths that can parse: 111 and 303 bytes, or 171 and
			 * 459 characters. Everything else is malformed. */
			int parsable = text ? (len == 171 || len == 459) : (len == 111 || len == 303);
			for (int k = 0; k < VARIANTS; k++) {
				/* Each input in a buffer of exactly its length, so that ASan
				 * or valgrind see a read beyond it. */
				free(in[k]);
				in[k] = xmalloc(len);
				genuine[k] = make_input(in[k], len, k, text);
				ptrs[k] = in[k];
				lens[k] = len;
				st_result r;
				memset(&r, 0xaa, sizeof r);
				single[k] = text ? st_verify_text(v, (const char *)in[k], len, &r) : st_verify(v, in[k], len, &r);
				inputs++;
				char what[96];
				snprintf(what, sizeof what, "%s variant %d, length %zu", text ? "text" : "binary", k, len);
				if (genuine[k]) {
					CHECK_CODE(single[k], ST_OK, what);
				} else if (!parsable) {
					CHECK_CODE(single[k], ST_ERR_MALFORMED, what);
					malformed += single[k] == ST_ERR_MALFORMED;
				} else {
					CHECK(single[k] >= ST_ERR_MALFORMED && single[k] <= ST_ERR_INVALID_SIGNATURE,
					      "%s: got %s", what, st_error_name(single[k]));
				}
				if (single[k] != ST_OK) CHECK(is_zero(&r, sizeof r), "%s: result not zeroed", what);
			}
			int rc = text ? st_verify_text_batch(v, (const char *const *)ptrs, lens, VARIANTS, codes, rs)
			              : st_verify_batch(v, ptrs, lens, VARIANTS, codes, rs);
			CHECK_CODE(rc, ST_ERR_BATCH, "malformed batch");
			for (int k = 0; k < VARIANTS; k++)
				CHECK(codes[k] == single[k], "%s batch, length %zu, variant %d: batch %s, single %s",
				      text ? "text" : "binary", len, k, st_error_name(codes[k]), st_error_name(single[k]));
			/* The binary inputs as text, and the text inputs as binary. */
			rc = text ? st_verify_batch(v, ptrs, lens, VARIANTS, codes, NULL)
			          : st_verify_text_batch(v, (const char *const *)ptrs, lens, VARIANTS, codes, NULL);
			for (int k = 0; k < VARIANTS; k++) {
				int other = text ? st_verify(v, in[k], len, NULL) : st_verify_text(v, (const char *)in[k], len, NULL);
				CHECK(codes[k] == other && other != ST_OK, "crossed form, length %zu, variant %d: batch %s, single %s",
				      len, k, st_error_name(codes[k]), st_error_name(other));
			}
		}
	}
	for (int k = 0; k < VARIANTS; k++) free(in[k]);
	printf("malformed inputs: %ld of lengths 0..%d (binary and text), %ld refused as ST_ERR_MALFORMED\n", inputs,
	       MAXLEN, malformed);
}

/* ---------------------------------------------------------------- */

/* Threads verifying the bench tokens on one replay-protected verifier,
 * singly or in batches of 64: each token must be accepted exactly once. */
enum { THREADS = 4 };
struct thread_arg {
	st_verifier v;
	int id;
	int32_t *codes; /* per token */
};

static void *worker(void *p) {
	struct thread_arg *a = p;
	if (a->id % 2 == 0) {
		for (size_t i = 0; i < bench_n; i++) {
			size_t j = (i + (size_t)a->id * 97) % bench_n;
			a->codes[j] = st_verify(a->v, bench[j].data, bench[j].len, NULL);
		}
	} else {
		enum { B = 64 };
		const uint8_t *ptrs[B];
		size_t lens[B];
		for (size_t i = 0; i < bench_n; i += B) {
			size_t m = bench_n - i < B ? bench_n - i : B;
			size_t first = (i + (size_t)a->id * 256) % bench_n;
			for (size_t k = 0; k < m; k++) {
				size_t j = (first + k) % bench_n;
				ptrs[k] = bench[j].data;
				lens[k] = bench[j].len;
			}
			int32_t codes[B];
			st_verify_batch(a->v, ptrs, lens, m, codes, NULL);
			for (size_t k = 0; k < m; k++) a->codes[(first + k) % bench_n] = codes[k];
		}
	}
	return NULL;
}

static void test_threads(void) {
	st_options o;
	memset(&o, 0, sizeof o);
	o.flags = ST_FLAG_REPLAY;
	st_verifier v;
	CHECK_CODE(new_verifier(fixture, &o, &v), ST_OK, "replay verifier for threads");
	pthread_t th[THREADS];
	struct thread_arg args[THREADS];
	for (int t = 0; t < THREADS; t++) {
		args[t] = (struct thread_arg){v, t, xmalloc(bench_n * sizeof(int32_t))};
		for (size_t i = 0; i < bench_n; i++) args[t].codes[i] = -1;
		CHECK(pthread_create(&th[t], NULL, worker, &args[t]) == 0, "pthread_create");
	}
	for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
	int wrong = 0;
	for (size_t i = 0; i < bench_n; i++) {
		int ok = 0, replayed = 0;
		for (int t = 0; t < THREADS; t++) {
			ok += args[t].codes[i] == ST_OK;
			replayed += args[t].codes[i] == ST_ERR_REPLAYED;
		}
		wrong += ok != 1 || replayed != THREADS - 1;
	}
	CHECK(wrong == 0, "threads: %d tokens not accepted exactly once", wrong);
	for (int t = 0; t < THREADS; t++) free(args[t].codes);
	/* Freed while nobody uses it; then refused. */
	CHECK_CODE(st_verifier_free(v), ST_OK, "free");
}

/* ---------------------------------------------------------------- */

/* A Go panic must not cross into C. Without a test hook, the one way to
 * make the library panic from outside is a pointer it cannot read near
 * address 0, as a C bug might pass: Go turns the fault into a panic,
 * which every function recovers from (ST_ERR_INTERNAL). The verifier
 * keeps working afterwards. (A wild pointer elsewhere still crashes the
 * process, as it would in any C library.) */
static void test_panic(st_verifier v) {
	const uint8_t *bad = (const uint8_t *)(uintptr_t)8;
	st_result r;
	memset(&r, 0xaa, sizeof r);
	fprintf(stderr, "test_panic: two 'recovered from a Go panic' lines are expected next\n");
	CHECK_CODE(st_verify(v, bad, 100, &r), ST_ERR_INTERNAL, "unreadable token");
	CHECK(is_zero(&r, sizeof r), "result after a panic not zeroed");
	const uint8_t *ptrs[2] = {ed_valid.data, bad};
	size_t lens[2] = {ed_valid.len, 100};
	int32_t codes[2] = {7, 7};
	CHECK_CODE(st_verify_batch(v, ptrs, lens, 2, codes, NULL), ST_ERR_INTERNAL, "unreadable token in a batch");
	CHECK_CODE(codes[0], ST_ERR_INTERNAL, "batch code after a panic");
	CHECK_CODE(codes[1], ST_ERR_INTERNAL, "batch code after a panic");
	CHECK_CODE(verify_bin(v, &ed_valid, &r), ST_OK, "verifier after a panic");
	ptrs[1] = ed_red.data;
	lens[1] = ed_red.len;
	CHECK_CODE(st_verify_batch(v, ptrs, lens, 2, codes, NULL), ST_OK, "batch after a panic");
}

/* ---------------------------------------------------------------- */

int main(int argc, char **argv) {
	/* --no-fault skips test_panic, whose deliberate read of address 8
	 * valgrind reports (before Go turns the fault into a panic). */
	int fault = 1;
	if (argc == 3 && strcmp(argv[2], "--no-fault") == 0) {
		fault = 0;
	} else if (argc != 2) {
		fprintf(stderr, "usage: %s fixture-dir [--no-fault]\n", argv[0]);
		return 2;
	}
	fixture = argv[1];
	manifest = read_file(fixture, "fixture.txt");
	fx_now = manifest_int("now");
	fx_start = manifest_int("start");
	fx_expiry = manifest_int("expiry");
	ed_valid = manifest_hex("ed_valid");
	ed_valid_text = manifest_hex("ed_valid_text");
	ed_red = manifest_hex("ed_red");
	rsa_valid = manifest_hex("rsa_valid");
	rsa_valid_text = manifest_hex("rsa_valid_text");
	ed_key_id = manifest_hex("ed_key_id");
	ed_tampered = manifest_hex("ed_tampered");
	rsa_tampered = manifest_hex("rsa_tampered");
	ed_wrong_status = manifest_hex("ed_wrong_status");
	ed_unknown_key = manifest_hex("ed_unknown_key");
	ed_expired = manifest_hex("ed_expired");
	ed_next = manifest_hex("ed_next");
	ed_far = manifest_hex("ed_far");
	bench = read_bench(fixture, &bench_n);
	if (bench_n != 1024 || ed_valid.len != 111 || rsa_valid.len != 303 || ed_valid_text.len != 171 ||
	    rsa_valid_text.len != 459)
		die("fixture", "unexpected sizes");

	test_error_names();
	test_new();
	st_verifier v;
	CHECK_CODE(new_verifier(fixture, NULL, &v), ST_OK, "verifier (system clock)");
	test_single(v);
	test_batch(v);
	test_malformed(v);
	if (fault) test_panic(v);
	CHECK_CODE(st_verifier_free(v), ST_OK, "free");
	test_clock();
	test_replay();
	test_threads();

	buf *all[] = {&manifest, &ed_valid, &ed_valid_text, &ed_red, &rsa_valid, &rsa_valid_text, &ed_key_id,
	              &ed_tampered, &rsa_tampered, &ed_wrong_status, &ed_unknown_key, &ed_expired, &ed_next, &ed_far};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]->data);
	for (size_t i = 0; i < bench_n; i++) free(bench[i].data);
	free(bench);

	printf("%s: %d checks, %d failed\n", failures ? "FAIL" : "ok", checks, failures);
	return failures ? 1 : 0;
}
