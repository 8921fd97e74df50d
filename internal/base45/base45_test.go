package base45

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// alphabet is RFC 9285, Section 4.2, Table 1, in order of value. The
// package converts digits by arithmetic; the tests check it against this
// table and against the reference functions below, which use it directly.
const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// refEncode is a direct transcription of RFC 9285, Section 4.
func refEncode(b []byte) string {
	var sb strings.Builder
	for ; len(b) >= 2; b = b[2:] {
		n := int(b[0])*256 + int(b[1])
		sb.WriteByte(alphabet[n%45])
		sb.WriteByte(alphabet[n/45%45])
		sb.WriteByte(alphabet[n/(45*45)])
	}
	if len(b) == 1 {
		n := int(b[0])
		sb.WriteByte(alphabet[n%45])
		sb.WriteByte(alphabet[n/45])
	}
	return sb.String()
}

// refDecode reverses refEncode and reports false for anything that is not
// its output.
func refDecode(s string) ([]byte, bool) {
	if len(s)%3 == 1 {
		return nil, false
	}
	out := []byte{}
	for i := 0; i < len(s); i += 3 {
		g := s[i:min(i+3, len(s))]
		n, scale := 0, 1
		for k := 0; k < len(g); k++ {
			d := strings.IndexByte(alphabet, g[k])
			if d < 0 {
				return nil, false
			}
			n += d * scale
			scale *= 45
		}
		if len(g) == 3 {
			if n > 0xffff {
				return nil, false
			}
			out = append(out, byte(n>>8), byte(n))
		} else {
			if n > 0xff {
				return nil, false
			}
			out = append(out, byte(n))
		}
	}
	return out, true
}

// refError returns the text of the error the decoders must give for s, which
// refDecode rejects: the length, or else the offset of the first group of
// three characters, or final pair, that refDecode rejects on its own.
func refError(s string) string {
	if len(s)%3 == 1 {
		return fmt.Sprintf("length %d is one more than a multiple of 3", len(s))
	}
	for i := 0; i < len(s); i += 3 {
		g := s[i:min(i+3, len(s))]
		if _, ok := refDecode(g); ok {
			continue
		}
		if len(g) == 2 {
			return fmt.Sprintf("final pair at offset %d", i)
		}
		return fmt.Sprintf("group at offset %d", i)
	}
	panic(fmt.Sprintf("refError(%q): the string is valid", s))
}

// inRange returns -1 if lo <= x <= hi and 0 otherwise, without branching,
// for 0 <= x, lo, hi < 1<<30: either difference is negative exactly when x
// is out of range.
func inRange(x, lo, hi int32) int32 {
	return ^((x - lo) | (hi - x)) >> 31
}

// decodeDigit is the package's earlier digit decoder, one character at a
// time, kept as the reference for toDigits and for the baseline benchmarks.
// It returns the digit that the character b stands for in RFC 9285, Section
// 4.2, Table 1, and ok = -1; or 0 and ok = 0 if b is not in the table. It
// does not branch on b.
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

// newSeed returns a deterministic random source, so that failures repeat.
func newSeed(i uint64) *rand.ChaCha8 {
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], i)
	return rand.NewChaCha8(seed)
}

// randomBytes returns n deterministic random bytes chosen by i.
func randomBytes(i uint64, n int) []byte {
	b := make([]byte, n)
	newSeed(i).Read(b)
	return b
}

// vectors holds the examples of RFC 9285, Section 4.3 (encoding) and
// Section 4.4 (decoding), and the boundary values of Section 6.
var vectors = []struct {
	name    string
	decoded string
	encoded string
}{
	{"empty", "", ""},
	{"RFC 9285 4.3 example 1", "AB", "BB8"},
	{"RFC 9285 4.3 example 2", "Hello!!", "%69 VD92EX0"},
	{"RFC 9285 4.3 example 3", "base-45", "UJCLQE7W581"},
	{"RFC 9285 4.4 example 1", "ietf!", "QED8WEX0"},
	{"RFC 9285 6 largest group", "\xff\xff", "FGW"},
	{"largest final pair", "\xff", "U5"},
	{"zero group", "\x00\x00", "000"},
	{"zero final pair", "\x00", "00"},
}

func TestVectors(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			if got := EncodeToString([]byte(v.decoded)); got != v.encoded {
				t.Errorf("EncodeToString(%q) = %q, want %q", v.decoded, got, v.encoded)
			}
			dst := make([]byte, EncodedLen(len(v.decoded)))
			Encode(dst, []byte(v.decoded))
			if string(dst) != v.encoded {
				t.Errorf("Encode(%q) = %q, want %q", v.decoded, dst, v.encoded)
			}
			if got := AppendEncode([]byte("x"), []byte(v.decoded)); string(got) != "x"+v.encoded {
				t.Errorf("AppendEncode(x, %q) = %q", v.decoded, got)
			}

			got, err := DecodeString(v.encoded)
			if err != nil || string(got) != v.decoded {
				t.Errorf("DecodeString(%q) = %q, %v; want %q", v.encoded, got, err, v.decoded)
			}
			out := make([]byte, len(v.decoded)+1)
			n, err := Decode(out, []byte(v.encoded))
			if err != nil || string(out[:n]) != v.decoded {
				t.Errorf("Decode(%q) = %q, %v; want %q", v.encoded, out[:n], err, v.decoded)
			}
			out = make([]byte, len(v.decoded)+1)
			n, err = DecodeStringInto(out, v.encoded)
			if err != nil || string(out[:n]) != v.decoded {
				t.Errorf("DecodeStringInto(%q) = %q, %v; want %q", v.encoded, out[:n], err, v.decoded)
			}
			app, err := AppendDecode([]byte("x"), []byte(v.encoded))
			if err != nil || string(app) != "x"+v.decoded {
				t.Errorf("AppendDecode(x, %q) = %q, %v", v.encoded, app, err)
			}
		})
	}
}

