//go:build cgo

package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/statustoken/statustoken/examples/cshared/internal/fixture"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

// headerEnum returns the codes of statustoken.h's enum, name to number.
func headerEnum(t *testing.T) map[string]int32 {
	t.Helper()
	src, err := os.ReadFile("statustoken.h")
	if err != nil {
		t.Fatal(err)
	}
	body := regexp.MustCompile(`(?s)enum \{(.*?)\};`).FindSubmatch(src)
	if body == nil {
		t.Fatal("statustoken.h: no enum")
	}
	out := map[string]int32{}
	for _, m := range regexp.MustCompile(`\b(ST_[A-Z_]+)\s*=\s*(\d+)`).FindAllSubmatch(body[1], -1) {
		n, _ := strconv.Atoi(string(m[2]))
		out[string(m[1])] = int32(n)
	}
	return out
}

// TestCodes checks the header's codes against st_error_name (names.c) and
// the Go table of sentinels.
func TestCodes(t *testing.T) {
	enum := headerEnum(t)
	if len(enum) != 27 {
		t.Errorf("statustoken.h has %d codes, want 27", len(enum))
	}
	seen := map[int32]string{}
	for name, code := range enum {
		if other, dup := seen[code]; dup {
			t.Errorf("%s and %s share code %d", name, other, code)
		}
		seen[code] = name
		if got := errorName(code); got != name {
			t.Errorf("st_error_name(%d) = %q, want %q", code, got, name)
		}
	}
	for _, code := range []int32{-1, 12, 19, 31, 39, 44, 1 << 30} {
		if got := errorName(code); got != "ST_UNKNOWN_CODE" {
			t.Errorf("st_error_name(%d) = %q", code, got)
		}
	}
	codes := map[int32]bool{}
	for _, s := range sentinels {
		if _, ok := seen[s.code]; !ok || codes[s.code] {
			t.Errorf("%v: code %d not in the header, or shared", s.err, s.code)
		}
		codes[s.code] = true
		// A sentinel wrapped, as the library wraps them, maps to its code.
		if got := codeOf(fmt.Errorf("context: %w: detail", s.err)); got != s.code {
			t.Errorf("codeOf(wrapped %v) = %d, want %d", s.err, got, s.code)
		}
	}
	if got := codeOf(nil); got != codeOK {
		t.Errorf("codeOf(nil) = %d", got)
	}
	if got := codeOf(errors.New("something else")); got != codeInternal {
		t.Errorf("codeOf(unknown) = %d, want ST_ERR_INTERNAL", got)
	}
}

// TestLimits checks the header's limits against the Go library's.
func TestLimits(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"ST_MAX_TOKEN_SIZE", hdrMaxTokenSize, token.MaxSize},
		{"ST_MAX_TEXT_SIZE", hdrMaxTextSize, token.MaxTextSize},
		{"ST_MAX_DIRECTORY_SIZE", hdrMaxDirectory, token.MaxDirectorySize},
		{"ST_MAX_SIGNATURE_SIZE", maxSignatureSize, ed25519.SignatureSize},
		{"ST_MAX_PROOF_SIZE", hdrMaxProofSize, token.MaxProofSize},
		{"ST_MAX_TRUST_SIZE", hdrMaxTrustSize, token.MaxTrustSize},
		{"ST_MAX_BATCH", hdrMaxBatch, maxBatch},
		{"ST_STATUS_NAME_SIZE", hdrStatusNameSize, token.MaxStatusNameSize + 1},
		{"ST_FLAG_REPLAY", hdrFlagReplay, flagReplay},
		{"ST_REPLAY_CHECKED", hdrReplayChecked, int(verify.ReplayChecked)},
		{"ST_REPLAY_STORE_DOWN", hdrReplayStoreDown, int(verify.ReplayStoreDown)},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}

// TestExportsFromGo calls the exported functions with arguments that
// need no C memory.
func TestExportsFromGo(t *testing.T) {
	check := func(what string, got, want int32) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %s, want %s", what, errorName(got), errorName(want))
		}
	}
	check("st_verifier_free(0)", int32(st_verifier_free(0)), codeOK)
	check("st_verifier_free(12345)", int32(st_verifier_free(12345)), codeInvalidHandle)
	check("st_verify(0, ...)", int32(st_verify(0, nil, 0, nil)), codeInvalidHandle)
	check("st_verify_text(0, ...)", int32(st_verify_text(0, nil, 0, nil)), codeInvalidHandle)
	check("st_verify_batch(handle 0, count 0)", int32(st_verify_batch(0, nil, nil, 0, nil, nil)), codeInvalidHandle)
	check("st_verify_batch(count too high)", int32(st_verify_batch(0, nil, nil, maxBatch+1, nil, nil)), codeInvalidArgument)
	check("st_verify_text_batch(handle 0, NULL codes)", int32(st_verify_text_batch(0, nil, nil, 3, nil, nil)), codeInvalidHandle)
	check("st_verifier_new(NULL verifier)", int32(st_verifier_new(nil, 0, nil, 0, nil, 0, nil, 0, nil, nil)), codeInvalidArgument)
}

// TestScanner checks the Go side of the interface against the Go library
// on the fixture, including inputs beyond the limits.
func TestScanner(t *testing.T) {
	dir := t.TempDir()
	if err := fixture.Write(dir); err != nil {
		t.Fatal(err)
	}
	p, _, err := fixture.Published(dir)
	if err != nil {
		t.Fatal(err)
	}
	trust, err := os.ReadFile(dir + "/" + fixture.TrustFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, code := newScanner(p, trust, scanOptions{flags: 2}); code != codeInvalidArgument {
		t.Errorf("unknown flag: %s", errorName(code))
	}
	s, code := newScanner(p, trust, scanOptions{})
	if code != codeOK {
		t.Fatalf("newScanner: %s", errorName(code))
	}
	m, err := fixture.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	hex := func(name string) []byte {
		var b []byte
		if _, err := fmt.Sscanf(m[name], "%x", &b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return b
	}
	ins := [][]byte{hex("ed_valid"), hex("ed_tampered"), hex("rsa_valid"), make([]byte, 304), nil, make([]byte, 1<<20)}
	want := []int32{codeOK, codeInvalidSignature, codeOK, codeMalformed, codeMalformed, codeMalformed}
	st := s.batches.Get().(*batchState)
	st.in = ins
	if code := st.run(false, true); code != codeBatch {
		t.Errorf("batch: %s", errorName(code))
	}
	for i, in := range ins {
		r, code := s.verifyOne(in, false)
		if code != want[i] || st.codes[i] != want[i] {
			t.Errorf("input %d: single %s, batch %s, want %s", i, errorName(code), errorName(st.codes[i]), errorName(want[i]))
		}
		if code == codeOK && (r != st.results[i] || r.StatusName != "green") {
			t.Errorf("input %d: single %+v, batch %+v", i, r, st.results[i])
		}
	}
	st.done()
	st.in = [][]byte{hex("ed_valid_text"), make([]byte, 460), []byte("HT1:")}
	if code := st.run(true, false); code != codeBatch || st.codes[0] != codeOK || st.codes[1] != codeMalformed || st.codes[2] != codeMalformed {
		t.Errorf("text batch: %s, codes %v", errorName(code), st.codes)
	}
	st.done()
}
