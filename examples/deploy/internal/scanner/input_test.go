package scanner

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestByteOrderMark: a batch file saved with a UTF-8 byte-order mark has
// its first token verified like the others, and a UTF-16 file is refused
// as such, not as lines of malformed tokens.
func TestByteOrderMark(t *testing.T) {
	e := newEnv(t)
	toks := e.tokens(3)
	s := e.scanner(e.config())
	sum, out := batch(t, s, "\uFEFF"+toks[0], toks[1])
	if sum.Valid != 2 || !strings.HasPrefix(out, "line 1: VALID: green") {
		t.Errorf("UTF-8 with a byte-order mark: %v\n%s", sum, out)
	}
	// One token with a byte-order mark, as an editor saves it.
	cfg := e.config()
	cfg.Single = true
	if valid, out := scan(t, e.scanner(cfg), "\uFEFF"+toks[2]+"\n"); !valid {
		t.Errorf("one token with a byte-order mark: %s", out)
	}
	for _, bom := range []string{"\xff\xfe", "\xfe\xff"} {
		var utf16 bytes.Buffer
		utf16.WriteString(bom)
		for _, c := range toks[0] + "\n" {
			utf16.WriteByte(byte(c))
			utf16.WriteByte(0)
		}
		var out bytes.Buffer
		_, err := s.Batch(t.Context(), &utf16, "tokens.txt", &out)
		if !errors.Is(err, ErrUTF16) || !strings.Contains(err.Error(), "reading tokens.txt: UTF-16 text") || out.Len() != 0 {
			t.Errorf("UTF-16 batch: %v, output %q", err, out.String())
		}
		utf16.Reset()
		utf16.WriteString(bom + "H\x00")
		if _, err := s.Gate(t.Context(), &utf16, &out); !errors.Is(err, ErrUTF16) {
			t.Errorf("UTF-16 gate: %v", err)
		}
	}
}

// TestFileNameForToken: a file name given where a token is expected is
// refused with a pointer to -batch.
func TestFileNameForToken(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.Single = true
	for _, name := range []string{"tokens.txt", "queue/today", `C:\scans\queue`} {
		valid, out := scan(t, e.scanner(cfg), name)
		if valid || !strings.Contains(out, "a file name? To verify a file of tokens, use -batch FILE") {
			t.Errorf("%s: %q", name, out)
		}
	}
}