func TestDigits(t *testing.T) {
	if len(alphabet) != 45 {
		t.Fatalf("alphabet has %d characters", len(alphabet))
	}
	for v := range uint32(45) {
		if got := encodeDigit(v); got != alphabet[v] {
			t.Errorf("encodeDigit(%d) = %q, want %q", v, got, alphabet[v])
		}
	}
	for b := range 256 {
		v, ok := decodeDigit(byte(b))
		want := strings.IndexByte(alphabet, byte(b))
		switch {
		case want < 0 && (ok != 0 || v != 0):
			t.Errorf("decodeDigit(%q) = %d, %d; want 0, 0", byte(b), v, ok)
		case want >= 0 && (ok != -1 || v != int32(want)):
			t.Errorf("decodeDigit(%q) = %d, %d; want %d, -1", byte(b), v, ok, want)
		}
	}
}

// digits8 converts the eight characters in the byte lanes of w, lowest
// first, with toDigits.
func digits8(w uint64) uint64 {
	var in, out [8]byte
	binary.LittleEndian.PutUint64(in[:], w)
	toDigits(out[:], in[:])
	return binary.LittleEndian.Uint64(out[:])
}

// checkDigits8 checks digits8(w) lane by lane against decodeDigit: a lane
// holds the digit of a character in the table, and has its top bit set
// otherwise.
func checkDigits8(t *testing.T, w uint64) {
	t.Helper()
	got := digits8(w)
	for k := range 8 {
		b, d := byte(w>>(8*k)), byte(got>>(8*k))
		v, ok := decodeDigit(b)
		if ok == -1 && d != byte(v) || ok == 0 && d < 0x80 {
			t.Fatalf("digits8(%#016x) = %#016x: lane %d holds %#02x for %q, want %d", w, got, k, d, b, v)
		}
	}
}

// TestDigits8 checks the word-at-a-time digit conversion against the
// character-at-a-time reference: every byte value in every lane, next to
// random bytes and next to every byte value, and random words.
func TestDigits8(t *testing.T) {
	rng := rand.New(newSeed(6))
	for k := range 8 {
		for b := range 256 {
			for range 64 {
				w := rng.Uint64()&^(0xff<<(8*k)) | uint64(b)<<(8*k)
				checkDigits8(t, w)
			}
			// The same byte in every other lane, and each of its
			// neighbours' values: a borrow or carry out of one lane
			// would show in the next.
			checkDigits8(t, uint64(b)*lanes)
			for c := range 256 {
				checkDigits8(t, uint64(c)*lanes&^(0xff<<(8*k))|uint64(b)<<(8*k))
			}
		}
	}
	// Words of table characters only, where no lane may be flagged.
	for range 1 << 16 {
		var w uint64
		for k := range 8 {
			w |= uint64(alphabet[rng.IntN(len(alphabet))]) << (8 * k)
		}
		checkDigits8(t, w)
	}
	for range 1 << 20 {
		checkDigits8(t, rng.Uint64())
	}
}

// TestToDigits checks toDigits on inputs of every length up to a few words,
// from a string and from a []byte, including the zero-padded last word, and
// that it writes nothing beyond len(src) rounded up to a word.
func TestToDigits(t *testing.T) {
	rng := rand.New(newSeed(8))
	for n := range 41 {
		for range 200 {
			src := make([]byte, n)
			for k := range src {
				if rng.IntN(2) == 0 {
					src[k] = alphabet[rng.IntN(len(alphabet))]
				} else {
					src[k] = byte(rng.IntN(256))
				}
			}
			room := (n + 7) &^ 7
			for _, str := range []bool{false, true} {
				dst := bytes.Repeat([]byte{0xaa}, room+8)
				if str {
					toDigits(dst[:room], string(src))
				} else {
					toDigits(dst[:room], src)
				}
				for k, b := range src {
					v, ok := decodeDigit(b)
					if ok == -1 && dst[k] != byte(v) || ok == 0 && dst[k] < 0x80 {
						t.Fatalf("toDigits(%q) (string %v) gives %#02x at offset %d, want %d (ok %d)", src, str, dst[k], k, v, ok)
					}
				}
				if !bytes.Equal(dst[room:], bytes.Repeat([]byte{0xaa}, 8)) {
					t.Fatalf("toDigits(%q) wrote beyond %d bytes: %x", src, room, dst)
				}
			}
		}
	}
	if !panics(func() { toDigits(make([]byte, 8), make([]byte, 9)) }) {
		t.Error("toDigits did not panic on a short dst")
	}
}

// TestChunks decodes encodings of one, two and more than three chunks and
// a few bytes more or less, and puts faults on either side of the chunk
// boundaries, to check that the groups next to a boundary are decoded, and
// their faults found, as any others.
func TestChunks(t *testing.T) {
	for _, groups := range []int{decodeChunk / 3, 2 * decodeChunk / 3, decodeChunk + 5} {
		for _, extra := range []int{-2, -1, 0, 1, 2} {
			n := 2*groups + extra
			src := randomBytes(uint64(400+n), n)
			enc := EncodeToString(src)
			got, err := DecodeString(enc)
			if err != nil || !bytes.Equal(got, src) {
				t.Fatalf("DecodeString of %d characters = %x, %v; want %x", len(enc), got, err, src)
			}
			buf := []byte(enc)
			if k, err := Decode(buf, buf); err != nil || !bytes.Equal(buf[:k], src) {
				t.Fatalf("in-place Decode of %d characters = %x, %v; want %x", len(enc), buf[:k], err, src)
			}
			for _, at := range []int{decodeChunk - 3, decodeChunk, decodeChunk + 3, 2 * decodeChunk, len(enc) - 1} {
				if at < 0 || at >= len(enc) {
					continue
				}
				for _, c := range []byte{'a', 0x80 | '0', 0xff} {
					bad := []byte(enc)
					bad[at] = c
					checkRejected(t, string(bad))
					checkAgree(t, string(bad))
				}
				// A value too large in the group at, and an invalid
				// character after it.
				bad := []byte(enc)
				g := at / 3 * 3
				if g+3 <= len(bad) {
					copy(bad[g:], "GGW")
				} else {
					copy(bad[g:], "::")
				}
				if g+3 < len(bad) {
					bad[len(bad)-1] = '#'
				}
				checkRejected(t, string(bad))
			}
		}
	}
}

