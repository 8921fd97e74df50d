/*
 * Times st_verify_batch over the fixture's 1024 ed25519 tokens (bench.txt),
 * for the throughput figures of README.md:
 *
 *   st_bench fixture-dir [rounds [milliseconds-per-round]]
 *
 * Each round runs whole batches of all the tokens, with results NULL (as
 * the Go benchmark passes no results), until the time is up, and prints
 * "ns_per_token <value>"; the last line is the median of the rounds. The
 * verifier has default options: no spent-token store, the system clock,
 * one worker per CPU.
 */
#define _POSIX_C_SOURCE 200809L

#include <time.h>

#include "common.h"

static double now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv) {
	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: %s fixture-dir [rounds [milliseconds-per-round]]\n", argv[0]);
		return 2;
	}
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	double ms = argc > 3 ? atof(argv[3]) : 500;
	if (rounds < 1 || rounds > 1000 || ms <= 0) die("arguments", "rounds 1..1000, milliseconds > 0");
	size_t n;
	buf *toks = read_bench(argv[1], &n);
	st_verifier v;
	int rc = new_verifier(argv[1], NULL, &v);
	if (rc != ST_OK) die("st_verifier_new", st_error_name(rc));
	const uint8_t **ptrs = xmalloc(n * sizeof *ptrs);
	size_t *lens = xmalloc(n * sizeof *lens);
	int32_t *codes = xmalloc(n * sizeof *codes);
	for (size_t i = 0; i < n; i++) {
		ptrs[i] = toks[i].data;
		lens[i] = toks[i].len;
	}
	for (int i = 0; i < 3; i++) { /* warm up: pools, caches */
		rc = st_verify_batch(v, ptrs, lens, n, codes, NULL);
		if (rc != ST_OK) die("st_verify_batch", st_error_name(rc));
	}
	double *per = xmalloc((size_t)rounds * sizeof *per);
	for (int r = 0; r < rounds; r++) {
		long batches = 0;
		double start = now_ns(), t;
		do {
			rc = st_verify_batch(v, ptrs, lens, n, codes, NULL);
			if (rc != ST_OK) die("st_verify_batch", st_error_name(rc));
			batches++;
			t = now_ns();
		} while (t - start < ms * 1e6);
		per[r] = (t - start) / ((double)batches * (double)n);
		printf("ns_per_token %.1f\n", per[r]);
	}
	qsort(per, (size_t)rounds, sizeof *per, cmp);
	printf("median_ns_per_token %.1f\n", per[rounds / 2]);
	st_verifier_free(v);
	for (size_t i = 0; i < n; i++) free(toks[i].data);
	free(toks);
	free(ptrs);
	free(lens);
	free(codes);
	free(per);
	return 0;
}
