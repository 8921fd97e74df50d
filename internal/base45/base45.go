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
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
)

// ErrInvalid is returned, wrapped with the length of the input or the offset
// of its first faulty group, for every input that is not the Base45 encoding
// of some byte string.
var ErrInvalid = errors.New("base45: invalid encoding")

// invalidEncoding is an error wrapping ErrInvalid whose text is the reason alone, for the
// public packages to put in their own words without cutting text apart.
type invalidEncoding string

func (e invalidEncoding) Error() string { return string(e) }
func (e invalidEncoding) Unwrap() error { return ErrInvalid }

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
		return 0, invalidEncoding(fmt.Sprintf("length %d is one more than a multiple of 3", n))
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
// Decode reads src once, from start to end, some hundreds of characters at
// a time, and writes the bytes of the groups it has read to dst before it
// reads on, checking the groups at the same time.
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

// decodeChunk is the number of characters that decode converts to digits
// at a time, into a buffer on its stack, before it combines them into
// groups. It is a multiple of 3, so that no group straddles two chunks, and
// of 8, so that only the last chunk can end in a partial word.
const decodeChunk = 8 * 3 * 10

// decode implements [Decode] and [DecodeStringInto] in one pass over src.
//
// It works through src in chunks of decodeChunk characters. For each chunk
// it first converts all the characters to digits with [toDigits], into a
// buffer on the stack, and then [combine] combines the digits into groups
// of three, and a final pair, and writes each group's value to dst whether
// or not it is valid. The bytes for the chunk that starts at offset i of src
// go to dst[i/3*2:], and end no later than the chunk does, so when dst and
// src start at the same address the writes only ever replace characters
// that have already been converted.
//
// A group is faulty if a character is outside the alphabet or its value is
// too large. Without branching, combine and-s into good a mask that is -1
// if the group is valid and 0 if it is faulty, and subtracts good from
// lead. So good is -1 until the first faulty group and 0 from then on, and
// lead counts the groups before the first faulty one: that group's offset
// is 3*lead. Offsets are multiples of three, so the first faulty group is
// the final pair exactly when its offset plus 2 is len(src).
func decode[S string | []byte](dst []byte, src S) (int, error) {
	n, err := DecodedLen(len(src))
	if err != nil {
		return 0, err
	}
	if len(dst) < n {
		panic("base45: output buffer too small")
	}
	dst = dst[:n]
	var buf [decodeChunk]byte
	good, lead := -1, 0
	for i := 0; i < len(src); i += decodeChunk {
		k := min(len(src)-i, decodeChunk)
		toDigits(buf[:], src[i:i+k])
		good, lead = combine(dst[i/3*2:], buf[:k], good, lead)
	}
	if good == 0 {
		clear(dst)
		first := 3 * lead
		if first+2 == len(src) {
			return 0, invalidEncoding(fmt.Sprintf("final pair at offset %d", first))
		}
		return 0, invalidEncoding(fmt.Sprintf("group at offset %d", first))
	}
	return n, nil
}

// combine combines digits, as [toDigits] gives them, into groups of three,
// and a final pair if they end in one, and writes the groups' values to
// dst. It updates good and lead as [decode] describes and returns them.
//
// A digit for a character outside the alphabet is at least 0x80, and a
// valid digit at most 44 < 1<<6. Take u to be the group's value or-ed with
// its three digits or-ed together and shifted left by 9. If a digit is
// invalid, u has bit 16 or a higher one set. If all are valid, the shifted
// bits are below 1<<15, so u is below 1<<16 exactly when the value is. So u
// >= 1<<16 exactly when the group is faulty, and shifting u - 1<<16 right
// (arithmetically) by one less than the size of an int gives the mask that
// is -1 for a valid group and 0 for a faulty one. For the final pair the
// shift is 1 and the bound 1<<8. The digits are at most 255, so u stays
// below 1<<21.
func combine(dst, digits []byte, good, lead int) (int, int) {
	// group combines the group at digits[q:q+3] and writes its value to
	// dst[r:r+2].
	group := func(q, r int) {
		c, d, e := int(digits[q]), int(digits[q+1]), int(digits[q+2])
		v := c + d*45 + e*45*45
		good &= ((v | (c|d|e)<<9) - 1<<16) >> (bits.UintSize - 1)
		lead -= good
		dst[r] = byte(v >> 8)
		dst[r+1] = byte(v)
	}
	// Two groups at a time, then one, then the final pair. Each second
	// condition below is implied by the first; they let the compiler drop
	// the bounds checks on dst in the loop.
	q, r := 0, 0
	for ; q < len(digits)-5 && r < len(dst)-3; q, r = q+6, r+4 {
		group(q, r)
		group(q+3, r+2)
	}
	if q < len(digits)-2 && r < len(dst)-1 {
		group(q, r)
		q, r = q+3, r+2
	}
	if q < len(digits)-1 && r < len(dst) {
		c, d := int(digits[q]), int(digits[q+1])
		v := c + d*45
		good &= ((v | (c|d)<<1) - 1<<8) >> (bits.UintSize - 1)
		lead -= good
		dst[r] = byte(v)
	}
	return good, lead
}

