// Package format holds the byte-level encodings that more than one public
// package needs: the binary token and its text form, the message a token
// signature covers, the message a directory signature covers, and the
// blind request and response of rsabssa issuance (token/SPEC.md).
//
// Its errors describe what is wrong and name no package: the public
// packages wrap them in their own sentinels.
package format

import (
	"errors"
	"fmt"
	"strings"

	"github.com/statustoken/statustoken/internal/base45"
	"github.com/statustoken/statustoken/internal/edsig"
)

// Version is the token, directory and wire format version.
const Version = 1

// Suite codes (token/SPEC.md, "Suites").
const (
	SuiteEd25519 = 1
	SuiteRSABSSA = 2
)

const (
	// HeaderSize is the length of every token field but the signature.
	HeaderSize = 1 + 1 + 1 + 4 + 8 + NonceSize
	// NonceSize is the length of a token nonce.
	NonceSize = 32
	// KeyIDSize is the length of a key ID.
	KeyIDSize = 8
	// MaxTokenSize and MinTokenSize bound the length of a binary token.
	MaxTokenSize = HeaderSize + 256
	MinTokenSize = HeaderSize + 64

	// TextPrefix starts the text form of every v1 token.
	TextPrefix = "HT1:"
	// MaxTextSize is the length of the longest text form: the prefix and
	// base45 of MaxTokenSize bytes (three characters per two bytes, two
	// for a last single byte).
	MaxTextSize = len(TextPrefix) + MaxTokenSize/2*3 + MaxTokenSize%2*2

	// tokenLabel separates token signatures from every other use of a
	// key; MessageSize is the length of a token's signed message.
	tokenLabel  = "statustoken/v1 token"
	MessageSize = len(tokenLabel) + HeaderSize

	// directoryLabel separates directory signatures from every other use
	// of the root key.
	directoryLabel = "statustoken/v1 directory"
)

// SignatureSize returns the signature length of suite, or 0 for a suite
// that does not exist.
func SignatureSize(suite byte) int {
	switch suite {
	case SuiteEd25519:
		return 64
	case SuiteRSABSSA:
		return 256
	}
	return 0
}

// Token is a parsed binary token. Signature aliases the parsed bytes.
type Token struct {
	Suite, Status byte
	Expiry        uint32
	KeyID         [KeyIDSize]byte
	Nonce         [NonceSize]byte
	Signature     []byte
}

// ParseToken decodes the binary token b without allocating on success
// (token/SPEC.md, "Token"): exactly one encoding per token, known version
// and suite, the suite's length, a nonzero status and, for ed25519, a
// canonical signature encoding.
//
//	struct {
//	    uint8  version = 1;
//	    uint8  suite;         /* 1 = ed25519, 2 = rsabssa */
//	    uint8  status;        /* 1..255 */
//	    uint32 expiry;        /* Unix seconds, end of the key's epoch */
//	    opaque key_id[8];
//	    opaque nonce[32];
//	    opaque signature[Ns]; /* Ns = 64 (ed25519) or 256 (rsabssa) */
//	} Token;
func ParseToken(b []byte) (Token, error) {
	if len(b) < 2 {
		return Token{}, fmt.Errorf("%d bytes", len(b))
	}
	if b[0] != Version {
		return Token{}, fmt.Errorf("unknown version %d", b[0])
	}
	n := SignatureSize(b[1])
	if n == 0 {
		return Token{}, fmt.Errorf("unknown suite %d", b[1])
	}
	if len(b) != HeaderSize+n {
		return Token{}, fmt.Errorf("%d bytes, want %d for suite %d", len(b), HeaderSize+n, b[1])
	}
	if b[2] == 0 {
		return Token{}, errors.New("status 0")
	}
	t := Token{
		Suite:     b[1],
		Status:    b[2],
		Expiry:    uint32(b[3])<<24 | uint32(b[4])<<16 | uint32(b[5])<<8 | uint32(b[6]),
		KeyID:     [KeyIDSize]byte(b[7:15]),
		Nonce:     [NonceSize]byte(b[15:HeaderSize]),
		Signature: b[HeaderSize:],
	}
	if err := CheckSignature(t.Suite, t.Signature); err != nil {
		return Token{}, err
	}
	return t, nil
}

// CheckSignature applies the encoding rules of suite's signatures that
// need no key: the length, and for ed25519 those of edsig.
func CheckSignature(suite byte, sig []byte) error {
	if len(sig) != SignatureSize(suite) {
		return fmt.Errorf("%d-byte signature for suite %d", len(sig), suite)
	}
	if suite == SuiteEd25519 && !edsig.CheckSignatureEncoding(sig) {
		return errors.New("non-canonical ed25519 signature encoding")
	}
	return nil
}

// AppendHeader appends every token field but the signature.
func AppendHeader(dst []byte, suite, status byte, expiry uint32, keyID *[KeyIDSize]byte, nonce *[NonceSize]byte) []byte {
	dst = append(dst, Version, suite, status,
		byte(expiry>>24), byte(expiry>>16), byte(expiry>>8), byte(expiry))
	dst = append(dst, keyID[:]...)
	return append(dst, nonce[:]...)
}

// AppendMessage appends the message a token signature covers: the label
// and header, the first HeaderSize bytes of a binary token.
func AppendMessage(dst, header []byte) []byte {
	dst = append(dst, tokenLabel...)
	return append(dst, header[:HeaderSize]...)
}

// DirectoryMessage returns the message the root key signs for directory
// bytes data: a label followed by data.
func DirectoryMessage(data []byte) []byte {
	m := make([]byte, 0, len(directoryLabel)+len(data))
	m = append(m, directoryLabel...)
	return append(m, data...)
}

// DecodeText decodes the text form s of a token into dst and returns the
// binary token, a prefix of dst. It checks the length limit, the prefix
// and canonical base45, not the token itself (see ParseToken).
func DecodeText(dst *[MaxTokenSize]byte, s string) ([]byte, error) {
	if len(s) > MaxTextSize {
		return nil, fmt.Errorf("text form of %d characters, limit %d", len(s), MaxTextSize)
	}
	rest, ok := strings.CutPrefix(s, TextPrefix)
	if !ok {
		return nil, fmt.Errorf("text form does not start with %q", TextPrefix)
	}
	n, err := base45.DecodeStringInto(dst[:], rest)
	if err != nil {
		return nil, fmt.Errorf("text form is not canonical Base45 (RFC 9285): %v", err)
	}
	return dst[:n], nil
}

// AppendText appends the text form of the binary token b.
func AppendText(dst, b []byte) []byte {
	dst = append(dst, TextPrefix...)
	return base45.AppendEncode(dst, b)
}
