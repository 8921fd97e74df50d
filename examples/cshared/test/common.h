/*
 * Helpers shared by test.c and bench.c: reading the fixture that
 * cmd/fixture writes (see internal/fixture), and checks.
 */
#ifndef STATUSTOKEN_TEST_COMMON_H
#define STATUSTOKEN_TEST_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../statustoken.h"

typedef struct {
	uint8_t *data;
	size_t len;
} buf;

static inline void die(const char *what, const char *detail) {
	fprintf(stderr, "fatal: %s: %s\n", what, detail);
	exit(2);
}

static inline void *xmalloc(size_t n) {
	void *p = malloc(n ? n : 1);
	if (p == NULL) die("malloc", strerror(errno));
	return p;
}

static inline buf read_file(const char *dir, const char *name) {
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (f == NULL) die(path, strerror(errno));
	buf b = {NULL, 0};
	size_t cap = 0;
	for (;;) {
		if (b.len == cap) {
			cap = cap ? 2 * cap : 4096;
			uint8_t *p = realloc(b.data, cap);
			if (p == NULL) die("realloc", strerror(errno));
			b.data = p;
		}
		size_t n = fread(b.data + b.len, 1, cap - b.len, f);
		if (n == 0) break;
		b.len += n;
	}
	if (ferror(f)) die(path, "read error");
	fclose(f);
	return b;
}

static inline int hexval(int c) {
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	return -1;
}

/* Decodes n hex digits at s into a new buffer. */
static inline buf from_hex(const char *s, size_t n) {
	if (n % 2) die("hex", "odd length");
	buf b = {xmalloc(n / 2), n / 2};
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0) die("hex", "bad digit");
		b.data[i] = (uint8_t)(hi << 4 | lo);
	}
	return b;
}

/* The manifest, fixture.txt: "name value" lines. */
static buf manifest;

/* Returns the value of name in the manifest, and its length in *n. */
static inline const char *manifest_value(const char *name, size_t *n) {
	size_t want = strlen(name);
	const char *p = (const char *)manifest.data, *end = p + manifest.len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL) eol = end;
		if ((size_t)(eol - p) > want && memcmp(p, name, want) == 0 && p[want] == ' ') {
			*n = (size_t)(eol - p) - want - 1;
			return p + want + 1;
		}
		p = eol + 1;
	}
	die("manifest has no entry", name);
	return NULL;
}

static inline buf manifest_hex(const char *name) {
	size_t n;
	const char *v = manifest_value(name, &n);
	return from_hex(v, n);
}

static inline int64_t manifest_int(const char *name) {
	size_t n;
	const char *v = manifest_value(name, &n);
	char tmp[32];
	if (n == 0 || n >= sizeof tmp) die("manifest integer", name);
	memcpy(tmp, v, n);
	tmp[n] = 0;
	return strtoll(tmp, NULL, 10);
}

/* The tokens of bench.txt, one hex line each. */
static inline buf *read_bench(const char *dir, size_t *count) {
	buf f = read_file(dir, "bench.txt");
	size_t lines = 0;
	for (size_t i = 0; i < f.len; i++) lines += f.data[i] == '\n';
	buf *toks = xmalloc(lines * sizeof *toks);
	size_t k = 0;
	const char *p = (const char *)f.data, *end = p + f.len;
	while (p < end && k < lines) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL) eol = end;
		toks[k++] = from_hex(p, (size_t)(eol - p));
		p = eol + 1;
	}
	free(f.data);
	*count = k;
	return toks;
}

/* Loads the fixture's published directory into a verifier with options o. */
static inline int new_verifier(const char *dir, const st_options *o, st_verifier *v) {
	buf d = read_file(dir, "directory"), s = read_file(dir, "signature"), p = read_file(dir, "proof"),
	    t = read_file(dir, "trust");
	int rc = st_verifier_new(d.data, d.len, s.data, s.len, p.data, p.len, t.data, t.len, o, v);
	free(d.data);
	free(s.data);
	free(p.data);
	free(t.data);
	return rc;
}

#endif
