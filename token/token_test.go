package token

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/statustoken/statustoken/internal/format"
)

// sample returns a token with the given suite and deterministic contents.
// Its signature is well formed but signs nothing.
func sample(suite Suite) *Token {
	t := &Token{Suite: suite, Status: 2, Expiry: 1764201600}
	for i := range t.KeyID {
		t.KeyID[i] = byte(0xa0 + i)
	}
	for i := range t.Nonce {
		t.Nonce[i] = byte(i)
	}
	t.Signature = make([]byte, suite.SignatureSize())
	for i := range t.Signature {
		t.Signature[i] = byte(3 * i)
	}
	if suite == Ed25519 {
		t.Signature[63] = 0x0f // S < L
	}
	return t
}

// message returns the bytes a token's signature covers, built from t's
// fields without checking them (what Token.Message returned before API
// 1.0): the label and every field but the signature.
func message(t *Token) []byte {
	header := format.AppendHeader(nil, byte(t.Suite), byte(t.Status), t.Expiry,
		(*[format.KeyIDSize]byte)(&t.KeyID), (*[NonceSize]byte)(&t.Nonce))
	return format.AppendMessage(make([]byte, 0, format.MessageSize), header)
}

// messageOf parses the binary token raw as the verifiers do, without
// allocating the token (what MessageOf did before API 1.0): the returned
// token's Signature aliases raw, and the signed message is appended to
// buf[:0].
func messageOf(buf, raw []byte) ([]byte, format.Token, error) {
	ft, err := format.ParseToken(raw)
	if err != nil {
		return nil, format.Token{}, err
	}
	return format.AppendMessage(buf[:0], raw), ft, nil
}

// sameToken reports whether a and b hold the same fields.
func sameToken(a, b *Token) bool { return reflect.DeepEqual(a, b) }

func TestSizes(t *testing.T) {
	if got := Ed25519.Size(); got != 111 {
		t.Errorf("ed25519 token is %d bytes, want 111", got)
	}
	if got := RSABSSA.Size(); got != 303 {
		t.Errorf("rsabssa token is %d bytes, want 303", got)
	}
	if Ed25519.Size() > 112 {
		t.Errorf("ed25519 token exceeds 112 bytes")
	}
	// ISO/IEC 18004, table 7: a version-7 symbol at level M holds 195
	// alphanumeric characters.
	const qrV7MAlphanumeric = 195
	text, err := sample(Ed25519).MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	if len(text) > qrV7MAlphanumeric {
		t.Errorf("text form is %d characters, more than a version-7-M QR code holds", len(text))
	}
	for _, c := range string(text) {
		if !strings.ContainsRune("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:", c) {
			t.Fatalf("text form has %q, outside the QR alphanumeric set", c)
		}
	}
	if MaxTextSize != len(TextPrefix)+455 {
		t.Errorf("MaxTextSize = %d", MaxTextSize)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, s := range []Suite{Ed25519, RSABSSA} {
		tok := sample(s)
		raw, err := tok.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) != s.Size() {
			t.Fatalf("%v: %d bytes", s, len(raw))
		}
		got, err := Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := got.MarshalBinary()
		if !bytes.Equal(raw, again) {
			t.Fatalf("%v: re-encoding differs", s)
		}
		raw[len(raw)-1] ^= 1
		if got.Signature[len(got.Signature)-1] == raw[len(raw)-1] {
			t.Fatalf("%v: parsed token aliases its input", s)
		}
		raw[len(raw)-1] ^= 1

		text, err := tok.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		fromText, err := ParseText(string(text))
		if err != nil {
			t.Fatal(err)
		}
		b64, err := tok.Base64()
		if err != nil {
			t.Fatal(err)
		}
		fromB64, err := ParseBase64(b64)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range []*Token{fromText, fromB64} {
			enc, _ := x.MarshalBinary()
			if !bytes.Equal(enc, raw) {
				t.Fatalf("%v: text round trip differs", s)
			}
		}
		msg, parsed, err := messageOf(make([]byte, 0, format.MessageSize), raw)
		if err != nil || !bytes.Equal(msg, message(tok)) || !bytes.Equal(parsed.Signature, tok.Signature) {
			t.Fatalf("%v: the message of the encoding disagrees with that of the fields (%v)", s, err)
		}
	}
}

