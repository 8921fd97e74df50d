package token

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/statustoken/statustoken/internal/edsig"
	"github.com/statustoken/statustoken/internal/format"
	"github.com/statustoken/statustoken/internal/rsabssa"
)

var (
	// ErrMalformedDirectory is returned for directory bytes that are not
	// the one canonical JSON encoding of a directory: syntax errors,
	// unknown or duplicate fields, other spacing or field order, trailing
	// data, or more than MaxDirectorySize bytes.
	ErrMalformedDirectory = errors.New("token: malformed directory")
	// ErrInvalidDirectory is returned for a well-formed directory whose
	// contents break a rule of SPEC.md: invalid or duplicate keys,
	// misaligned or overlapping epochs, unknown statuses, bad limits.
	ErrInvalidDirectory = errors.New("token: invalid directory")
	// ErrDirectorySignature is returned when the directory's detached
	// signature does not verify under the pinned root key, or the root key
	// itself is not a valid Ed25519 key.
	ErrDirectorySignature = errors.New("token: directory signature invalid")
)

// Limits on a directory (SPEC.md, "Directory").
const (
	// MaxDirectorySize is the size in bytes of the largest directory
	// ParseDirectory and OpenDirectory read.
	MaxDirectorySize  = 1 << 20
	MaxDirectoryKeys  = 2048
	MinEpochLength    = 3600
	MaxEpochLength    = 7 * 24 * 3600
	MaxStatusNameSize = 32
	// MaxSerial keeps serial numbers exact in every JSON implementation.
	MaxSerial = 1<<53 - 1
	// DirectorySignatureSize is the length of a detached directory signature.
	DirectorySignatureSize = ed25519.SignatureSize
)

// Directory is the issuer's public list of issuing keys, signed by its root
// key. Its canonical JSON encoding (SPEC.md, "Directory encoding"), the
// exact bytes that are signed, is produced by [Directory.MarshalBinary]
// (or MarshalText: the encoding is text) and read by [ParseDirectory] and
// [OpenDirectory].
type Directory struct {
	Version int `json:"version"`
	// Serial increases with every directory the issuer publishes.
	Serial uint64 `json:"serial"`
	// EpochLength is the length in seconds of every key's epoch; epochs
	// start at multiples of it since the Unix epoch.
	EpochLength uint32 `json:"epoch_length"`
	// MaxLifetime is the furthest ahead, in seconds, that a token's expiry
	// may lie when it is verified.
	MaxLifetime uint32       `json:"max_lifetime"`
	Statuses    []StatusName `json:"statuses"`
	Keys        []Key        `json:"keys"`
	// TokensPerRequest, when nonzero, is the one number of tokens every
	// blind request asks for (1 to MaxTokensPerRequest), so that the
	// issuer learns nothing from a request's size.
	TokensPerRequest int `json:"tokens_per_request,omitempty"`
	// DecisionLog, DecisionLogDelay, DecisionKeys and Reasons are the
	// issuer's decision policy (SPEC.md, "Decisions"), all set or all
	// empty: the signed-note verifier key of the log of decision records,
	// the longest time in seconds (MinDecisionLogDelay to
	// MaxDecisionLogDelay) from a receipt to its record being in a
	// cosigned checkpoint of that log, the keys that sign receipts, and
	// the reason codes a decision may cite.
	DecisionLog      string        `json:"decision_log,omitempty"`
	DecisionLogDelay uint32        `json:"decision_log_delay,omitempty"`
	DecisionKeys     []DecisionKey `json:"decision_keys,omitempty"`
	Reasons          []Reason      `json:"reasons,omitempty"`
}

// StatusName names a status code.
type StatusName struct {
	Code Status `json:"code"`
	Name string `json:"name"`
}