// TestAllGroups encodes every pair and every single byte, and decodes every
// string of three and of two alphabet characters: exactly the encodings of
// 0..65535 and of 0..255 are accepted.
func TestAllGroups(t *testing.T) {
	dst := make([]byte, 3)
	for n := range 1 << 16 {
		src := []byte{byte(n >> 8), byte(n)}
		Encode(dst, src)
		if want := refEncode(src); string(dst) != want {
			t.Fatalf("Encode(%x) = %q, want %q", src, dst, want)
		}
	}
	for n := range 1 << 8 {
		src := []byte{byte(n)}
		Encode(dst[:2], src)
		if want := refEncode(src); string(dst[:2]) != want {
			t.Fatalf("Encode(%x) = %q, want %q", src, dst[:2], want)
		}
	}

	accepted := 0
	for n := range 45 * 45 * 45 {
		s := string([]byte{alphabet[n%45], alphabet[n/45%45], alphabet[n/(45*45)]})
		got, err := DecodeString(s)
		if n > 0xffff {
			if err == nil || !errors.Is(err, ErrInvalid) || got != nil {
				t.Fatalf("DecodeString(%q) (value %d) = %x, %v; want ErrInvalid", s, n, got, err)
			}
			checkRejected(t, s)
			continue
		}
		accepted++
		if err != nil || len(got) != 2 || int(got[0])<<8|int(got[1]) != n {
			t.Fatalf("DecodeString(%q) = %x, %v; want %04x", s, got, err, n)
		}
		if re := EncodeToString(got); re != s {
			t.Fatalf("EncodeToString(%x) = %q, want %q", got, re, s)
		}
		// The package documentation relies on this: no valid encoding
		// ends with a space.
		if s[2] == ' ' {
			t.Fatalf("valid group %q ends with a space", s)
		}
	}
	if accepted != 1<<16 {
		t.Errorf("%d groups accepted, want 65536", accepted)
	}

	accepted = 0
	for n := range 45 * 45 {
		s := string([]byte{alphabet[n%45], alphabet[n/45]})
		got, err := DecodeString(s)
		if n > 0xff {
			if err == nil || !errors.Is(err, ErrInvalid) || got != nil {
				t.Fatalf("DecodeString(%q) (value %d) = %x, %v; want ErrInvalid", s, n, got, err)
			}
			checkRejected(t, s)
			continue
		}
		accepted++
		if err != nil || len(got) != 1 || int(got[0]) != n {
			t.Fatalf("DecodeString(%q) = %x, %v; want %02x", s, got, err, n)
		}
	}
	if accepted != 1<<8 {
		t.Errorf("%d final pairs accepted, want 256", accepted)
	}
}

func TestLengths(t *testing.T) {
	for n := range 100 {
		e := EncodedLen(n)
		if want := len(refEncode(make([]byte, n))); e != want {
			t.Errorf("EncodedLen(%d) = %d, want %d", n, e, want)
		}
		d, err := DecodedLen(e)
		if err != nil || d != n {
			t.Errorf("DecodedLen(%d) = %d, %v; want %d", e, d, err, n)
		}
		if d, err := DecodedLen(3*n + 1); err == nil || !errors.Is(err, ErrInvalid) {
			t.Errorf("DecodedLen(%d) = %d, %v; want ErrInvalid", 3*n+1, d, err)
		}
	}
	for _, f := range []func(){
		func() { EncodedLen(-1) },
		func() { EncodedLen(int(^uint(0) >> 1)) },
		func() { DecodedLen(-1) },
	} {
		if !panics(f) {
			t.Error("length function did not panic on an impossible length")
		}
	}
}

func panics(f func()) (panicked bool) {
	defer func() { panicked = recover() != nil }()
	f()
	return false
}

func TestShortBuffers(t *testing.T) {
	if !panics(func() { Encode(make([]byte, 2), []byte("AB")) }) {
		t.Error("Encode did not panic on a short dst")
	}
	// Decode writes as it checks, so it panics on a short dst whether or
	// not src is valid, and before it writes anything.
	for _, s := range []string{"BB8", "GGW", "BB8BB8GGW", "BB8::", "BB8b00", "BB8U5"} {
		n, _ := DecodedLen(len(s))
		dst := bytes.Repeat([]byte{0xaa}, n-1)
		if !panics(func() { Decode(dst, []byte(s)) }) {
			t.Errorf("Decode(%q) did not panic on a dst of length %d", s, len(dst))
		}
		if !panics(func() { DecodeStringInto(dst, s) }) {
			t.Errorf("DecodeStringInto(%q) did not panic on a dst of length %d", s, len(dst))
		}
		if !bytes.Equal(dst, bytes.Repeat([]byte{0xaa}, n-1)) {
			t.Errorf("decoding %q wrote %x to a short dst before panicking", s, dst)
		}
	}
	// A wrong length is an error, whatever the size of dst.
	for _, s := range []string{"B", "BB8B", "GGWB"} {
		if n, err := Decode(nil, []byte(s)); n != 0 || !errors.Is(err, ErrInvalid) {
			t.Errorf("Decode(nil, %q) = %d, %v; want ErrInvalid", s, n, err)
		}
		if n, err := DecodeStringInto(nil, s); n != 0 || !errors.Is(err, ErrInvalid) {
			t.Errorf("DecodeStringInto(nil, %q) = %d, %v; want ErrInvalid", s, n, err)
		}
	}
}

