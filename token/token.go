package token

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/statustoken/statustoken/internal/format"
)

// ErrMalformed is returned for any token encoding that is not exactly one
// canonical v1 token: wrong length, trailing bytes, unknown version or
// suite, status 0, or a non-canonical signature value.
var ErrMalformed = errors.New("token: malformed token")

// Version is the only token version this package reads and writes.
const Version = format.Version

// Suite names a signature suite (SPEC.md, "Suites").
type Suite uint8

const (
	// Ed25519 tokens are signed directly by the issuer. The issuer sees
	// every token it signs: use this suite only where issuance never learns
	// who the holder is.
	Ed25519 Suite = format.SuiteEd25519
	// RSABSSA tokens are issued blindly with RSABSSA-SHA384-PSS-Deterministic
	// (RFC 9474) over 2048-bit keys: the issuer never sees the token.
	RSABSSA Suite = format.SuiteRSABSSA
)

// String returns the suite's name as it appears in a directory.
func (s Suite) String() string {
	switch s {
	case Ed25519:
		return "ed25519"
	case RSABSSA:
		return "rsabssa"
	}
	return fmt.Sprintf("Suite(%d)", uint8(s))
}

// Valid reports whether s is a suite this package knows.
func (s Suite) Valid() bool { return s == Ed25519 || s == RSABSSA }

// SignatureSize returns the length of the suite's signature, or 0 for an
// unknown suite.
func (s Suite) SignatureSize() int {
	return format.SignatureSize(byte(s))
}

// Size returns the length of a binary token of suite s, or 0 for an unknown
// suite.
func (s Suite) Size() int {
	if !s.Valid() {
		return 0
	}
	return format.HeaderSize + s.SignatureSize()
}

// MarshalText encodes the suite's directory name.
func (s Suite) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("token: unknown suite %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText accepts exactly "ed25519" or "rsabssa".
func (s *Suite) UnmarshalText(b []byte) error {
	switch string(b) {
	case "ed25519":
		*s = Ed25519
	case "rsabssa":
		*s = RSABSSA
	default:
		return &fieldError{fmt.Sprintf("unknown suite %q", truncate(b))}
	}
	return nil
}

// Status is a deployment-defined status code, named in the key directory.
// The zero Status is invalid and never appears in a token.
type Status uint8

// KeyID identifies an issuing key: the first 8 bytes of SHA-256 over the
// key's canonical public encoding (see [ComputeKeyID]).
type KeyID [8]byte

// String returns the key ID in lower-case hex.
func (id KeyID) String() string { return fmt.Sprintf("%x", id[:]) }

// MarshalText encodes the key ID in lower-case hex.
func (id KeyID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText accepts exactly 16 lower-case hex digits.
func (id *KeyID) UnmarshalText(b []byte) error {
	var out KeyID
	if len(b) != 2*len(out) {
		return &fieldError{fmt.Sprintf("key ID %q is not 16 hex digits", truncate(b))}
	}
	for i := range out {
		hi, ok1 := fromLowerHex(b[2*i])
		lo, ok2 := fromLowerHex(b[2*i+1])
		if !ok1 || !ok2 {
			return &fieldError{fmt.Sprintf("key ID %q is not lower-case hex", truncate(b))}
		}
		out[i] = hi<<4 | lo
	}
	*id = out
	return nil
}

// fieldError is a refused field value; ParseDirectory words it without
// the package name.
type fieldError struct{ detail string }

func (e *fieldError) Error() string { return "token: " + e.detail }

func fromLowerHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// NonceSize is the length of a token nonce.
const NonceSize = format.NonceSize

// Nonce is the holder's random value that makes each token unique. It is
// chosen uniformly at random for every token and never reused.
type Nonce [NonceSize]byte

const (
	// MaxSize is the length of the largest valid binary token.
	MaxSize = format.MaxTokenSize
	// MinSize is the length of the smallest valid binary token.
	MinSize = format.MinTokenSize
)

// Token is a decoded v1 token (SPEC.md, "Token"). It holds nothing but
// these fields; there is no room for anything per person.
//
// A Token is encoded with [Token.MarshalBinary] or [Token.MarshalText] and
// decoded with [Parse], [ParseText] or the Unmarshal methods, so it
// round-trips through encoding/json, encoding/xml and every other codec
// that uses the encoding interfaces (in its text form).
type Token struct {
	Suite  Suite
	Status Status
	// Expiry is the end of the issuing key's epoch, in seconds since the
	// Unix epoch. The token is not valid at or after this instant.
	Expiry    uint32
	KeyID     KeyID
	Nonce     Nonce
	Signature []byte
}

// ExpiryTime returns Expiry as a time.Time.
func (t *Token) ExpiryTime() time.Time { return time.Unix(int64(t.Expiry), 0).UTC() }

// Parse decodes a binary token. It accepts exactly one encoding per token
// and rejects anything else with [ErrMalformed]; no valid token is longer
// than [MaxSize] bytes, and a longer b is refused without being read. The
// returned token does not alias b.
func Parse(b []byte) (*Token, error) {
	t := new(Token)
	if err := t.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return t, nil
}

// UnmarshalBinary decodes a binary token into t, as [Parse] does. On
// error t is left unchanged. t.Signature is a new slice that does not
// alias b.
//
// This is the one place where a parsed token (internal/format) becomes a
// Token; the verifier checks the parsed form itself, without a Token.
func (t *Token) UnmarshalBinary(b []byte) error {
	f, err := format.ParseToken(b)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	*t = Token{
		Suite:     Suite(f.Suite),
		Status:    Status(f.Status),
		Expiry:    f.Expiry,
		KeyID:     f.KeyID,
		Nonce:     f.Nonce,
		Signature: bytes.Clone(f.Signature),
	}
	return nil
}

// MarshalBinary encodes t, after checking that every field is valid.
func (t *Token) MarshalBinary() ([]byte, error) {
	if t == nil {
		return nil, fmt.Errorf("%w: nil token", ErrMalformed)
	}
	b, err := t.AppendBinary(make([]byte, 0, t.Suite.Size()))
	if err != nil {
		return nil, err
	}
	return b, nil
}

// AppendBinary appends the binary encoding of t to b, after checking that
// every field is valid. On error it returns b unchanged.
func (t *Token) AppendBinary(b []byte) ([]byte, error) {
	if err := t.check(); err != nil {
		return b, err
	}
	b = format.AppendHeader(b, byte(t.Suite), byte(t.Status), t.Expiry, (*[8]byte)(&t.KeyID), (*[NonceSize]byte)(&t.Nonce))
	return append(b, t.Signature...), nil
}

func (t *Token) check() error {
	if t == nil {
		return fmt.Errorf("%w: nil token", ErrMalformed)
	}
	if !t.Suite.Valid() {
		return fmt.Errorf("%w: unknown suite %d", ErrMalformed, uint8(t.Suite))
	}
	if t.Status == 0 {
		return fmt.Errorf("%w: status 0", ErrMalformed)
	}
	if err := format.CheckSignature(byte(t.Suite), t.Signature); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

func truncate(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}