// Key is one issuing key: one per (suite, status, epoch).
type Key struct {
	ID     KeyID  `json:"key_id"`
	Suite  Suite  `json:"suite"`
	Status Status `json:"status"`
	// NotBefore and Expiry bound the key's epoch in Unix seconds; tokens
	// of the key carry Expiry.
	NotBefore uint32 `json:"not_before"`
	Expiry    uint32 `json:"expiry"`
	// PublicKey is the canonical public key encoding: 32 bytes for
	// Ed25519, the RFC 9578 RSASSA-PSS SubjectPublicKeyInfo for RSABSSA.
	PublicKey []byte `json:"public_key"`
}

// ComputeKeyID returns the key ID of a canonical public key encoding: the
// first 8 bytes of its SHA-256 hash.
func ComputeKeyID(publicKey []byte) KeyID {
	h := sha256.Sum256(publicKey)
	return KeyID(h[:8])
}

// jsonDirectory is Directory without its methods, for encoding/json.
type jsonDirectory Directory

// MarshalBinary checks d against every rule of [ParseDirectory] and
// returns its canonical encoding.
func (d *Directory) MarshalBinary() ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	// For the types of a directory's fields (integers, strings limited
	// to [a-z0-9_-] and hex, and byte strings in padded base64),
	// encoding/json writes exactly the canonical encoding of SPEC.md.
	b, err := json.Marshal((*jsonDirectory)(d))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidDirectory, err)
	}
	if len(b) > MaxDirectorySize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidDirectory, len(b), MaxDirectorySize)
	}
	return b, nil
}

// AppendBinary appends the canonical encoding of d to b. On error it
// returns b unchanged.
func (d *Directory) AppendBinary(b []byte) ([]byte, error) {
	enc, err := d.MarshalBinary()
	if err != nil {
		return b, err
	}
	return append(b, enc...), nil
}

// MarshalText is [Directory.MarshalBinary]: the canonical encoding is
// JSON text.
func (d *Directory) MarshalText() ([]byte, error) { return d.MarshalBinary() }

// AppendText is [Directory.AppendBinary].
func (d *Directory) AppendText(b []byte) ([]byte, error) { return d.AppendBinary(b) }

// UnmarshalBinary decodes and validates a directory into d, as
// [ParseDirectory] does, without checking a signature. On error d is left
// unchanged.
func (d *Directory) UnmarshalBinary(data []byte) error {
	nd, err := ParseDirectory(data)
	if err != nil {
		return err
	}
	*d = *nd
	return nil
}

// UnmarshalText is [Directory.UnmarshalBinary].
func (d *Directory) UnmarshalText(text []byte) error { return d.UnmarshalBinary(text) }

// jsonDetail describes a decoding error by the JSON field and offset,
// without Go type names or a repeated package prefix.
func jsonDetail(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("JSON syntax error at offset %d", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q has the wrong type at offset %d", typ.Field, typ.Offset)
	}
	var field *fieldError
	if errors.As(err, &field) {
		return field.detail
	}
	return err.Error() // encoding/json's own words, such as an unknown field
}

// Clone returns a deep copy of d: no slice is shared with d.
func (d *Directory) Clone() *Directory {
	if d == nil {
		return nil
	}
	c := *d
	c.Statuses = slices.Clone(d.Statuses)
	c.Keys = slices.Clone(d.Keys)
	for i := range c.Keys {
		c.Keys[i].PublicKey = slices.Clone(c.Keys[i].PublicKey)
	}
	c.DecisionKeys = slices.Clone(d.DecisionKeys)
	for i := range c.DecisionKeys {
		c.DecisionKeys[i].PublicKey = slices.Clone(c.DecisionKeys[i].PublicKey)
	}
	c.Reasons = slices.Clone(d.Reasons)
	for i := range c.Reasons {
		c.Reasons[i].Outcomes = slices.Clone(c.Reasons[i].Outcomes)
	}
	return &c
}