// invalid holds one generator per way an encoding can be invalid. Each
// returns strings that must be rejected.
var invalid = map[string]func() []string{
	"RFC 9285 6 group over 65535": func() []string {
		return []string{"GGW", "BB8GGW", "GGWBB8", "GGW00"}
	},
	"group over 65535": func() []string {
		return []string{":::", "000:::", "::::::", "ZZZ", "0:W", "HGW"}
	},
	"final pair over 255": func() []string {
		return []string{"::", "V5", "BB8V5", "BB8::", "06"}
	},
	"length 1 mod 3": func() []string {
		return []string{"0", "B", ":", "BB8B", "BB8BB8B", "%69 VD92EX0QQ", "QED8WEX"}
	},
	"lowercase": func() []string {
		return []string{"bb8", "Bb8", "%69 vd92ex0", "qed8wex0", "ujclqe7w581", "ab"}
	},
	"character outside the alphabet": func() []string {
		var out []string
		for b := range 256 {
			if strings.IndexByte(alphabet, byte(b)) < 0 {
				out = append(out, string([]byte{byte(b), '0', '0'}), string([]byte{'0', byte(b), 'B', 'B', '8'}))
			}
		}
		return append(out, "BB#", "#00", "QED8WEX0\n", "\x00\x00", "BB8\x00\x00\x00", "BB8=0", "\xc3\x84B")
	},
	"whitespace other than space": func() []string {
		return []string{"BB8\n0", "\tBB", "BB\r", "BB8\n00", "BB8 \n"}
	},
}

// checkRejected checks that every decoder rejects s with the error refError
// gives, which wraps ErrInvalid, returns nothing, and leaves no decoded byte
// behind: the part of dst it may write (its first DecodedLen(len(s)) bytes,
// none for a wrong length) is zero and the rest as it was. It also decodes s
// in place, where the error must be the same although the decoder has
// overwritten the start of src by the time it reports it.
func checkRejected(t *testing.T, s string) {
	t.Helper()
	want := refError(s)
	if !strings.Contains(want, "offset") && !strings.Contains(want, "length") {
		t.Fatalf("refError(%q) = %q does not say where the fault is", s, want)
	}
	// written is how many bytes of dst a decoder may write before it finds
	// that s is invalid.
	written := 0
	if len(s)%3 != 1 {
		written, _ = DecodedLen(len(s))
	}
	// after returns what a buffer of k bytes of 0xaa must hold after a
	// decoder has written and cleared its first written bytes.
	after := func(k int) []byte {
		b := bytes.Repeat([]byte{0xaa}, k)
		clear(b[:written])
		return b
	}
	checkErr := func(name string, err error) {
		t.Helper()
		if !errors.Is(err, ErrInvalid) || err.Error() != want {
			t.Errorf("%s(%q) error = %v, want %q wrapping ErrInvalid", name, s, err, want)
		}
	}

	got, err := DecodeString(s)
	if got != nil {
		t.Errorf("DecodeString(%q) = %x, want nil", s, got)
	}
	checkErr("DecodeString", err)

	src := []byte(s)
	dst := bytes.Repeat([]byte{0xaa}, len(s)+1)
	n, err := Decode(dst, src)
	if n != 0 {
		t.Errorf("Decode(%q) = %d, want 0", s, n)
	}
	checkErr("Decode", err)
	if !bytes.Equal(dst, after(len(s)+1)) {
		t.Errorf("Decode(%q) left %x in dst", s, dst)
	}

	dst = bytes.Repeat([]byte{0xaa}, len(s)+1)
	n, err = DecodeStringInto(dst, s)
	if n != 0 {
		t.Errorf("DecodeStringInto(%q) = %d, want 0", s, n)
	}
	checkErr("DecodeStringInto", err)
	if !bytes.Equal(dst, after(len(s)+1)) {
		t.Errorf("DecodeStringInto(%q) left %x in dst", s, dst)
	}

	buf := bytes.Repeat([]byte{0xaa}, 4+len(s))
	app, err := AppendDecode(buf[:4], src)
	if len(app) != 4 || cap(app) != len(buf) || &app[0] != &buf[0] {
		t.Errorf("AppendDecode(%q) = %x (cap %d), want the unchanged dst", s, app, cap(app))
	}
	checkErr("AppendDecode", err)
	if !bytes.Equal(buf[4:], after(len(s))) {
		t.Errorf("AppendDecode(%q) left %x in dst's spare capacity", s, buf[4:])
	}
	// With no spare capacity, AppendDecode decodes into a new array and
	// must still return dst itself.
	app, err = AppendDecode(buf[:4:4], src)
	if len(app) != 4 || cap(app) != 4 || &app[0] != &buf[0] {
		t.Errorf("AppendDecode(%q) without spare capacity = %x (cap %d), want the unchanged dst", s, app, cap(app))
	}
	checkErr("AppendDecode", err)

	if string(src) != s {
		t.Errorf("decoding %q modified src", s)
	}

	inPlace := []byte(s)
	n, err = Decode(inPlace, inPlace)
	if n != 0 {
		t.Errorf("in-place Decode(%q) = %d, want 0", s, n)
	}
	checkErr("in-place Decode", err)
	if wantBuf := append(make([]byte, written), s[written:]...); !bytes.Equal(inPlace, wantBuf) {
		t.Errorf("in-place Decode(%q) left %q, want %q", s, inPlace, wantBuf)
	}

	inPlace = []byte(s)
	app, err = AppendDecode(inPlace[:0], inPlace)
	if len(app) != 0 {
		t.Errorf("in-place AppendDecode(%q) = %x, want nothing appended", s, app)
	}
	checkErr("in-place AppendDecode", err)
	if wantBuf := append(make([]byte, written), s[written:]...); !bytes.Equal(inPlace, wantBuf) {
		t.Errorf("in-place AppendDecode(%q) left %q, want %q", s, inPlace, wantBuf)
	}
}

func TestInvalidEncodings(t *testing.T) {
	for name, gen := range invalid {
		t.Run(name, func(t *testing.T) {
			for _, s := range gen() {
				if _, ok := refDecode(s); ok {
					t.Fatalf("generator gave %q, which is valid", s)
				}
				checkRejected(t, s)
			}
		})
	}
}

