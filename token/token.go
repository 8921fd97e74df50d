package token

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"filippo.io/edwards25519"
	"golang.org/x/crypto/cryptobyte"
)

// ErrMalformed is returned for any token encoding that is not exactly one
// canonical v1 token: wrong length, trailing bytes, unknown version or
// suite, status 0, or a non-canonical signature value.
var ErrMalformed = errors.New("token: malformed token")

// Version is the only token version this package reads and writes.
const Version = 1

// Suite names a signature suite (SPEC.md, "Suites").
type Suite uint8

const (
	// Ed25519 tokens are signed directly by the issuer. The issuer sees
	// every token it signs: use this suite only where issuance never learns
	// who the holder is.
	Ed25519 Suite = 1
	// RSABSSA tokens are issued blindly with RSABSSA-SHA384-PSS-Deterministic
	// (RFC 9474) over 2048-bit keys: the issuer never sees the token.
	RSABSSA Suite = 2
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
	switch s {
	case Ed25519:
		return 64
	case RSABSSA:
		return 256
	}
	return 0
}

// Size returns the length of a binary token of suite s, or 0 for an unknown
// suite.
func (s Suite) Size() int {
	if !s.Valid() {
		return 0
	}
	return headerSize + s.SignatureSize()
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
		return fmt.Errorf("token: unknown suite %q", truncate(b))
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
		return fmt.Errorf("token: key ID %q is not 16 hex digits", truncate(b))
	}
	for i := range out {
		hi, ok1 := fromLowerHex(b[2*i])
		lo, ok2 := fromLowerHex(b[2*i+1])
		if !ok1 || !ok2 {
			return fmt.Errorf("token: key ID %q is not lower-case hex", truncate(b))
		}
		out[i] = hi<<4 | lo
	}
	*id = out
	return nil
}

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
const NonceSize = 32

// Nonce is the holder's random value that makes each token unique. It is
// chosen uniformly at random for every token and never reused.
type Nonce [NonceSize]byte

const (
	// headerSize is the length of every field but the signature.
	headerSize = 1 + 1 + 1 + 4 + 8 + NonceSize
	// MaxSize is the length of the largest valid binary token.
	MaxSize = headerSize + 256
	// MinSize is the length of the smallest valid binary token.
	MinSize = headerSize + 64
)

// messageLabel separates token signatures from every other use of a key.
const messageLabel = "statustoken/v1 token"

// MessageSize is the length of the message a token signature covers.
const MessageSize = len(messageLabel) + headerSize

// Token is a decoded v1 token (SPEC.md, "Token"). It holds nothing but
// these fields; there is no room for anything per person.
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
	t, err := parse(b)
	if err != nil {
		return nil, err
	}
	t.Signature = bytes.Clone(t.Signature)
	return &t, nil
}