// ParseDirectory decodes and validates directory bytes without checking
// their signature; use [OpenDirectory] for bytes from anywhere else than
// the caller's own issuer. Data larger than [MaxDirectorySize] is refused
// with [ErrMalformedDirectory] without being decoded.
func ParseDirectory(data []byte) (*Directory, error) {
	if len(data) > MaxDirectorySize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformedDirectory, len(data), MaxDirectorySize)
	}
	var d Directory
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode((*jsonDirectory)(&d)); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformedDirectory, jsonDetail(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the directory", ErrMalformedDirectory)
	}
	// One encoding per directory: whatever encoding/json tolerates
	// (spacing, field order or case, duplicate or missing fields, escapes,
	// base64 variants, null for most fields) differs from the canonical
	// re-encoding. A null list or public key survives it, and the content
	// rules below refuse it.
	canon, err := json.Marshal((*jsonDirectory)(&d))
	if err != nil || !bytes.Equal(canon, data) {
		return nil, fmt.Errorf("%w: not in canonical form", ErrMalformedDirectory)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return &d, nil
}

// OpenDirectory checks the detached signature sig over data under the
// pinned root public key, then parses and validates the directory as
// [ParseDirectory] does. Wallets and scanners load directories only
// through it. The signature is checked under the same rules as Ed25519
// tokens (SPEC.md, "Ed25519 verification"). Data larger than
// [MaxDirectorySize] is refused with [ErrMalformedDirectory] before the
// signature is checked.
func OpenDirectory(data, sig []byte, root ed25519.PublicKey) (*Directory, error) {
	if len(data) > MaxDirectorySize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformedDirectory, len(data), MaxDirectorySize)
	}
	pk, err := edsig.NewPublicKey(root)
	if err != nil {
		return nil, fmt.Errorf("%w: the root key is not a valid Ed25519 public key (%d bytes, canonical, not of small order)", ErrDirectorySignature, len(root))
	}
	if len(sig) != DirectorySignatureSize || !edsig.Verify(pk, format.DirectoryMessage(data), sig) {
		return nil, ErrDirectorySignature
	}
	return ParseDirectory(data)
}

// Validate checks every content rule of SPEC.md, "Directory".
func (d *Directory) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidDirectory}, args...)...)
	}
	if d == nil {
		return bad("no directory")
	}
	if d.Version != Version {
		return bad("version %d", d.Version)
	}
	if d.Serial > MaxSerial {
		return bad("serial %d above %d", d.Serial, uint64(MaxSerial))
	}
	if d.EpochLength < MinEpochLength || d.EpochLength > MaxEpochLength {
		return bad("epoch length %d s outside [%d, %d]", d.EpochLength, MinEpochLength, MaxEpochLength)
	}
	if d.MaxLifetime < d.EpochLength || d.MaxLifetime > 2*d.EpochLength {
		return bad("max lifetime %d s outside [epoch length, 2 epoch lengths]", d.MaxLifetime)
	}
	if err := validateStatuses(d.Statuses); err != nil {
		return err
	}
	if len(d.Keys) == 0 || len(d.Keys) > MaxDirectoryKeys {
		return bad("%d keys, want 1 to %d", len(d.Keys), MaxDirectoryKeys)
	}
	ids := make(map[KeyID]bool, len(d.Keys))
	for i := range d.Keys {
		k := &d.Keys[i]
		if err := k.validate(d); err != nil {
			return err
		}
		if i > 0 && !keyOrderLess(&d.Keys[i-1], k) {
			return bad("key %v: keys must be sorted by (not_before, suite, status) with one key per suite, status and epoch", k.ID)
		}
		if ids[k.ID] {
			return bad("key ID %v used twice", k.ID)
		}
		ids[k.ID] = true
	}
	if d.TokensPerRequest < 0 || d.TokensPerRequest > MaxTokensPerRequest {
		return bad("tokens_per_request %d outside [1, %d]", d.TokensPerRequest, MaxTokensPerRequest)
	}
	return d.validateDecisions()
}

// validateStatuses checks a directory's status list: 1 to 255 entries,
// codes nonzero and strictly increasing, names unique, each 1 to
// MaxStatusNameSize characters of [a-z0-9_-].
func validateStatuses(statuses []StatusName) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidDirectory}, args...)...)
	}
	if len(statuses) == 0 {
		return bad("no statuses")
	}
	names := make(map[string]bool, len(statuses))
	for i, s := range statuses {
		if s.Code == 0 || (i > 0 && s.Code <= statuses[i-1].Code) {
			return bad("status codes must be nonzero and strictly increasing (at %d)", s.Code)
		}
		if !validStatusName(s.Name) {
			return bad("status %d: name must be 1 to %d of [a-z0-9_-]", s.Code, MaxStatusNameSize)
		}
		if names[s.Name] {
			return bad("status name %q used twice", s.Name)
		}
		names[s.Name] = true
	}
	return nil
}

