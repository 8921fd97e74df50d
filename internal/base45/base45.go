// Package base45 implements the Base45 encoding of RFC 9285, whose 45
// characters are exactly the alphanumeric mode set of QR codes, so that
// binary data can be carried in that mode.
//
// Most callers want [EncodeToString] and [DecodeString]. Decoding is strict:
// every byte string has exactly one encoding, and the decoders accept only
// that one.
//
// # Security considerations
//
// Encoding, and decoding of valid input, take time that depends only on the
// length of the input: digits are converted by arithmetic, with no table
// lookups or branches on the data. The decoders read their input once, from
// start to end, and check it with masks as they convert it, so they do the
// same work whether or not the input is valid and wherever its faults are;
// only after the whole input has been read do they branch on whether it was
// valid. The error text for invalid input gives the offset of the first
// faulty group, so formatting it is the one step that depends on where that
// fault is.
//
// The alphabet includes the space character, and a valid encoding can start
// with one. Callers must not remove surrounding whitespace from scanned text
// (for example with strings.TrimSpace), which would make such an encoding
// invalid. The alphabet also includes characters that are not safe in URLs
// (space, '$', '%', '+', '/', ':'); RFC 9285, Section 6, calls for
// percent-encoding there.
package base45

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// ErrInvalid is returned, wrapped with the length of the input or the offset
// of its first faulty group, for every input that is not the Base45 encoding
// of some byte string.
var ErrInvalid = errors.New("base45: invalid encoding")

// EncodedLen returns the length of the Base45 encoding of n bytes: three
// characters for each pair of bytes and two for a final single byte (RFC
// 9285, Section 4). It panics if n is negative or the result would overflow
// an int.
func EncodedLen(n int) int {
	if n < 0 || n/2 > (math.MaxInt-2)/3 {
		panic("base45: length out of range")
	}
	return n/2*3 + n%2*2
}

// DecodedLen returns the number of bytes encoded by n characters of Base45.
// A length that is one more than a multiple of three is not the length of
// any encoding, and DecodedLen returns an error wrapping [ErrInvalid] for
// it. It panics if n is negative.
func DecodedLen(n int) (int, error) {
	if n < 0 {
		panic("base45: negative length")
	}
	if n%3 == 1 {
		return 0, fmt.Errorf("%w: length %d is one more than a multiple of 3", ErrInvalid, n)
	}
	return n/3*2 + n%3/2, nil
}

// Encode writes the Base45 encoding of src to dst, as specified in RFC 9285,
// Section 4: each pair of bytes [a, b], read as n = a*256 + b, becomes the
// three digits c, d, e with n = c + d*45 + e*45*45, written least significant
// first; a final single byte a becomes the two digits c, d with a = c + d*45.
// Digits are written with the alphabet of Section 4.2, Table 1.
//
// Encode writes EncodedLen(len(src)) bytes and panics if dst is shorter. It
// works from the end of src to the start, so dst may start at the same
// address as src (to encode in place in a buffer of sufficient size); any
// other overlap gives unspecified output. Its running time depends only on
// len(src).
func Encode(dst, src []byte) {
	n := EncodedLen(len(src))
	if len(dst) < n {
		panic("base45: output buffer too small")
	}
	i, j := len(src), n
	if i%2 == 1 {
		i--
		j -= 2
		a := uint32(src[i])
		dst[j] = encodeDigit(a % 45)
		dst[j+1] = encodeDigit(a / 45)
	}
	for i > 0 {
		i -= 2
		j -= 3
		v := uint32(src[i])<<8 | uint32(src[i+1])
		r := v % (45 * 45)
		// Bounds hint: one check for the three writes below.
		_ = dst[j+2]
		dst[j] = encodeDigit(r % 45)
		dst[j+1] = encodeDigit(r / 45)
		dst[j+2] = encodeDigit(v / (45 * 45))
	}
}

// AppendEncode appends the Base45 encoding of src to dst and returns the
// extended slice. If dst's spare capacity starts at the same address as src,
// the encoding replaces src in place (see [Encode]).
func AppendEncode(dst, src []byte) []byte {
	n := EncodedLen(len(src))
	dst = slices.Grow(dst, n)
	Encode(dst[len(dst):len(dst)+n], src)
	return dst[:len(dst)+n]
}