// TestErrorText checks that each error names the length or the offset of
// the first faulty group, and quotes none of the input.
func TestErrorText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"BB8B", "length 4 is one more than a multiple of 3"},
		{"b", "length 1 is one more than a multiple of 3"},
		{"BB8b00", "group at offset 3"},
		{"BB8:::", "group at offset 3"},
		{"GGW", "group at offset 0"},
		{"BB8BB8GGW", "group at offset 6"},
		{"BB8::", "final pair at offset 3"},
		{"BB8V5", "final pair at offset 3"},
		{"V5", "final pair at offset 0"},
		{"BB8BB8b5", "final pair at offset 6"},
		{"FGWHGW", "group at offset 3"},
		{"GG#", "group at offset 0"},
		// With more than one fault, the first faulty group is reported,
		// whatever its fault and the later ones' are.
		{"GGWb00", "group at offset 0"},
		{"b00GGW", "group at offset 0"},
		{"BB8GGW::", "group at offset 3"},
		{"BB8#00GGW", "group at offset 3"},
		{"BB8BB8##", "final pair at offset 6"},
		{"bb8bb8bb8", "group at offset 0"},
	} {
		if want := refError(tc.in); want != tc.want {
			t.Fatalf("refError(%q) = %q, want %q", tc.in, want, tc.want)
		}
		_, err := DecodeString(tc.in)
		if err == nil || err.Error() != tc.want {
			t.Errorf("DecodeString(%q) error = %v, want %q", tc.in, err, tc.want)
		}
		checkRejected(t, tc.in)
	}
}

// TestCorruptedCharacter replaces each character of a valid encoding with
// each byte outside the alphabet, and checks that the error gives the offset
// of that character's group.
func TestCorruptedCharacter(t *testing.T) {
	src := randomBytes(1, 37)
	enc := []byte(EncodeToString(src))
	for i := range enc {
		for b := range 256 {
			if strings.IndexByte(alphabet, byte(b)) >= 0 {
				continue
			}
			bad := bytes.Clone(enc)
			bad[i] = byte(b)
			want := fmt.Sprintf("group at offset %d", i/3*3)
			if i/3*3+2 == len(enc) {
				want = fmt.Sprintf("final pair at offset %d", i/3*3)
			}
			_, err := DecodeString(string(bad))
			if !errors.Is(err, ErrInvalid) || err.Error() != want {
				t.Fatalf("byte %#x at offset %d: error %v, want %q", b, i, err, want)
			}
			checkRejected(t, string(bad))
		}
	}
}

// nonAlphabet holds every byte that is not in the alphabet.
var nonAlphabet = func() []byte {
	var out []byte
	for b := range 256 {
		if strings.IndexByte(alphabet, byte(b)) < 0 {
			out = append(out, byte(b))
		}
	}
	return out
}()

// TestFirstFault puts two faults into valid encodings, mostly in two
// different groups and sometimes in the same one, and checks that every
// decoder reports the offset of the first faulty group, although it has
// read and converted the rest of the input by then.
func TestFirstFault(t *testing.T) {
	seed := newSeed(5)
	rng := rand.New(seed)
	// fault makes the group of enc at offset i faulty: either a byte
	// outside the alphabet replaces one of its characters, or it is
	// replaced by alphabet characters whose value is too large.
	fault := func(enc []byte, i int) {
		g := enc[i:min(i+3, len(enc))]
		if rng.IntN(2) == 0 {
			g[rng.IntN(len(g))] = nonAlphabet[rng.IntN(len(nonAlphabet))]
			return
		}
		var v int
		if len(g) == 3 {
			v = 1<<16 + rng.IntN(45*45*45-1<<16)
		} else {
			v = 1<<8 + rng.IntN(45*45-1<<8)
		}
		for k := range g {
			g[k] = alphabet[v%45]
			v /= 45
		}
	}
	var distinct, pairFirst, pairSecond int
	for range 3000 {
		src := make([]byte, 1+rng.IntN(120))
		seed.Read(src)
		enc := []byte(EncodeToString(src))
		groups := (len(enc) + 2) / 3
		p, q := rng.IntN(groups), rng.IntN(groups)
		if groups > 1 && rng.IntN(8) != 0 {
			for p == q {
				q = rng.IntN(groups)
			}
		}
		p, q = min(p, q), max(p, q)
		fault(enc, 3*p)
		fault(enc, 3*q)

		want := fmt.Sprintf("group at offset %d", 3*p)
		if 3*p+2 == len(enc) {
			want = fmt.Sprintf("final pair at offset %d", 3*p)
			pairFirst++
		} else if 3*q+2 == len(enc) {
			pairSecond++
		}
		if p != q {
			distinct++
		}
		if got := refError(string(enc)); got != want {
			t.Fatalf("refError(%q) = %q, want %q", enc, got, want)
		}
		checkRejected(t, string(enc))
	}
	// The sample must cover what it is meant to.
	if distinct < 2000 || pairFirst < 10 || pairSecond < 100 {
		t.Errorf("sample has %d inputs with faults in two groups, %d with the final pair first and %d with it second",
			distinct, pairFirst, pairSecond)
	}
}

// checkAgree checks that DecodeStringInto(dst, s) does exactly what
// Decode(dst, []byte(s)) does: the same count, the same error and the same
// bytes left in dst, including the bytes beyond those it may write.
func checkAgree(t *testing.T, s string) {
	t.Helper()
	k, _ := DecodedLen(len(s))
	a := bytes.Repeat([]byte{0xaa}, k+3)
	b := bytes.Repeat([]byte{0xaa}, k+3)
	na, errA := Decode(a, []byte(s))
	nb, errB := DecodeStringInto(b, s)
	if na != nb || fmt.Sprint(errA) != fmt.Sprint(errB) || errors.Is(errA, ErrInvalid) != errors.Is(errB, ErrInvalid) || !bytes.Equal(a, b) {
		t.Errorf("DecodeStringInto(%q) = %d, %v, dst %x; Decode = %d, %v, dst %x", s, nb, errB, b, na, errA, a)
	}
}

