package format

import (
	"errors"
	"fmt"
)

const (
	// MaxTokens bounds the tokens of one blind request or response.
	MaxTokens = 100
	// ElementSize is the length of a blinded message or blind signature
	// under a 2048-bit key.
	ElementSize = 256
	// blindHeaderSize is the length of the fields before the elements.
	blindHeaderSize = 1 + KeyIDSize + 1
	// MaxBlindSize is the length of the largest request or response.
	MaxBlindSize = blindHeaderSize + MaxTokens*ElementSize
)

// Requests and responses of blind issuance share one shape
// (token/SPEC.md, "Blind issuance"):
//
//	struct {
//	    uint8  version = 1;
//	    opaque key_id[8];            /* the rsabssa key, from the directory */
//	    uint8  count;                /* 1..100 */
//	    opaque element[count][256];  /* blinded messages, or blind signatures */
//	} TokenRequest, TokenResponse;
//
// A request carries nothing but the key and the blinded messages: no
// nonce, no identity, no free-form field.

// AppendBlindHeader appends the fields before count elements under keyID;
// the caller appends the elements, each ElementSize bytes.
func AppendBlindHeader(dst []byte, keyID *[KeyIDSize]byte, count int) []byte {
	dst = append(dst, Version)
	dst = append(dst, keyID[:]...)
	return append(dst, byte(count))
}

// BlindSize returns the length of a request or response of count elements.
func BlindSize(count int) int { return blindHeaderSize + count*ElementSize }

// ParseBlind decodes a request or response. elements aliases data and
// holds count*ElementSize bytes; element i is elements[i*ElementSize:].
// Data longer than MaxBlindSize is refused without being read.
func ParseBlind(data []byte) (keyID [KeyIDSize]byte, count int, elements []byte, err error) {
	if len(data) > MaxBlindSize {
		return keyID, 0, nil, fmt.Errorf("%d bytes, limit %d", len(data), MaxBlindSize)
	}
	if len(data) < blindHeaderSize {
		return keyID, 0, nil, errors.New("truncated header")
	}
	if data[0] != Version {
		return keyID, 0, nil, fmt.Errorf("unknown version %d", data[0])
	}
	count = int(data[blindHeaderSize-1])
	if count < 1 || count > MaxTokens {
		return keyID, 0, nil, fmt.Errorf("count %d outside 1..%d", count, MaxTokens)
	}
	elements = data[blindHeaderSize:]
	if len(elements) != count*ElementSize {
		return keyID, 0, nil, fmt.Errorf("%d bytes of elements, want %d", len(elements), count*ElementSize)
	}
	return [KeyIDSize]byte(data[1 : 1+KeyIDSize]), count, elements, nil
}