func keyOrderLess(a, b *Key) bool {
	if a.NotBefore != b.NotBefore {
		return a.NotBefore < b.NotBefore
	}
	if a.Suite != b.Suite {
		return a.Suite < b.Suite
	}
	return a.Status < b.Status
}

func (k *Key) validate(d *Directory) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: key %v: "+format, append([]any{ErrInvalidDirectory, k.ID}, args...)...)
	}
	if !k.Suite.Valid() {
		return bad("unknown suite %d", uint8(k.Suite))
	}
	if _, ok := d.StatusName(k.Status); !ok {
		return bad("status %d not named in the directory", k.Status)
	}
	if k.NotBefore%d.EpochLength != 0 {
		return bad("not_before %d not aligned to the epoch length", k.NotBefore)
	}
	if uint64(k.Expiry) != uint64(k.NotBefore)+uint64(d.EpochLength) {
		return bad("expiry %d is not the end of the epoch starting at %d", k.Expiry, k.NotBefore)
	}
	if err := checkPublicKey(k.Suite, k.PublicKey); err != nil {
		return bad("%v", err)
	}
	if ComputeKeyID(k.PublicKey) != k.ID {
		return bad("key ID does not match the public key")
	}
	return nil
}

// checkPublicKey validates a canonical public key encoding for suite,
// with the rules of the suite's package. Its error text names the suite,
// not the package.
func checkPublicKey(suite Suite, pub []byte) error {
	var err error
	switch suite {
	case Ed25519:
		err = edsig.CheckPublicKey(pub)
	case RSABSSA:
		_, err = rsabssa.ParsePublicKey(pub)
	default:
		return fmt.Errorf("unknown suite %d", uint8(suite))
	}
	if err != nil {
		return fmt.Errorf("invalid %v public key: %v", suite, err)
	}
	return nil
}

func validStatusName(s string) bool {
	if len(s) == 0 || len(s) > MaxStatusNameSize {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// StatusName returns the name of status code c.
func (d *Directory) StatusName(c Status) (string, bool) {
	if d == nil {
		return "", false
	}
	for _, s := range d.Statuses {
		if s.Code == c {
			return s.Name, true
		}
	}
	return "", false
}

// Lookup returns the key with ID id.
func (d *Directory) Lookup(id KeyID) (*Key, bool) {
	if d == nil {
		return nil, false
	}
	for i := range d.Keys {
		if d.Keys[i].ID == id {
			return &d.Keys[i], true
		}
	}
	return nil, false
}

// KeyAt returns the key of suite and status whose epoch contains t.
func (d *Directory) KeyAt(suite Suite, status Status, t time.Time) (*Key, bool) {
	if d == nil {
		return nil, false
	}
	u := t.Unix()
	for i := range d.Keys {
		k := &d.Keys[i]
		if k.Suite == suite && k.Status == status && int64(k.NotBefore) <= u && u < int64(k.Expiry) {
			return k, true
		}
	}
	return nil, false
}

// Matches reports whether the token's suite, status and expiry equal the
// key's. A token whose fields differ from its key's entry is invalid.
func (k *Key) Matches(t *Token) bool {
	return k != nil && t != nil && t.KeyID == k.ID && t.Suite == k.Suite && t.Status == k.Status && t.Expiry == k.Expiry
}

// ExpiryTime returns Expiry as a time.Time.
func (k *Key) ExpiryTime() time.Time { return time.Unix(int64(k.Expiry), 0).UTC() }

// NotBeforeTime returns NotBefore as a time.Time.
func (k *Key) NotBeforeTime() time.Time { return time.Unix(int64(k.NotBefore), 0).UTC() }