// TestDecodeStringInto checks DecodeStringInto against Decode on the inputs
// of the other tests: the vectors, the invalid inputs, every group of three
// and every pair of alphabet characters, and random encodings with their
// truncations, extensions and corruptions.
func TestDecodeStringInto(t *testing.T) {
	var cases []string
	for _, v := range vectors {
		cases = append(cases, v.encoded)
	}
	for _, gen := range invalid {
		cases = append(cases, gen()...)
	}
	for n := range 45 * 45 * 45 {
		cases = append(cases, string([]byte{alphabet[n%45], alphabet[n/45%45], alphabet[n/(45*45)]}))
	}
	for n := range 45 * 45 {
		cases = append(cases, string([]byte{alphabet[n%45], alphabet[n/45]}))
	}
	for n := range 120 {
		enc := EncodeToString(randomBytes(uint64(300+n), n))
		cases = append(cases, enc, enc+"0", enc[:len(enc)/2], enc+"GGW", enc+"::")
		if n > 0 {
			bad := []byte(enc)
			bad[n%len(bad)] = 'a'
			cases = append(cases, string(bad))
		}
	}
	for _, s := range cases {
		checkAgree(t, s)
	}
}

// TestBadLengths decodes every truncation of a valid encoding and every
// extension by one alphabet character.
func TestBadLengths(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 112} {
		src := randomBytes(uint64(100+n), n)
		enc := EncodeToString(src)
		var cases []string
		for i := range len(enc) {
			cases = append(cases, enc[:i])
		}
		for i := range len(alphabet) {
			cases = append(cases, enc+alphabet[i:i+1])
		}
		for _, s := range cases {
			want, ok := refDecode(s)
			if len(s)%3 == 1 && ok {
				t.Fatalf("reference decoder accepted %q", s)
			}
			if !ok {
				checkRejected(t, s)
				continue
			}
			got, err := DecodeString(s)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("DecodeString(%q) = %x, %v; want %x", s, got, err, want)
			}
			if re := EncodeToString(got); re != s {
				t.Errorf("EncodeToString(DecodeString(%q)) = %q", s, re)
			}
		}
	}
}

func TestRoundTrip(t *testing.T) {
	seed := newSeed(4)
	rng := rand.New(seed)
	for range 2000 {
		src := make([]byte, rng.IntN(320))
		seed.Read(src)
		enc := EncodeToString(src)
		if want := refEncode(src); enc != want {
			t.Fatalf("EncodeToString(%x) = %q, want %q", src, enc, want)
		}
		if len(enc) != EncodedLen(len(src)) {
			t.Fatalf("encoding of %d bytes has length %d", len(src), len(enc))
		}
		prefix := []byte("HT1:")
		if got := AppendEncode(prefix, src); string(got) != "HT1:"+enc {
			t.Fatalf("AppendEncode(%x) = %q", src, got)
		}
		dec, err := DecodeString(enc)
		if err != nil || !bytes.Equal(dec, src) {
			t.Fatalf("DecodeString(%q) = %x, %v; want %x", enc, dec, err, src)
		}
		dst := make([]byte, len(src))
		if n, err := Decode(dst, []byte(enc)); err != nil || n != len(src) || !bytes.Equal(dst, src) {
			t.Fatalf("Decode(%q) = %d, %v", enc, n, err)
		}
		app, err := AppendDecode(prefix, []byte(enc))
		if err != nil || string(app) != "HT1:"+string(src) {
			t.Fatalf("AppendDecode(%q) = %x, %v", enc, app, err)
		}
	}
}

// TestInPlace encodes and decodes with dst starting at the same address as
// src, as Encode and Decode document.
func TestInPlace(t *testing.T) {
	for n := range 80 {
		src := randomBytes(uint64(200+n), n)
		want := EncodeToString(src)

		buf := make([]byte, n, EncodedLen(n))
		copy(buf, src)
		enc := AppendEncode(buf[:0], buf)
		if string(enc) != want || (n > 0 && &enc[0] != &buf[0]) {
			t.Fatalf("in-place AppendEncode of %x = %q, want %q", src, enc, want)
		}

		buf = []byte(want)
		dec, err := AppendDecode(buf[:0], buf)
		if err != nil || !bytes.Equal(dec, src) || (n > 0 && &dec[0] != &buf[0]) {
			t.Fatalf("in-place AppendDecode of %q = %x, %v; want %x", want, dec, err, src)
		}

		buf = []byte(want)
		if k, err := Decode(buf, buf); err != nil || !bytes.Equal(buf[:k], src) {
			t.Fatalf("in-place Decode of %q = %x, %v; want %x", want, buf[:k], err, src)
		}
	}
	// A failed in-place decode has already written over the start of src
	// when it finds the fault; it leaves zeros there, and the rest of src
	// as it was, and still reports the fault's offset.
	const want = "\x00\x00\x00\x00\x00\x00GGW"
	buf := []byte("BB8BB8GGW")
	if _, err := AppendDecode(buf[:0], buf); !errors.Is(err, ErrInvalid) || err.Error() != "group at offset 6" || string(buf) != want {
		t.Errorf("failed in-place AppendDecode: %v, buffer %q; want %q", err, buf, want)
	}
	buf = []byte("BB8BB8GGW")
	if n, err := Decode(buf, buf); n != 0 || !errors.Is(err, ErrInvalid) || err.Error() != "group at offset 6" || string(buf) != want {
		t.Errorf("failed in-place Decode: %d, %v, buffer %q; want %q", n, err, buf, want)
	}
}