// TestMessage pins the signed message of a token (SPEC.md, "Token"): the
// label, then the binary token's first HeaderSize bytes. The message is
// built in internal/format since API 1.0; both ways of building it, from
// the fields and from the encoding, give the same bytes.
func TestMessage(t *testing.T) {
	tok := sample(Ed25519)
	want := "737461747573746f6b656e2f763120746f6b656e" + // "statustoken/v1 token"
		"01" + "01" + "02" + "69279480" + "a0a1a2a3a4a5a6a7" +
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	raw, err := tok.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	fromRaw, _, err := messageOf(nil, raw)
	if err != nil {
		t.Fatal(err)
	}
	for name, msg := range map[string][]byte{"fields": message(tok), "encoding": fromRaw} {
		if hex.EncodeToString(msg) != want {
			t.Fatalf("message from the %s\n got %x\nwant %s", name, msg, want)
		}
		if len(msg) != format.MessageSize {
			t.Fatalf("message from the %s is %d bytes, MessageSize %d", name, len(msg), format.MessageSize)
		}
	}
	// The message is the label and the encoding's header, nothing else.
	if !bytes.Equal(fromRaw, append([]byte("statustoken/v1 token"), raw[:format.HeaderSize]...)) {
		t.Fatal("message is not the label and the header")
	}
}

func TestBadLengths(t *testing.T) {
	for _, s := range []Suite{Ed25519, RSABSSA} {
		raw, _ := sample(s).MarshalBinary()
		for n := 0; n < len(raw); n++ {
			if tok, err := Parse(raw[:n]); !errors.Is(err, ErrMalformed) || tok != nil {
				t.Errorf("%v truncated to %d: %v", s, n, err)
			}
		}
		for n := 1; n <= 300; n++ {
			long := append(bytes.Clone(raw), make([]byte, n)...)
			if _, err := Parse(long); !errors.Is(err, ErrMalformed) {
				t.Errorf("%v extended by %d: %v", s, n, err)
			}
		}
	}
}

