package verify

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/statustoken/statustoken/internal/misusetest"
	"github.com/statustoken/statustoken/token"
)

// TestInputLimits feeds each entry point an input ten times its documented
// maximum (token.MaxSize per token, token.MaxTextSize per text form,
// token.MaxDirectorySize per directory): each is refused with the
// package's error without being decoded.
func TestInputLimits(t *testing.T) {
	f := newFixture(t, nil)
	valid := f.rsaTokens(t, 1, 1)[0]
	if len(valid) != token.MaxSize {
		t.Fatalf("rsabssa token of %d bytes, MaxSize %d", len(valid), token.MaxSize)
	}
	bigTok := append(bytes.Clone(valid), make([]byte, 9*token.MaxSize)...)
	tok, _ := token.Parse(valid)
	text, _ := tok.MarshalText()
	bigText := string(text) + strings.Repeat("0", 9*token.MaxTextSize)
	bigDir := append(bytes.Clone(f.dir), bytes.Repeat([]byte(" "), 10*token.MaxDirectorySize)...)
	batch := [][]byte{bigTok, bigTok, bigTok, bigTok, bigTok, bigTok, bigTok, bigTok}
	errs := make([]error, len(batch))
	b := f.v.NewBatch()
	b.Verify(bg, batch, nil, errs) // grows the batch's buffers once

	for _, c := range []struct {
		name string
		max  int
		size int
		call func() error
		want error
	}{
		{"Verifier.Verify", token.MaxSize, len(bigTok), func() error { _, err := f.v.Verify(bg, bigTok); return err }, token.ErrMalformed},
		{"Verifier.VerifyText", token.MaxTextSize, len(bigText), func() error { _, err := f.v.VerifyText(bg, bigText); return err }, token.ErrMalformed},
		{"Batch.Verify", token.MaxSize, len(bigTok), func() error {
			err := b.Verify(bg, batch, nil, errs)
			for i := range errs {
				if !errors.Is(errs[i], token.ErrMalformed) {
					return errs[i]
				}
			}
			return err
		}, ErrBatch},
		{"Verifier.VerifyBatch", token.MaxSize, len(bigTok), func() error {
			err := f.v.NewBatch().Verify(bg, batch[:1], nil, errs[:1])
			if !errors.Is(errs[0], token.ErrMalformed) {
				return errs[0]
			}
			return err
		}, ErrBatch},
		{"New", token.MaxDirectorySize, len(bigDir), func() error { _, err := newV(bigDir, f.sig, f.root, nil); return err }, token.ErrMalformedDirectory},
		{"Verifier.Update", token.MaxDirectorySize, len(bigDir), func() error { _, err := updateV(f.v, bigDir, f.sig); return err }, token.ErrMalformedDirectory},
	} {
		if c.size < 10*c.max {
			t.Fatalf("%s: input of %d bytes, not ten times %d", c.name, c.size, c.max)
		}
		var err error
		if n := misusetest.Allocated(func() { err = c.call() }); n > misusetest.MaxWork {
			t.Errorf("%s: allocated %d bytes to refuse %d", c.name, n, c.size)
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s of %d bytes: %v, want %v", c.name, c.size, err, c.want)
		}
	}
}