func TestAllocs(t *testing.T) {
	src := randomBytes(8, 112)
	enc := EncodeToString(src)
	encBytes := []byte(enc)
	encDst := make([]byte, 0, len(enc))
	decDst := make([]byte, 0, len(src))
	for _, tc := range []struct {
		name string
		want float64
		f    func()
	}{
		{"Encode", 0, func() { Encode(encDst[:len(enc)], src) }},
		{"AppendEncode", 0, func() { AppendEncode(encDst, src) }},
		{"EncodeToString", 1, func() { EncodeToString(src) }},
		{"Decode", 0, func() { Decode(decDst[:len(src)], encBytes) }},
		{"DecodeStringInto", 0, func() { DecodeStringInto(decDst[:len(src)], enc) }},
		{"AppendDecode", 0, func() { AppendDecode(decDst, encBytes) }},
		{"DecodeString", 1, func() { DecodeString(enc) }},
		{"EncodeToString empty", 0, func() { EncodeToString(nil) }},
	} {
		if got := testing.AllocsPerRun(100, tc.f); got != tc.want {
			t.Errorf("%s: %v allocations, want %v", tc.name, got, tc.want)
		}
	}
}

// FuzzDecode checks that every string is either decoded to bytes whose
// encoding is that string again, or rejected by every decoder with nothing
// written; and that the decoders agree with the reference decoder.
func FuzzDecode(f *testing.F) {
	for _, v := range vectors {
		f.Add(v.encoded)
	}
	for _, gen := range invalid {
		for _, s := range gen() {
			f.Add(s)
		}
	}
	f.Add("BB8GGW::")
	f.Add("BB8BB8##")
	// Encodings that take more than one chunk, with and without a fault
	// beyond the first.
	long := EncodeToString(randomBytes(12, decodeChunk/3*2+21))
	f.Add(long)
	f.Add(long[:decodeChunk+3] + "GGW" + long[decodeChunk+6:])
	f.Fuzz(func(t *testing.T, s string) {
		checkAgree(t, s)
		want, ok := refDecode(s)
		got, err := DecodeString(s)
		if !ok {
			checkRejected(t, s)
			return
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("DecodeString(%q) = %x, %v; want %x", s, got, err, want)
		}
		if re := EncodeToString(got); re != s {
			t.Fatalf("EncodeToString(DecodeString(%q)) = %q", s, re)
		}
		app, err := AppendDecode([]byte{0}, []byte(s))
		if err != nil || !bytes.Equal(app[1:], want) {
			t.Fatalf("AppendDecode(%q) = %x, %v; want %x", s, app, err, want)
		}
		buf := []byte(s)
		if n, err := Decode(buf, buf); err != nil || !bytes.Equal(buf[:n], want) {
			t.Fatalf("in-place Decode(%q) = %x, %v; want %x", s, buf[:n], err, want)
		}
	})
}

// FuzzEncode checks that every byte string is encoded as the reference
// encoder does, and decodes back to itself.
func FuzzEncode(f *testing.F) {
	for _, v := range vectors {
		f.Add([]byte(v.decoded))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		enc := EncodeToString(src)
		if want := refEncode(src); enc != want {
			t.Fatalf("EncodeToString(%x) = %q, want %q", src, enc, want)
		}
		dec, err := DecodeString(enc)
		if err != nil || !bytes.Equal(dec, src) {
			t.Fatalf("DecodeString(%q) = %x, %v; want %x", enc, dec, err, src)
		}
	})
}

// benchSize is the length of an Ed25519 token. Its Base45 encoding is 167
// characters, which with the 4 of the "HT1:" prefix make the 171 of its
// text form.
const benchSize = 111

var (
	sinkBytes []byte
	sinkInt   int
	sinkErr   error
)

func benchInput(b *testing.B) ([]byte, []byte) {
	src := randomBytes(10, benchSize)
	b.SetBytes(benchSize)
	b.ReportAllocs()
	return src, []byte(EncodeToString(src))
}

func BenchmarkEncode(b *testing.B) {
	src, enc := benchInput(b)
	dst := make([]byte, len(enc))
	b.ResetTimer()
	for range b.N {
		Encode(dst, src)
	}
	sinkBytes = dst
}

func BenchmarkDecode(b *testing.B) {
	src, enc := benchInput(b)
	dst := make([]byte, len(src))
	b.ResetTimer()
	for range b.N {
		sinkInt, sinkErr = Decode(dst, enc)
	}
	sinkBytes = dst
}

func BenchmarkDecodeStringInto(b *testing.B) {
	src, enc := benchInput(b)
	s := string(enc)
	dst := make([]byte, len(src))
	b.ResetTimer()
	for range b.N {
		sinkInt, sinkErr = DecodeStringInto(dst, s)
	}
	sinkBytes = dst
}

// BenchmarkDecodeScalarBaseline is a baseline for BenchmarkDecode: the
// package's earlier one-pass decoder, which converted one character at a
// time with decodeDigit.
func BenchmarkDecodeScalarBaseline(b *testing.B) {
	src, enc := benchInput(b)
	dst := make([]byte, len(src))
	if n, err := scalarDecode(dst, enc); err != nil || !bytes.Equal(dst[:n], src) {
		b.Fatalf("scalarDecode = %x, %v; want %x", dst[:n], err, src)
	}
	b.ResetTimer()
	for range b.N {
		sinkInt, sinkErr = scalarDecode(dst, enc)
	}
	sinkBytes = dst
}

// BenchmarkDecodeStringIntoScalarBaseline is
// BenchmarkDecodeScalarBaseline for a string.
func BenchmarkDecodeStringIntoScalarBaseline(b *testing.B) {
	src, enc := benchInput(b)
	s := string(enc)
	dst := make([]byte, len(src))
	b.ResetTimer()
	for range b.N {
		sinkInt, sinkErr = scalarDecode(dst, s)
	}
	sinkBytes = dst
}

// BenchmarkDecodeLong decodes the longest text the package's callers
// decode, 455 characters, which takes more than one chunk.
func BenchmarkDecodeLong(b *testing.B) {
	src := randomBytes(11, 303)
	enc := EncodeToString(src)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	dst := make([]byte, len(src))
	b.ResetTimer()
	for range b.N {
		sinkInt, sinkErr = DecodeStringInto(dst, enc)
	}
	sinkBytes = dst
}

