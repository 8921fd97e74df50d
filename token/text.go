package token

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/statustoken/statustoken/internal/base45"
)

// TextPrefix starts the text form of every v1 token. Its characters, like
// base45's, are all in the QR alphanumeric set.
const TextPrefix = "HT1:"

// MaxTextSize is the length of the longest valid text form.
var MaxTextSize = len(TextPrefix) + base45.EncodedLen(MaxSize)

// MaxBase64Size is the length of the longest valid base64url form.
var MaxBase64Size = base64.RawURLEncoding.EncodedLen(MaxSize)

var b64 = base64.RawURLEncoding.Strict()

// MarshalText returns the text form of t for QR codes: [TextPrefix] followed
// by the base45 (RFC 9285) encoding of the binary token. An Ed25519 token's
// text form is 171 characters, within the alphanumeric capacity (195) of a
// version-7 QR code at error-correction level M.
func (t *Token) MarshalText() ([]byte, error) {
	b, err := t.Marshal()
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(TextPrefix)+base45.EncodedLen(len(b)))
	out = append(out, TextPrefix...)
	return base45.AppendEncode(out, b), nil
}

// ParseText decodes the text form produced by [Token.MarshalText]. It
// accepts only the exact prefix and canonical base45, and everything
// [Parse] rejects it rejects with [ErrMalformed]. A string longer than
// [MaxTextSize] is refused without being decoded.
func ParseText(s string) (*Token, error) {
	if len(s) > MaxTextSize {
		return nil, fmt.Errorf("%w: text form of %d characters", ErrMalformed, len(s))
	}
	rest, ok := strings.CutPrefix(s, TextPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: text form does not start with %q", ErrMalformed, TextPrefix)
	}
	b, err := base45.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return Parse(b)
}

// Base64 returns the unpadded base64url encoding of the binary token, for
// HTTP headers and URLs.
func (t *Token) Base64() (string, error) {
	b, err := t.Marshal()
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
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return Parse(b)
}