func TestRejections(t *testing.T) {
	base, _ := sample(Ed25519).MarshalBinary()
	mut := func(f func(b []byte)) []byte {
		b := bytes.Clone(base)
		f(b)
		return b
	}
	L := "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010"
	lb, _ := hex.DecodeString(L)
	cases := map[string][]byte{
		"version 0":       mut(func(b []byte) { b[0] = 0 }),
		"version 2":       mut(func(b []byte) { b[0] = 2 }),
		"suite 0":         mut(func(b []byte) { b[1] = 0 }),
		"suite 3":         mut(func(b []byte) { b[1] = 3 }),
		"suite rsabssa":   mut(func(b []byte) { b[1] = 2 }), // wrong length for the suite
		"status 0":        mut(func(b []byte) { b[2] = 0 }),
		"S = L":           mut(func(b []byte) { copy(b[47+32:], lb) }),
		"S = 2^256 - 1":   mut(func(b []byte) { copy(b[47+32:], bytes.Repeat([]byte{0xff}, 32)) }),
		"R y = p":         mut(func(b []byte) { b[47] = 0xed; copy(b[48:79], bytes.Repeat([]byte{0xff}, 30)); b[78] = 0x7f }),
		"R y = p+1, sign": mut(func(b []byte) { b[47] = 0xee; copy(b[48:79], bytes.Repeat([]byte{0xff}, 30)); b[78] = 0xff }),
	}
	for name, raw := range cases {
		if _, err := Parse(raw); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
	ok := mut(func(b []byte) { b[47] = 0xec; copy(b[48:79], bytes.Repeat([]byte{0xff}, 30)); b[78] = 0x7f })
	if _, err := Parse(ok); err != nil {
		t.Errorf("R with y = p-1 is canonical: %v", err)
	}
	bad := sample(Ed25519)
	bad.Status = 0
	if _, err := bad.MarshalBinary(); !errors.Is(err, ErrMalformed) {
		t.Errorf("Marshal of status 0: %v", err)
	}
	bad = sample(Ed25519)
	bad.Signature = bad.Signature[:63]
	if _, err := bad.MarshalBinary(); !errors.Is(err, ErrMalformed) {
		t.Errorf("Marshal of short signature: %v", err)
	}
}

func TestTextRejections(t *testing.T) {
	tok := sample(Ed25519)
	text, _ := tok.MarshalText()
	b64, _ := tok.Base64()
	for name, s := range map[string]string{
		"empty":           "",
		"prefix only":     TextPrefix,
		"lower prefix":    "ht1:" + string(text[4:]),
		"other prefix":    "HT2:" + string(text[4:]),
		"no prefix":       string(text[4:]),
		"truncated":       string(text[:len(text)-1]),
		"lower case":      TextPrefix + strings.ToLower(string(text[4:])),
		"trailing space":  string(text) + " ",
		"very long":       TextPrefix + strings.Repeat("0", 10*MaxTextSize),
		"overflow triple": TextPrefix + "GGW" + string(text[7:]),
	} {
		if _, err := ParseText(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseText %s: %v", name, err)
		}
	}
	for name, s := range map[string]string{
		"padded":       b64 + "=",
		"std alphabet": strings.NewReplacer("-", "+", "_", "/").Replace(b64) + "+",
		"line break":   b64[:10] + "\n" + b64[10:],
		"truncated":    b64[:len(b64)-1],
		"very long":    strings.Repeat("A", 10*MaxBase64Size),
	} {
		if _, err := ParseBase64(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseBase64 %s: %v", name, err)
		}
	}
	// Nonzero trailing bits: 111 bytes end in a 1-byte group, 2 chars,
	// whose second char carries 4 unused bits.
	last := b64[len(b64)-1]
	alt := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", last) | 1
	mangled := b64[:len(b64)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[alt])
	if mangled != b64 {
		if _, err := ParseBase64(mangled); !errors.Is(err, ErrMalformed) {
			t.Errorf("nonzero trailing bits accepted: %v", err)
		}
	}
}

func TestSuiteAndKeyIDText(t *testing.T) {
	for _, s := range []Suite{Ed25519, RSABSSA} {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Suite
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Fatalf("suite %v round trip: %v", s, err)
		}
	}
	var s Suite
	for _, bad := range []string{"", "Ed25519", "ed25519 ", "rsa", "3"} {
		if s.UnmarshalText([]byte(bad)) == nil {
			t.Errorf("suite %q accepted", bad)
		}
	}
	if _, err := Suite(3).MarshalText(); err == nil {
		t.Error("unknown suite marshalled")
	}
	var id KeyID
	for _, bad := range []string{"", "00", "A0A1A2A3A4A5A6A7", "a0a1a2a3a4a5a6a", "a0a1a2a3a4a5a6a7a8", "g0a1a2a3a4a5a6a7"} {
		if id.UnmarshalText([]byte(bad)) == nil {
			t.Errorf("key ID %q accepted", bad)
		}
	}
	if err := id.UnmarshalText([]byte("a0a1a2a3a4a5a6a7")); err != nil || id != sample(Ed25519).KeyID {
		t.Errorf("key ID parse: %v %v", id, err)
	}
}

// TestNoOtherFields pins the token's fields to those of SPEC.md: nothing
// else, in particular nothing per person, can be carried.
func TestNoOtherFields(t *testing.T) {
	want := []string{"Suite", "Status", "Expiry", "KeyID", "Nonce", "Signature"}
	typ := reflect.TypeOf(Token{})
	if typ.NumField() != len(want) {
		t.Fatalf("Token has %d fields, want %d", typ.NumField(), len(want))
	}
	for i, name := range want {
		if typ.Field(i).Name != name {
			t.Fatalf("field %d is %s, want %s", i, typ.Field(i).Name, name)
		}
	}
	// The encoding has room for nothing else either: header plus signature.
	if MinSize != 1+1+1+4+8+32+64 || MaxSize != 1+1+1+4+8+32+256 {
		t.Fatalf("sizes %d, %d", MinSize, MaxSize)
	}
}