// BenchmarkDecodeLongScalarBaseline is BenchmarkDecodeLong with
// scalarDecode.
func BenchmarkDecodeLongScalarBaseline(b *testing.B) {
	src := randomBytes(11, 303)
	enc := EncodeToString(src)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	dst := make([]byte, len(src))
	b.ResetTimer()
	for range b.N {
		sinkInt, sinkErr = scalarDecode(dst, enc)
	}
	sinkBytes = dst
}

// scalarDecode is the package's one-pass decoder as it was before it
// converted eight characters at a time, kept here as the baseline of the
// ScalarBaseline benchmarks and checked against decode by TestScalarDecode.
func scalarDecode[S string | []byte](dst []byte, src S) (int, error) {
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
			return 0, invalidEncoding(fmt.Sprintf("final pair at offset %d", first))
		}
		return 0, invalidEncoding(fmt.Sprintf("group at offset %d", first))
	}
	return n, nil
}

// TestScalarDecode checks that decode does what the earlier scalarDecode
// did, byte for byte and error for error, on random encodings of every
// length up to two chunks and more, valid and with random faults, so that
// the baseline measures the same work.
func TestScalarDecode(t *testing.T) {
	rng := rand.New(newSeed(7))
	for n := range 2*decodeChunk/3*2 + 40 {
		enc := []byte(EncodeToString(randomBytes(uint64(500+n), n)))
		for trial := range 8 {
			s := bytes.Clone(enc)
			for range trial {
				if len(s) > 0 {
					s[rng.IntN(len(s))] = byte(rng.IntN(256))
				}
			}
			k, _ := DecodedLen(len(s))
			a := bytes.Repeat([]byte{0xaa}, k+3)
			b := bytes.Repeat([]byte{0xaa}, k+3)
			na, errA := decode(a, s)
			nb, errB := scalarDecode(b, s)
			if na != nb || fmt.Sprint(errA) != fmt.Sprint(errB) || !bytes.Equal(a, b) {
				t.Fatalf("decode(%q) = %d, %v, dst %x; scalarDecode = %d, %v, dst %x", s, na, errA, a, nb, errB, b)
			}
		}
	}
}

// BenchmarkDecodeTwoPassBaseline is a baseline for BenchmarkDecode: the
// package's earlier decoder, which read all of src to check it and then
// read it again to convert it.
func BenchmarkDecodeTwoPassBaseline(b *testing.B) {
	src, enc := benchInput(b)
	dst := make([]byte, len(src))
	if n, err := twoPassDecode(dst, enc); err != nil || !bytes.Equal(dst[:n], src) {
		b.Fatalf("twoPassDecode = %x, %v; want %x", dst[:n], err, src)
	}
	b.ResetTimer()
	for range b.N {
		sinkInt, sinkErr = twoPassDecode(dst, enc)
	}
	sinkBytes = dst
}

// twoPassDecode is the package's decoder as it was before Decode became a
// single pass, kept here only as the baseline of
// BenchmarkDecodeTwoPassBaseline. The error it returns for invalid input
// names no offset, since the benchmark decodes only valid input.
func twoPassDecode(dst, src []byte) (int, error) {
	n, err := DecodedLen(len(src))
	if err != nil {
		return 0, err
	}
	if !twoPassValid(src) {
		return 0, ErrInvalid
	}
	if len(dst) < n {
		panic("base45: output buffer too small")
	}
	twoPassConvert(dst[:n], src)
	return n, nil
}

// twoPassValid is the first pass of twoPassDecode: it reports whether src,
// whose length is not one more than a multiple of three, is valid.
func twoPassValid[S string | []byte](src S) bool {
	var bad int32
	i := 0
	for ; i+3 <= len(src); i += 3 {
		c, okc := decodeDigit(src[i])
		d, okd := decodeDigit(src[i+1])
		e, oke := decodeDigit(src[i+2])
		bad |= ^(okc & okd & oke) | geMask(c+d*45+e*45*45, 1<<16)
	}
	if i < len(src) {
		c, okc := decodeDigit(src[i])
		d, okd := decodeDigit(src[i+1])
		bad |= ^(okc & okd) | geMask(c+d*45, 1<<8)
	}
	return bad == 0
}

// twoPassConvert is the second pass of twoPassDecode: it writes the bytes
// encoded by src, which twoPassValid has accepted, to dst.
func twoPassConvert[S string | []byte](dst []byte, src S) {
	i, j := 0, 0
	for ; i+3 <= len(src); i, j = i+3, j+2 {
		c, _ := decodeDigit(src[i])
		d, _ := decodeDigit(src[i+1])
		e, _ := decodeDigit(src[i+2])
		v := c + d*45 + e*45*45
		_ = dst[j+1]
		dst[j] = byte(v >> 8)
		dst[j+1] = byte(v)
	}
	if i < len(src) {
		c, _ := decodeDigit(src[i])
		d, _ := decodeDigit(src[i+1])
		dst[j] = byte(c + d*45)
	}
}

// BenchmarkBase64Encode is a baseline for BenchmarkEncode: the standard
// library's base64url encoder on the same input.
func BenchmarkBase64Encode(b *testing.B) {
	src, _ := benchInput(b)
	dst := make([]byte, base64.RawURLEncoding.EncodedLen(len(src)))
	b.ResetTimer()
	for range b.N {
		base64.RawURLEncoding.Encode(dst, src)
	}
	sinkBytes = dst
}

// BenchmarkBase64Decode is a baseline for BenchmarkDecode.
func BenchmarkBase64Decode(b *testing.B) {
	src, _ := benchInput(b)
	enc := []byte(base64.RawURLEncoding.EncodeToString(src))
	dst := make([]byte, len(src))
	b.ResetTimer()
	for range b.N {
		sinkInt, sinkErr = base64.RawURLEncoding.Decode(dst, enc)
	}
	sinkBytes = dst
}