// encodeChunk is the number of source bytes [EncodeToString] encodes at a
// time into a buffer on the stack. It is even, so only the last chunk can
// end in a single byte.
const encodeChunk = 64

// EncodeToString returns the Base45 encoding of src (RFC 9285, Section 4).
// The returned string is the only allocation.
func EncodeToString(src []byte) string {
	var sb strings.Builder
	sb.Grow(EncodedLen(len(src)))
	var buf [encodeChunk / 2 * 3]byte
	for len(src) > 0 {
		k := min(len(src), encodeChunk)
		n := EncodedLen(k)
		Encode(buf[:n], src[:k])
		sb.Write(buf[:n])
		src = src[k:]
	}
	return sb.String()
}

// Decode writes the bytes encoded by the Base45 string src to dst and
// returns their number, reversing [Encode] as RFC 9285, Section 4, specifies.
//
// Decoding is canonical. As RFC 9285, Section 6, calls for, Decode rejects
// any input that is not a valid encoding: characters outside the alphabet of
// Section 4.2 (lowercase letters included), a length that is one more than a
// multiple of three, a group of three characters whose value exceeds 65535
// (such as "GGW", Section 6's example), and a final pair whose value exceeds
// 255. On any of these it returns 0 and an error wrapping [ErrInvalid]. The
// error names the length, or else the offset in src of the first faulty
// group of three characters or of the faulty final pair.
//
// Decode reads src once, from start to end, and writes each group's bytes to
// dst as soon as it has read the group, checking the group at the same time.
// Let n be DecodedLen(len(src)). A length that is one more than a multiple
// of three is rejected before anything is written. Otherwise Decode panics,
// before it writes anything, if dst is shorter than n, whether or not src is
// valid. If src turns out to be invalid, Decode sets all of dst[:n] to zero
// before it returns, so that no byte decoded from invalid input is left
// behind. Decode never writes beyond dst[:n].
//
// dst may start at the same address as src, to decode in place: each group's
// bytes are written at or before the group's first character, after the
// group has been read. The first n bytes of the buffer then hold the decoded
// bytes, or zeros if src was invalid; in either case that part of src is
// lost, and the rest of it is left as it was. Any other overlap gives
// unspecified output. For valid input its running time depends only on
// len(src).
func Decode(dst, src []byte) (int, error) {
	return decode(dst, src)
}

// DecodeStringInto is [Decode] for a string: it writes the bytes encoded by
// the Base45 string s to dst, without converting s to a []byte and so
// without allocating, and returns their number. It has Decode's contract in
// every other respect: it rejects the same inputs with the same errors,
// panics before writing if dst is shorter than DecodedLen(len(s)) for a
// length that is not one more than a multiple of three, and on error leaves
// dst[:DecodedLen(len(s))] set to zero.
func DecodeStringInto(dst []byte, s string) (int, error) {
	return decode(dst, s)
}

// AppendDecode appends the bytes encoded by the Base45 string src to dst
// and returns the extended slice. It rejects exactly what [Decode] rejects,
// and then returns dst itself, with its length unchanged and nothing
// appended, and an error wrapping [ErrInvalid]. Like Decode, it writes
// while it checks: on error, the first DecodedLen(len(src)) bytes of dst's
// spare capacity (if it had that many; otherwise the new array it
// allocated, which it then drops) have been written and are set to zero.
//
// If dst's spare capacity starts at the same address as src, the decoded
// bytes replace src in place, as for Decode, and on error the first
// DecodedLen(len(src)) bytes of src are set to zero.
func AppendDecode(dst, src []byte) ([]byte, error) {
	n, err := DecodedLen(len(src))
	if err != nil {
		return dst, err
	}
	out := slices.Grow(dst, n)
	if _, err := decode(out[len(out):len(out)+n], src); err != nil {
		return dst, err
	}
	return out[:len(out)+n], nil
}

// DecodeString returns the bytes encoded by the Base45 string s. It rejects
// exactly what [Decode] rejects, and then returns nil and an error wrapping
// [ErrInvalid]. The returned slice is the only allocation; it is made, and
// then cleared and dropped, for invalid input too, unless the length is
// wrong.
func DecodeString(s string) ([]byte, error) {
	n, err := DecodedLen(len(s))
	if err != nil {
		return nil, err
	}
	dst := make([]byte, n)
	if _, err := decode(dst, s); err != nil {
		return nil, err
	}
	return dst, nil
}

