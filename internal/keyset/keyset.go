// Package keyset prepares the keys of a validated directory for signature
// verification: each key's public encoding is parsed once, and keys are
// found by ID in constant time.
package keyset

import (
	"fmt"

	"github.com/statustoken/statustoken/internal/edsig"
	"github.com/statustoken/statustoken/internal/format"
	"github.com/statustoken/statustoken/internal/rsabssa"
	"github.com/statustoken/statustoken/token"
)

// Key is a directory key with its parsed public key.
type Key struct {
	token.Key
	Ed  *edsig.PublicKey   // set for token.Ed25519
	RSA *rsabssa.PublicKey // set for token.RSABSSA
}

// Set holds the prepared keys of one directory. It is immutable and safe
// for concurrent use.
type Set struct {
	byID map[token.KeyID]*Key
}

// New prepares every key of d, which must have passed
// token.Directory.Validate: that is where every key and directory rule is
// checked, so New only parses.
func New(d *token.Directory) (*Set, error) {
	s := &Set{byID: make(map[token.KeyID]*Key, len(d.Keys))}
	keys := make([]Key, len(d.Keys))
	for i, dk := range d.Keys {
		k := &keys[i]
		k.Key = dk
		var err error
		switch dk.Suite {
		case token.Ed25519:
			k.Ed, err = edsig.NewPublicKey(dk.PublicKey)
		case token.RSABSSA:
			k.RSA, err = rsabssa.ParsePublicKey(dk.PublicKey)
		default:
			err = fmt.Errorf("unknown suite %d", uint8(dk.Suite))
		}
		if err != nil {
			// Unreachable for a validated directory.
			return nil, fmt.Errorf("%w: key %v", token.ErrInvalidDirectory, dk.ID)
		}
		s.byID[dk.ID] = k
	}
	return s, nil
}

// Lookup returns the key with ID id, or nil.
func (s *Set) Lookup(id token.KeyID) *Key { return s.byID[id] }

// MatchesParsed is token.Key.Matches for a parsed token: it reports
// whether f has k's key ID, suite, status and expiry (token/SPEC.md,
// "Verification", steps 5 and 6).
func (k *Key) MatchesParsed(f *format.Token) bool {
	return k != nil && f != nil && f.KeyID == k.ID && f.Suite == byte(k.Suite) && f.Status == byte(k.Status) && f.Expiry == k.Expiry
}

// VerifySignature reports whether sig is a valid signature of msg under k,
// with the rules of k's suite (SPEC.md).
func (k *Key) VerifySignature(msg, sig []byte) bool {
	switch k.Suite {
	case token.Ed25519:
		return edsig.Verify(k.Ed, msg, sig)
	case token.RSABSSA:
		return k.RSA.Verify(msg, sig) == nil
	}
	return false
}
