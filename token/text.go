package token

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/statustoken/statustoken/internal/format"
)

// TextPrefix starts the text form of every v1 token. Its characters, like
// base45's, are all in the QR alphanumeric set.
const TextPrefix = format.TextPrefix

// MaxTextSize is the length of the longest valid text form.
const MaxTextSize = format.MaxTextSize

// MaxBase64Size is the length of the longest valid base64url form.
const MaxBase64Size = (MaxSize*8 + 5) / 6

var b64 = base64.RawURLEncoding.Strict()

// MarshalText returns the text form of t for QR codes: [TextPrefix]
// followed by the base45 (RFC 9285) encoding of the binary token. An
// Ed25519 token's text form is 171 characters, within the alphanumeric
// capacity (195) of a version-7 QR code at error-correction level M.
func (t *Token) MarshalText() ([]byte, error) {
	if t == nil {
		return nil, fmt.Errorf("%w: nil token", ErrMalformed)
	}
	b, err := t.AppendText(make([]byte, 0, len(TextPrefix)+t.Suite.Size()/2*3+2))
	if err != nil {
		return nil, err
	}
	return b, nil
}

// AppendText appends the text form of t (see [Token.MarshalText]) to b.
// On error it returns b unchanged.
func (t *Token) AppendText(b []byte) ([]byte, error) {
	var buf [MaxSize]byte
	raw, err := t.AppendBinary(buf[:0])
	if err != nil {
		return b, err
	}
	return format.AppendText(b, raw), nil
}

// ParseText decodes the text form produced by [Token.MarshalText]. It
// accepts only the exact prefix and canonical base45, and everything
// [Parse] rejects it rejects with [ErrMalformed]. A string longer than
// [MaxTextSize] is refused without being decoded.
func ParseText(s string) (*Token, error) {
	t := new(Token)
	if err := t.unmarshalText(s); err != nil {
		return nil, err
	}
	return t, nil
}

// UnmarshalText decodes a text form into t, as [ParseText] does. On error
// t is left unchanged.
func (t *Token) UnmarshalText(text []byte) error {
	if len(text) > MaxTextSize {
		return fmt.Errorf("%w: text form of %d characters, limit %d", ErrMalformed, len(text), MaxTextSize)
	}
	return t.unmarshalText(string(text))
}

func (t *Token) unmarshalText(s string) error {
	var buf [MaxSize]byte
	raw, err := format.DecodeText(&buf, s)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return t.UnmarshalBinary(raw)
}

// Base64 returns the unpadded base64url encoding of the binary token, for
// HTTP headers and URLs.
func (t *Token) Base64() (string, error) {
	b, err := t.MarshalBinary()
	if err != nil {
		return "", err
	}
	return b64.EncodeToString(b), nil
}

// ParseBase64 decodes the form produced by [Token.Base64]: unpadded,
// canonical base64url (no padding, no line breaks, zero trailing bits). A
// string longer than [MaxBase64Size] is refused without being decoded.
func ParseBase64(s string) (*Token, error) {
	if len(s) > MaxBase64Size {
		return nil, fmt.Errorf("%w: base64 form of %d characters", ErrMalformed, len(s))
	}
	if strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("%w: line break in base64 form", ErrMalformed)
	}
	var buf [MaxSize]byte
	n, err := b64.Decode(buf[:], []byte(s))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return Parse(buf[:n])
}