// decode implements [Decode] and [DecodeStringInto] in one pass over src.
//
// Each group of three characters, and a final pair, is converted to its
// value and written to dst whether or not it is valid. A group is faulty if
// a character is outside the alphabet or its value is too large; g below is
// -1 for a faulty group and 0 otherwise, computed without branching, and bad
// gathers g over all groups. While bad is still 0, g &^ bad equals g, so the
// first faulty group's offset is or-ed into first; after that g &^ bad is 0
// and first keeps its value. Offsets are multiples of three, so the first
// faulty group is the final pair exactly when first+2 == len(src).
func decode[S string | []byte](dst []byte, src S) (int, error) {
	n, err := DecodedLen(len(src))
	if err != nil {
		return 0, err
	}
	if len(dst) < n {
		panic("base45: output buffer too small")
	}
	dst = dst[:n]
	var bad, first int
	i, j := 0, 0
	for ; i+3 <= len(src); i, j = i+3, j+2 {
		c, okc := decodeDigit(src[i])
		d, okd := decodeDigit(src[i+1])
		e, oke := decodeDigit(src[i+2])
		v := c + d*45 + e*45*45
		g := int(^(okc & okd & oke) | geMask(v, 1<<16))
		first |= i & (g &^ bad)
		bad |= g
		// Bounds hint: one check for the two writes below.
		_ = dst[j+1]
		dst[j] = byte(v >> 8)
		dst[j+1] = byte(v)
	}
	if i < len(src) {
		c, okc := decodeDigit(src[i])
		d, okd := decodeDigit(src[i+1])
		v := c + d*45
		g := int(^(okc & okd) | geMask(v, 1<<8))
		first |= i & (g &^ bad)
		bad |= g
		dst[j] = byte(v)
	}
	if bad != 0 {
		clear(dst)
		if first+2 == len(src) {
			return 0, fmt.Errorf("%w: final pair at offset %d", ErrInvalid, first)
		}
		return 0, fmt.Errorf("%w: group at offset %d", ErrInvalid, first)
	}
	return n, nil
}

// geMask returns -1 (all bits set) if x >= y and 0 otherwise, without
// branching, for 0 <= x, y < 1<<30.
func geMask(x, y int32) int32 {
	return ^((x - y) >> 31)
}

// inRange returns -1 if lo <= x <= hi and 0 otherwise, without branching,
// for 0 <= x, lo, hi < 1<<30: either difference is negative exactly when x
// is out of range.
func inRange(x, lo, hi int32) int32 {
	return ^((x - lo) | (hi - x)) >> 31
}

// encodeDigit returns the character for the digit v, 0 <= v < 45, of RFC
// 9285, Section 4.2, Table 1: "0"–"9", "A"–"Z", then " $%*+-./:". It starts
// from '0' + v and adds, without branching, the gap before each run of
// consecutive characters in the table.
func encodeDigit(v uint32) byte {
	x := int32(v)
	c := x + '0'
	c += geMask(x, 10) & ('A' - '9' - 1)
	c += geMask(x, 36) & (' ' - 'Z' - 1)
	c += geMask(x, 37) & ('$' - ' ' - 1)
	c += geMask(x, 39) & ('*' - '%' - 1)
	c += geMask(x, 41) & ('-' - '+' - 1)
	c += geMask(x, 44) & (':' - '/' - 1)
	return byte(c)
}

// decodeDigit returns the digit that the character b stands for in RFC 9285,
// Section 4.2, Table 1, and ok = -1; or 0 and ok = 0 if b is not in the
// table. It does not branch on b.
func decodeDigit(b byte) (v, ok int32) {
	x := int32(b)
	digit := inRange(x, '0', '9')
	upper := inRange(x, 'A', 'Z')
	space := inRange(x, ' ', ' ')
	dollar := inRange(x, '$', '%')
	star := inRange(x, '*', '+')
	minus := inRange(x, '-', '/')
	colon := inRange(x, ':', ':')
	v = digit&(x-'0') |
		upper&(x-'A'+10) |
		space&36 |
		dollar&(x-'$'+37) |
		star&(x-'*'+39) |
		minus&(x-'-'+41) |
		colon&44
	ok = digit | upper | space | dollar | star | minus | colon
	return v, ok
}
