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
	if !panics(func() { Decode(make([]byte, 1), []byte("BB8")) }) {
		t.Error("Decode did not panic on a short dst")
	}
	// Invalid input is an error, whatever the size of dst.
	if n, err := Decode(nil, []byte("GGW")); n != 0 || !errors.Is(err, ErrInvalid) {
		t.Errorf("Decode(nil, GGW) = %d, %v; want ErrInvalid", n, err)
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

// checkRejected checks that every decoder rejects s, with an error wrapping
// ErrInvalid, and writes and returns nothing.
func checkRejected(t *testing.T, s string) {
	t.Helper()
	if got, err := DecodeString(s); got != nil || !errors.Is(err, ErrInvalid) {
		t.Errorf("DecodeString(%q) = %x, %v; want nil, ErrInvalid", s, got, err)
	} else if !strings.Contains(err.Error(), "offset") && !strings.Contains(err.Error(), "length") {
		t.Errorf("DecodeString(%q) error %q does not say where the fault is", s, err)
	}
	src := []byte(s)
	dst := bytes.Repeat([]byte{0xaa}, len(s))
	if n, err := Decode(dst, src); n != 0 || !errors.Is(err, ErrInvalid) {
		t.Errorf("Decode(%q) = %d, %v; want 0, ErrInvalid", s, n, err)
	}
	if !bytes.Equal(dst, bytes.Repeat([]byte{0xaa}, len(s))) {
		t.Errorf("Decode(%q) wrote %x to dst", s, dst)
	}
	buf := bytes.Repeat([]byte{0xaa}, 4+len(s))
	got, err := AppendDecode(buf[:4], src)
	if !errors.Is(err, ErrInvalid) || len(got) != 4 || &got[0] != &buf[0] {
		t.Errorf("AppendDecode(%q) = %x, %v; want the unchanged dst and ErrInvalid", s, got, err)
	}
	if !bytes.Equal(buf, bytes.Repeat([]byte{0xaa}, 4+len(s))) {
		t.Errorf("AppendDecode(%q) wrote %x to dst's spare capacity", s, buf[4:])
	}
	if string(src) != s {
		t.Errorf("decoding %q modified src", s)
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

// TestErrorText checks that each error names the fault and its offset, and
// quotes none of the input.
func TestErrorText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"BB8B", "base45: invalid encoding: length 4 is one more than a multiple of 3"},
		{"BB8b00", "base45: invalid encoding: character at offset 3 is not in the alphabet"},
		{"BB8:::", "base45: invalid encoding: group at offset 3 has value above 65535"},
		{"GGW", "base45: invalid encoding: group at offset 0 has value above 65535"},
		{"BB8::", "base45: invalid encoding: final pair at offset 3 has value above 255"},
		{"BB8V5", "base45: invalid encoding: final pair at offset 3 has value above 255"},
		{"FGWHGW", "base45: invalid encoding: group at offset 3 has value above 65535"},
		// The first fault is reported; a bad character in a group comes
		// before the group's value.
		{"GGWb00", "base45: invalid encoding: group at offset 0 has value above 65535"},
		{"GG#", "base45: invalid encoding: character at offset 2 is not in the alphabet"},
	} {
		_, err := DecodeString(tc.in)
		if err == nil || err.Error() != tc.want {
			t.Errorf("DecodeString(%q) error = %v, want %q", tc.in, err, tc.want)
		}
	}
}

// TestCorruptedCharacter replaces each character of a valid encoding with
// each byte outside the alphabet, and checks that the error gives that
// character's offset.
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
			_, err := DecodeString(string(bad))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), fmt.Sprintf("character at offset %d ", i)) {
				t.Fatalf("byte %#x at offset %d: error %v", b, i, err)
			}
			checkRejected(t, string(bad))
		}
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
	// A failed in-place decode leaves src as it was.
	buf := []byte("BB8BB8GGW")
	if _, err := AppendDecode(buf[:0], buf); !errors.Is(err, ErrInvalid) || string(buf) != "BB8BB8GGW" {
		t.Errorf("failed in-place AppendDecode: %v, buffer %q", err, buf)
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
	f.Fuzz(func(t *testing.T, s string) {
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

// benchSize is the length of an Ed25519 token rounded up to an even number
// of bytes.
const benchSize = 112

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
