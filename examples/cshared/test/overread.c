/*
 * The sanitizer's negative control: a caller that lies about a length, so
 * that the library reads beyond the caller's buffer. Built with
 * -fsanitize=address against the library built with `go build -asan`, it
 * must be stopped with a heap-buffer-overflow report in the library's Go
 * code (runtime copy). The Go test checks that it is: otherwise the ASan
 * run of test.c would prove nothing about the library's own reads.
 *
 *   st_overread fixture-dir
 */
#include "common.h"

int main(int argc, char **argv) {
	if (argc != 2) die("usage", "st_overread fixture-dir");
	st_verifier v;
	int rc = new_verifier(argv[1], NULL, &v);
	if (rc != ST_OK) die("st_verifier_new", st_error_name(rc));
	uint8_t *b = xmalloc(10);
	memset(b, 1, 10);
	/* 111 bytes claimed, 10 allocated. */
	rc = st_verify(v, b, 111, NULL);
	printf("not stopped: st_verify returned %s\n", st_error_name(rc));
	free(b);
	st_verifier_free(v);
	return 0;
}
