// Package tokenmsg builds the message a token's signature covers
// (token/SPEC.md, "Token"), for every package that signs or verifies
// tokens: the issuer, the holder and the verifier all call [Append], so
// that the signed bytes are assembled in one place.
package tokenmsg

import (
	"github.com/statustoken/statustoken/internal/format"
	"github.com/statustoken/statustoken/token"
)

// Size is the length of a token's signed message.
const Size = format.MessageSize

// Append appends the message that t's signature covers: the label and
// the header, every field of t but the signature. It does not check the
// fields; a token that parsed, or whose fields are a directory key's,
// gives the bytes of its binary header.
func Append(dst []byte, t *token.Token) []byte {
	var hdr [format.HeaderSize]byte
	h := format.AppendHeader(hdr[:0], byte(t.Suite), byte(t.Status), t.Expiry,
		(*[format.KeyIDSize]byte)(&t.KeyID), (*[format.NonceSize]byte)(&t.Nonce))
	return format.AppendMessage(dst, h)
}