// parse decodes b without allocating; the returned Signature aliases b.
func parse(b []byte) (Token, error) {
	if len(b) < 2 {
		return Token{}, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	if b[0] != Version {
		return Token{}, fmt.Errorf("%w: unknown version %d", ErrMalformed, b[0])
	}
	suite := Suite(b[1])
	if !suite.Valid() {
		return Token{}, fmt.Errorf("%w: unknown suite %d", ErrMalformed, b[1])
	}
	if len(b) != suite.Size() {
		return Token{}, fmt.Errorf("%w: %d bytes, want %d for suite %v", ErrMalformed, len(b), suite.Size(), suite)
	}
	// struct {
	//     uint8  version = 1;
	//     uint8  suite;         /* 1 = ed25519, 2 = rsabssa */
	//     uint8  status;        /* 1..255 */
	//     uint32 expiry;        /* Unix seconds, end of the key's epoch */
	//     opaque key_id[8];
	//     opaque nonce[32];
	//     opaque signature[Ns]; /* Ns = 64 (ed25519) or 256 (rsabssa) */
	// } Token;
	var (
		t                       Token
		version, suiteB, status uint8
		keyID, nonce            []byte
	)
	s := cryptobyte.String(b)
	if !s.ReadUint8(&version) || !s.ReadUint8(&suiteB) || !s.ReadUint8(&status) ||
		!s.ReadUint32(&t.Expiry) || !s.ReadBytes(&keyID, len(t.KeyID)) ||
		!s.ReadBytes(&nonce, NonceSize) || !s.ReadBytes(&t.Signature, suite.SignatureSize()) ||
		!s.Empty() {
		return Token{}, fmt.Errorf("%w: bad field lengths", ErrMalformed)
	}
	if status == 0 {
		return Token{}, fmt.Errorf("%w: status 0", ErrMalformed)
	}
	if suite == Ed25519 && !canonicalEd25519Signature(t.Signature) {
		return Token{}, fmt.Errorf("%w: non-canonical ed25519 signature encoding", ErrMalformed)
	}
	t.Suite, t.Status = suite, Status(status)
	copy(t.KeyID[:], keyID)
	copy(t.Nonce[:], nonce)
	return t, nil
}

// canonicalEd25519Signature reports whether sig = R || S has S < L and R a
// canonical point encoding (y < p). Whether R is on the curve is left to
// verification.
func canonicalEd25519Signature(sig []byte) bool {
	if _, err := new(edwards25519.Scalar).SetCanonicalBytes(sig[32:64]); err != nil {
		return false
	}
	return canonicalY(sig[:32])
}

// canonicalY reports whether the low 255 bits of the little-endian b are
// below p = 2^255 - 19.
func canonicalY(b []byte) bool {
	// y >= p iff bytes 1..30 are 0xff, byte 31 (masked) is 0x7f, and
	// byte 0 is >= 0xed.
	if b[31]&0x7f != 0x7f {
		return true
	}
	for i := 30; i >= 1; i-- {
		if b[i] != 0xff {
			return true
		}
	}
	return b[0] < 0xed
}

// Marshal encodes t, after checking that every field is valid.
func (t *Token) Marshal() ([]byte, error) {
	if t == nil {
		return nil, fmt.Errorf("%w: nil token", ErrMalformed)
	}
	return t.AppendBinary(make([]byte, 0, t.Suite.Size()))
}

// AppendBinary appends the binary encoding of t to b.
func (t *Token) AppendBinary(b []byte) ([]byte, error) {
	if err := t.check(); err != nil {
		return b, err
	}
	b = t.appendFields(b)
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
	if len(t.Signature) != t.Suite.SignatureSize() {
		return fmt.Errorf("%w: %d-byte signature for suite %v", ErrMalformed, len(t.Signature), t.Suite)
	}
	if t.Suite == Ed25519 && !canonicalEd25519Signature(t.Signature) {
		return fmt.Errorf("%w: non-canonical ed25519 signature encoding", ErrMalformed)
	}
	return nil
}

func (t *Token) appendFields(b []byte) []byte {
	b = append(b, Version, byte(t.Suite), byte(t.Status),
		byte(t.Expiry>>24), byte(t.Expiry>>16), byte(t.Expiry>>8), byte(t.Expiry))
	b = append(b, t.KeyID[:]...)
	return append(b, t.Nonce[:]...)
}

// Message returns the bytes a token's signature covers: a domain-separation
// label followed by every field but the signature. It does not check the
// fields; the issuer and holder sign exactly this.
func (t *Token) Message() []byte {
	return t.AppendMessage(make([]byte, 0, MessageSize))
}

// AppendMessage appends [Token.Message] to b.
func (t *Token) AppendMessage(b []byte) []byte {
	b = append(b, messageLabel...)
	return t.appendFields(b)
}

// MessageOf parses the binary token b as [Parse] does, without allocating:
// the returned token's Signature aliases b, and msg, the signed message of
// [Token.Message], is appended to buf[:0] (no allocation when buf has at
// least [MessageSize] bytes of capacity).
func MessageOf(buf, b []byte) (msg []byte, t Token, err error) {
	t, err = parse(b)
	if err != nil {
		return nil, Token{}, err
	}
	msg = append(buf[:0], messageLabel...)
	msg = append(msg, b[:headerSize]...)
	return msg, t, nil
}

func truncate(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}
