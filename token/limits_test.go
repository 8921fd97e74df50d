package token

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/statustoken/statustoken/internal/format"
	"github.com/statustoken/statustoken/internal/misusetest"
)

// TestInputLimits checks each entry point's documented maximum: the largest
// valid input has exactly that size, and an input ten times larger is
// refused with the package's error without being decoded. The
// Unmarshal methods share their functions' limits; format.ParseToken, the
// parser the verifiers use without allocating (MessageOf before API 1.0),
// shares Parse's and returns an error of its own (want nil: any error).
func TestInputLimits(t *testing.T) {
	rsaTok := sample(RSABSSA)
	raw, _ := rsaTok.MarshalBinary()
	text, _ := rsaTok.MarshalText()
	b64, _ := rsaTok.Base64()
	if len(raw) != MaxSize || len(text) != MaxTextSize || len(b64) != MaxBase64Size {
		t.Fatalf("largest token: %d, %d, %d bytes; limits %d, %d, %d",
			len(raw), len(text), len(b64), MaxSize, MaxTextSize, MaxBase64Size)
	}

	bigRaw := make([]byte, 10*MaxSize)
	copy(bigRaw, raw)
	bigText := string(text) + strings.Repeat("0", 9*MaxTextSize)
	bigTextBytes := []byte(bigText)
	// UnmarshalText takes bytes, which a codec may hand it in any size:
	// a megabyte of text must be refused as cheaply as ten times the
	// limit.
	hugeTextBytes := append(bytes.Clone(text), bytes.Repeat([]byte("0"), 10*MaxDirectorySize)...)
	bigB64 := b64 + strings.Repeat("A", 9*MaxBase64Size)
	// A directory ten times the limit, of valid JSON: one status list
	// padded with entries.
	var sb strings.Builder
	sb.WriteString(`{"version":1,"serial":1,"epoch_length":3600,"max_lifetime":3600,"statuses":[`)
	for sb.Len() < 10*MaxDirectorySize {
		sb.WriteString(`{"code":1,"name":"a"},`)
	}
	sb.WriteString(`{"code":1,"name":"a"}],"keys":[]}`)
	bigDir := []byte(sb.String())
	root := ed25519.NewKeyFromSeed(make([]byte, 32))
	sig := ed25519.Sign(root, format.DirectoryMessage(bigDir))

	for _, c := range []struct {
		name string
		max  int
		size int
		call func() error
		want error
	}{
		{"Parse", MaxSize, len(bigRaw), func() error { _, err := Parse(bigRaw); return err }, ErrMalformed},
		{"Token.UnmarshalBinary", MaxSize, len(bigRaw), func() error { return new(Token).UnmarshalBinary(bigRaw) }, ErrMalformed},
		{"format.ParseToken", MaxSize, len(bigRaw), func() error { _, err := format.ParseToken(bigRaw); return err }, nil},
		{"ParseText", MaxTextSize, len(bigText), func() error { _, err := ParseText(bigText); return err }, ErrMalformed},
		{"Token.UnmarshalText", MaxTextSize, len(bigText), func() error { return new(Token).UnmarshalText(bigTextBytes) }, ErrMalformed},
		{"Token.UnmarshalText (huge)", MaxTextSize, len(hugeTextBytes), func() error { return new(Token).UnmarshalText(hugeTextBytes) }, ErrMalformed},
		{"ParseBase64", MaxBase64Size, len(bigB64), func() error { _, err := ParseBase64(bigB64); return err }, ErrMalformed},
		{"ParseDirectory", MaxDirectorySize, len(bigDir), func() error { _, err := ParseDirectory(bigDir); return err }, ErrMalformedDirectory},
		{"Directory.UnmarshalBinary", MaxDirectorySize, len(bigDir), func() error { return new(Directory).UnmarshalBinary(bigDir) }, ErrMalformedDirectory},
		{"Directory.UnmarshalText", MaxDirectorySize, len(bigDir), func() error { return new(Directory).UnmarshalText(bigDir) }, ErrMalformedDirectory},
		{"OpenDirectory", MaxDirectorySize, len(bigDir), func() error {
			_, err := OpenDirectory(bigDir, sig, root.Public().(ed25519.PublicKey))
			return err
		}, ErrMalformedDirectory},
	} {
		if c.size < 10*c.max {
			t.Fatalf("%s: input of %d bytes, not ten times %d", c.name, c.size, c.max)
		}
		var err error
		if n := misusetest.Allocated(func() { err = c.call() }); n > misusetest.MaxWork {
			t.Errorf("%s: allocated %d bytes to refuse %d", c.name, n, c.size)
		}
		if err == nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s of %d bytes: %v, want %v", c.name, c.size, err, c.want)
			continue
		}
		if len(err.Error()) > 200 {
			t.Errorf("%s: %d-byte error text", c.name, len(err.Error()))
		}
	}
}