// geMask returns -1 (all bits set) if x >= y and 0 otherwise, without
// branching, for 0 <= x, y < 1<<30.
func geMask(x, y int32) int32 {
	return ^((x - y) >> 31)
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

// Constants for [toDigits], which works on the eight byte lanes of a
// uint64 at once.
const (
	lanes = 0x0101010101010101 // 1 in every lane
	tops  = 0x80 * lanes       // the top bit of every lane
)

// toDigits converts each character of src to the digit it stands for in RFC
// 9285, Section 4.2, Table 1, at most 44, or to a value with its top bit set
// if it is not in the table, and writes the result at the same offset in
// dst, which must have room for len(src) rounded up to a multiple of 8. It
// does not branch on the characters.
//
// It reads src eight characters at a time, as a little-endian uint64 with
// one character in each byte lane (the last few characters padded with
// zeros, whose results are written to dst and are to be ignored), and
// converts all the lanes at once with whole-word arithmetic. That is only
// correct if no lane's addition carries, or subtraction borrows, into the
// next lane; the bounds below show that none does.
//
// Let x be a lane's character with its top bit cleared, 0 <= x <= 127. (A
// character with its top bit set is outside the table; its lane is marked
// invalid at the end whatever its low bits are.) For a threshold t, 1 <= t
// <= 127, the lane of (x|0x80) - t is between 128-127 = 1 and 255, so the
// subtraction never borrows from the next lane, and the lane's top bit is
// set exactly when x >= t. The word ge(t) below holds these lanes.
//
// Validity. The table's characters form the ranges ' ', '$'-'%', '*'-'+',
// '-'-':' (which joins "-./", the decimal digits and ':') and 'A'-'Z'. A
// character is in one of them exactly when an odd number of the thresholds
// 32, 33, 36, 38, 42, 44, 45, 59, 65, 91 (each range's first character and
// the one after its last) are at most x, since these are in ascending
// order. So the top bits of the xor of those ten words, which is bitwise
// and cannot carry, mark the valid lanes.
//
// Digits. In a valid lane the digit is x - off, where off = -4 for ' ', -1
// for '$'-'%', 3 for '*'-'+', 4 for "-./", 48 for '0'-'9', 14 for ':' and 55
// for 'A'-'Z'. Shifting a word ge(t)&0x80.. right by 7 leaves 1 in the lanes
// where x >= t and 0 in the others, and multiplying that by a constant k <
// 256 gives k in the lanes with 1 in them. So off+4 is the sum of
//
//	sub = 3*[x>=36] + 4*[x>=42] + 1*[x>=45] + 44*[x>=48] + 41*[x>=65]
//
// and -34*[x>=58]; each lane of sub is at most 93, so the sum does not
// carry. A lane of the result is then computed as
//
//	((x|0x80) - sub) + (34*[x>=58] + 4),
//
// which is 128 + digit for a valid character. The subtraction does not
// borrow, as its lanes are at least 128 - 93 = 35. The addition does not
// carry: taking x at the top of each stretch of constant sub, the lane is
// at most 128 + 35 + 4 = 167 below 36, 170 below 42, 169 below 45, 171
// below 48, 137 below 58, 178 below 65 and 128 + 127 - 93 + 38 = 200 above.
// It is also at least 128 in every lane, valid or not: x - sub + 34*[x>=58]
// + 4 is smallest at x = 48, where it is 0. Finally xor-ing with ok, which
// has 0x80 in exactly the valid lanes that held an ASCII character, clears
// the top bit of those to leave the digit, and leaves it set in every other
// lane.
func toDigits[S string | []byte](dst []byte, src S) {
	if len(dst) < (len(src)+7)&^7 {
		panic("base45: digit buffer too small")
	}
	p := 0
	// The second condition is implied by the first; it spares the bounds
	// checks on dst.
	for ; p+8 <= len(src) && p+8 <= len(dst); p += 8 {
		w := loadWord(src[p : p+8])
		xt := w | tops
		ge := func(t uint64) uint64 { return xt - t*lanes }
		step := func(g uint64) uint64 { return g & tops >> 7 }
		ge36, ge42, ge45, ge65 := ge('$'), ge('*'), ge('-'), ge('A')
		valid := ge(' ') ^ ge(' '+1) ^ ge36 ^ ge('%'+1) ^ ge42 ^ ge('+'+1) ^
			ge45 ^ ge(':'+1) ^ ge65 ^ ge('Z'+1)
		ok := valid &^ w & tops
		sub := step(ge36)*3 + step(ge42)*4 + step(ge45) + step(ge('0'))*44 + step(ge65)*41
		add := step(ge(':'))*34 + 4*lanes
		binary.LittleEndian.PutUint64(dst[p:p+8], (xt-sub+add)^ok)
	}
	if p < len(src) {
		// The last few characters, padded with zeros to a word.
		var pad [8]byte
		copy(pad[:], src[p:])
		toDigits(dst[p:], pad[:])
	}
}

// loadWord returns s[:8] as a little-endian word, s[0] in the lowest byte.
// The compiler turns the shifts into one load.
func loadWord[S string | []byte](s S) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}
