package token

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"strings"
	"testing"

	"github.com/statustoken/statustoken/internal/base45"
)

// The encoding interfaces *Token implements since API 1.0.
var (
	_ encoding.BinaryMarshaler   = (*Token)(nil)
	_ encoding.BinaryUnmarshaler = (*Token)(nil)
	_ encoding.BinaryAppender    = (*Token)(nil)
	_ encoding.TextMarshaler     = (*Token)(nil)
	_ encoding.TextUnmarshaler   = (*Token)(nil)
	_ encoding.TextAppender      = (*Token)(nil)
)

// MaxTextSize and MaxBase64Size are constants: they size arrays and take
// part in constant expressions. The two constant declarations below
// compile only if MaxTextSize is exactly 459 and MaxBase64Size exactly
// 404 (a negative constant does not convert to uint).
var (
	_ [MaxTextSize]byte
	_ [MaxBase64Size]byte
)

const (
	_ = uint(MaxTextSize - 459)
	_ = uint(459 - MaxTextSize)
	_ = uint(MaxBase64Size - 404)
	_ = uint(404 - MaxBase64Size)
)

// TestLimitConstants checks that the constant limits are the lengths of
// the longest forms, those of an rsabssa token, and that every Ed25519
// form is shorter.
func TestLimitConstants(t *testing.T) {
	var textBuf [MaxTextSize]byte
	var b64Buf [MaxBase64Size]byte
	rsa := sample(RSABSSA)
	text, err := rsa.AppendText(textBuf[:0])
	if err != nil {
		t.Fatal(err)
	}
	if len(text) != MaxTextSize || &text[0] != &textBuf[0] {
		t.Errorf("rsabssa text form: %d characters (in place: %v), MaxTextSize %d", len(text), &text[0] == &textBuf[0], MaxTextSize)
	}
	raw, err := rsa.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	base64.RawURLEncoding.Encode(b64Buf[:], raw)
	if s, _ := rsa.Base64(); s != string(b64Buf[:]) || len(s) != MaxBase64Size {
		t.Errorf("rsabssa base64 form: %d characters, MaxBase64Size %d", len(s), MaxBase64Size)
	}
	if MaxTextSize != len(TextPrefix)+base45.EncodedLen(MaxSize) {
		t.Errorf("MaxTextSize %d, want prefix and base45 of MaxSize bytes", MaxTextSize)
	}
	if MaxBase64Size != base64.RawURLEncoding.EncodedLen(MaxSize) {
		t.Errorf("MaxBase64Size %d, want %d", MaxBase64Size, base64.RawURLEncoding.EncodedLen(MaxSize))
	}
	ed := sample(Ed25519)
	edText, _ := ed.MarshalText()
	edB64, _ := ed.Base64()
	if len(edText) >= MaxTextSize || len(edB64) >= MaxBase64Size {
		t.Errorf("ed25519 forms of %d and %d characters are not shorter than the limits", len(edText), len(edB64))
	}
}

// tokenCarrier holds tokens the ways a caller's struct does.
type tokenCarrier struct {
	XMLName xml.Name `xml:"carrier" json:"-"`
	Ptr     *Token   `xml:"ptr,attr" json:"ptr"`
	Val     Token    `xml:"val" json:"val"`
	Attr    Token    `xml:"attr,attr" json:"attr"`
}

// tokenCarrierFor returns a carrier whose three tokens are copies of tok.
func tokenCarrierFor(tok *Token) *tokenCarrier {
	c := &tokenCarrier{Ptr: sample(tok.Suite), Val: *sample(tok.Suite), Attr: *sample(tok.Suite)}
	*c.Ptr, c.Val, c.Attr = *tok, *tok, *tok
	return c
}

// tamperedTexts returns text forms of tok changed so that they no longer
// decode: the base45 is broken, or it decodes to bytes that are not a
// token. (A changed character elsewhere often gives another valid token,
// one with another nonce or signature, which only verification refuses.)
func tamperedTexts(tok *Token) map[string]string {
	raw, err := tok.MarshalBinary()
	if err != nil {
		panic(err)
	}
	text, _ := tok.MarshalText()
	reencode := func(f func(b []byte)) string {
		b := bytes.Clone(raw)
		f(b)
		return TextPrefix + base45.EncodeToString(b)
	}
	out := map[string]string{
		// A group of three characters above 65535.
		"overflow group": TextPrefix + "GGW" + string(text[7:]),
		// A character outside the alphabet.
		"foreign character": string(text[:20]) + "#" + string(text[21:]),
		"status 0":          reencode(func(b []byte) { b[2] = 0 }),
		"version 2":         reencode(func(b []byte) { b[0] = 2 }),
		"other suite":       reencode(func(b []byte) { b[1] ^= 3 }),
	}
	if tok.Suite == Ed25519 {
		out["non-canonical S"] = reencode(func(b []byte) { copy(b[len(b)-32:], bytes.Repeat([]byte{0xff}, 32)) })
	}
	return out
}

// TestTokenJSON checks that a Token round-trips through encoding/json as
// its text form, a JSON string "HT1:...", both at top level and as a
// field.
//
// The encoding methods are on *Token, so what encoding/json does depends
// on whether it can take the token's address:
//   - json.Marshal of a *Token, of a *Token field, or of a Token field of a
//     struct passed by pointer (an addressable value) writes the text form;
//   - json.Marshal of a Token value, or of a Token field of a struct passed
//     by value, cannot call the pointer method: it writes the struct's
//     fields as a JSON object, which json.Unmarshal into a Token refuses
//     (a TextUnmarshaler only takes a JSON string). Marshal tokens through
//     a pointer.
//   - json.Unmarshal always decodes through a pointer: Token values and
//     *Token fields both read the text form.
func TestTokenJSON(t *testing.T) {
	for _, s := range []Suite{Ed25519, RSABSSA} {
		tok := sample(s)
		text, err := tok.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		// The base45 alphabet needs no JSON escape, not even an HTML one.
		want := `"` + string(text) + `"`

		// Top level: a *Token, and an addressable Token.
		top, err := json.Marshal(tok)
		if err != nil || string(top) != want {
			t.Fatalf("%v: json.Marshal(*Token) = %s, %v; want %s", s, top, err, want)
		}
		var val Token
		if err := json.Unmarshal(top, &val); err != nil || !sameToken(&val, tok) {
			t.Fatalf("%v: json.Unmarshal into a Token: %v", s, err)
		}
		var ptr *Token
		if err := json.Unmarshal(top, &ptr); err != nil || ptr == nil || !sameToken(ptr, tok) {
			t.Fatalf("%v: json.Unmarshal into a *Token: %v", s, err)
		}

		// A Token value, not addressable: the struct's fields.
		byValue, err := json.Marshal(*tok)
		if err != nil || !strings.HasPrefix(string(byValue), `{"Suite":"`+s.String()+`"`) {
			t.Fatalf("%v: json.Marshal(Token) = %.60s, %v; want the fields as an object", s, byValue, err)
		}
		if err := json.Unmarshal(byValue, new(Token)); err == nil {
			t.Fatalf("%v: json.Unmarshal read a Token from its fields", s)
		}

		// Fields of a struct passed by pointer: every field in text form.
		c := tokenCarrierFor(tok)
		enc, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		wantFields := `{"ptr":` + want + `,"val":` + want + `,"attr":` + want + `}`
		if string(enc) != wantFields {
			t.Fatalf("%v: json.Marshal(*struct)\n got %s\nwant %s", s, enc, wantFields)
		}
		var back tokenCarrier
		if err := json.Unmarshal(enc, &back); err != nil || back.Ptr == nil ||
			!sameToken(back.Ptr, tok) || !sameToken(&back.Val, tok) || !sameToken(&back.Attr, tok) {
			t.Fatalf("%v: json.Unmarshal of the struct: %v", s, err)
		}
		// A struct passed by value: only the pointer field in text form.
		enc, err = json.Marshal(*c)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(enc), `{"ptr":`+want+`,"val":{"Suite":`) {
			t.Fatalf("%v: json.Marshal(struct) = %.300s", s, enc)
		}

		// Tampered and malformed text: an error wrapping ErrMalformed,
		// the target unchanged.
		cases := map[string]string{
			"truncated":     want[:len(want)-2] + `"`,
			"other prefix":  `"HT2:` + want[5:],
			"lower case":    strings.ToLower(want),
			"empty":         `""`,
			"trailing data": want[:len(want)-1] + `0"`,
		}
		for name, text := range tamperedTexts(tok) {
			cases[name] = `"` + text + `"`
		}
		for name, in := range cases {
			if in == want {
				t.Fatalf("%s: not tampered", name)
			}
			v := *sample(s)
			if err := json.Unmarshal([]byte(in), &v); !errors.Is(err, ErrMalformed) || !sameToken(&v, sample(s)) {
				t.Errorf("%v %s: json.Unmarshal into a Token gave %v", s, name, err)
			}
			var f struct{ T *Token }
			if err := json.Unmarshal([]byte(`{"T":`+in+`}`), &f); !errors.Is(err, ErrMalformed) {
				t.Errorf("%v %s: json.Unmarshal into a *Token field gave %v", s, name, err)
			}
		}
		// JSON null leaves a Token alone and a *Token nil, as for any
		// TextUnmarshaler.
		v := *sample(s)
		if err := json.Unmarshal([]byte(`null`), &v); err != nil || !sameToken(&v, sample(s)) {
			t.Errorf("%v: json null: %v", s, err)
		}
	}
	// A token that cannot be encoded fails json.Marshal with ErrMalformed.
	bad := sample(Ed25519)
	bad.Status = 0
	if _, err := json.Marshal(bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("json.Marshal of status 0: %v", err)
	}
}

// TestTokenXML checks that a Token round-trips through encoding/xml in its
// text form as an element and as an attribute. As with encoding/json, the
// methods are found only through a pointer or an addressable value: marshal
// a *Token or a struct passed by pointer. A struct passed by value fails
// (encoding/xml cannot write a struct as an attribute) or writes the
// fields' raw bytes, never the text form.
func TestTokenXML(t *testing.T) {
	for _, s := range []Suite{Ed25519, RSABSSA} {
		tok := sample(s)
		text, err := tok.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		// The base45 alphabet needs no XML escape.
		top, err := xml.Marshal(tok)
		if err != nil || string(top) != "<Token>"+string(text)+"</Token>" {
			t.Fatalf("%v: xml.Marshal(*Token) = %s, %v", s, top, err)
		}
		var val Token
		if err := xml.Unmarshal(top, &val); err != nil || !sameToken(&val, tok) {
			t.Fatalf("%v: xml.Unmarshal into a Token: %v", s, err)
		}

		c := tokenCarrierFor(tok)
		enc, err := xml.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		want := `<carrier ptr="` + string(text) + `" attr="` + string(text) + `"><val>` + string(text) + `</val></carrier>`
		if string(enc) != want {
			t.Fatalf("%v: xml.Marshal(*struct)\n got %s\nwant %s", s, enc, want)
		}
		var back tokenCarrier
		if err := xml.Unmarshal(enc, &back); err != nil || back.Ptr == nil ||
			!sameToken(back.Ptr, tok) || !sameToken(&back.Val, tok) || !sameToken(&back.Attr, tok) {
			t.Fatalf("%v: xml.Unmarshal of the struct: %v", s, err)
		}
		if enc, err := xml.Marshal(*c); err == nil && bytes.Count(enc, text) == 3 {
			t.Fatalf("%v: xml.Marshal(struct) found the pointer methods: %s", s, enc)
		}

		// Tampered and malformed text, in an attribute and an element.
		cases := map[string]string{
			"truncated":      string(text[:len(text)-1]),
			"lower case":     strings.ToLower(string(text)),
			"empty":          "",
			"spaces":         " " + string(text) + " ",
			"entity escaped": "HT1&#58;" + string(text[4:]), // decodes to the text; fine
		}
		for name, text := range tamperedTexts(tok) {
			cases[name] = text
		}
		for name, in := range cases {
			elem := `<carrier ptr="` + string(text) + `" attr="` + string(text) + `"><val>` + in + `</val></carrier>`
			attr := `<carrier ptr="` + in + `" attr="` + string(text) + `"><val>` + string(text) + `</val></carrier>`
			for where, doc := range map[string]string{"element": elem, "attribute": attr} {
				var got tokenCarrier
				err := xml.Unmarshal([]byte(doc), &got)
				if name == "entity escaped" {
					// XML decodes the character reference first: the
					// token sees exactly its text form.
					if err != nil || !sameToken(got.Ptr, tok) || !sameToken(&got.Val, tok) {
						t.Errorf("%v %s in an %s: %v", s, name, where, err)
					}
					continue
				}
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("%v %s in an %s: xml.Unmarshal gave %v", s, name, where, err)
				}
			}
		}
	}
}

// TestUnmarshalUnchangedOnError checks that UnmarshalBinary and
// UnmarshalText leave their receiver as it was when they fail, with the
// error of Parse or ParseText.
func TestUnmarshalUnchangedOnError(t *testing.T) {
	raw, _ := sample(Ed25519).MarshalBinary()
	text, _ := sample(Ed25519).MarshalText()
	badRaw := map[string][]byte{
		"nil":         nil,
		"truncated":   raw[:len(raw)-1],
		"extended":    append(bytes.Clone(raw), 0),
		"version 2":   append([]byte{2}, raw[1:]...),
		"status 0":    append(append([]byte{}, raw[:2]...), append([]byte{0}, raw[3:]...)...),
		"S = 2^256-1": append(bytes.Clone(raw[:len(raw)-32]), bytes.Repeat([]byte{0xff}, 32)...),
		"huge":        make([]byte, 10*MaxSize),
	}
	badText := map[string][]byte{
		"nil":            nil,
		"prefix only":    []byte(TextPrefix),
		"truncated":      text[:len(text)-1],
		"trailing":       append(bytes.Clone(text), '0'),
		"lower case":     bytes.ToLower(text),
		"overflow group": append([]byte(TextPrefix+"GGW"), text[7:]...),
		"not a token":    []byte(TextPrefix + base45.EncodeToString(raw[:len(raw)-1])),
		"huge":           bytes.Repeat([]byte("0"), 10*MaxTextSize),
	}
	for _, s := range []Suite{Ed25519, RSABSSA} {
		for name, in := range badRaw {
			_, perr := Parse(in)
			tok := sample(s)
			sig := tok.Signature
			err := tok.UnmarshalBinary(in)
			if !errors.Is(err, ErrMalformed) || perr == nil || err.Error() != perr.Error() {
				t.Errorf("UnmarshalBinary %s: %v; Parse gave %v", name, err, perr)
			}
			if !sameToken(tok, sample(s)) || &tok.Signature[0] != &sig[0] {
				t.Errorf("UnmarshalBinary %s changed a %v token", name, s)
			}
		}
		for name, in := range badText {
			_, perr := ParseText(string(in))
			tok := sample(s)
			err := tok.UnmarshalText(in)
			if !errors.Is(err, ErrMalformed) || perr == nil || err.Error() != perr.Error() {
				t.Errorf("UnmarshalText %s: %v; ParseText gave %v", name, err, perr)
			}
			if !sameToken(tok, sample(s)) {
				t.Errorf("UnmarshalText %s changed a %v token", name, s)
			}
		}
	}
	// The zero Token too.
	var zero Token
	if err := zero.UnmarshalBinary(raw[:10]); !errors.Is(err, ErrMalformed) || !sameToken(&zero, &Token{}) {
		t.Errorf("UnmarshalBinary into the zero token: %v, %+v", err, zero)
	}
	if err := zero.UnmarshalText(text[:10]); !errors.Is(err, ErrMalformed) || !sameToken(&zero, &Token{}) {
		t.Errorf("UnmarshalText into the zero token: %v, %+v", err, zero)
	}
}

// TestUnmarshalReplaces checks that a successful Unmarshal replaces every
// field of a token of the other suite, and gives what Parse gives.
func TestUnmarshalReplaces(t *testing.T) {
	for _, s := range []Suite{Ed25519, RSABSSA} {
		other := RSABSSA
		if s == RSABSSA {
			other = Ed25519
		}
		want := sample(s)
		want.Status, want.Expiry, want.KeyID[0], want.Nonce[0] = 9, 12345, 0x55, 0x66
		raw, _ := want.MarshalBinary()
		text, _ := want.MarshalText()
		parsed, _ := Parse(raw)
		tok := sample(other)
		if err := tok.UnmarshalBinary(raw); err != nil || !sameToken(tok, want) || !sameToken(tok, parsed) {
			t.Errorf("%v: UnmarshalBinary over a %v token: %v, %+v", s, other, err, tok)
		}
		tok = sample(other)
		if err := tok.UnmarshalText(text); err != nil || !sameToken(tok, want) {
			t.Errorf("%v: UnmarshalText over a %v token: %v, %+v", s, other, err, tok)
		}
	}
}

// TestUnmarshalDoesNotAlias checks that the Signature UnmarshalBinary sets
// is a new slice: not the input's bytes, and not the receiver's previous
// Signature, which the caller may still hold.
func TestUnmarshalDoesNotAlias(t *testing.T) {
	for _, s := range []Suite{Ed25519, RSABSSA} {
		raw, _ := sample(s).MarshalBinary()
		in := bytes.Clone(raw)
		tok := sample(s)
		old := tok.Signature
		oldCopy := bytes.Clone(old)
		if err := tok.UnmarshalBinary(in); err != nil {
			t.Fatal(err)
		}
		for i := range in {
			in[i] ^= 0xff
		}
		if got, _ := tok.MarshalBinary(); !bytes.Equal(got, raw) {
			t.Fatalf("%v: the token aliases UnmarshalBinary's input", s)
		}
		if &tok.Signature[0] == &old[0] {
			t.Fatalf("%v: UnmarshalBinary reused the previous Signature", s)
		}
		tok.Signature[0] ^= 0xff
		if !bytes.Equal(old, oldCopy) {
			t.Fatalf("%v: the new Signature shares the previous one's array", s)
		}
		// Appending to the Signature writes nothing into the input.
		in = bytes.Clone(raw)
		in = append(in, 0xaa)[:len(raw)] // spare capacity after the token
		if err := tok.UnmarshalBinary(in); err != nil {
			t.Fatal(err)
		}
		_ = append(tok.Signature, 0x55)
		if in[:len(raw)+1][len(raw)] != 0xaa {
			t.Fatalf("%v: the Signature's capacity reaches into the input", s)
		}

		text, _ := sample(s).MarshalText()
		if err := tok.UnmarshalText(text); err != nil {
			t.Fatal(err)
		}
		sig := bytes.Clone(tok.Signature)
		var again Token
		if err := again.UnmarshalText(text); err != nil || &again.Signature[0] == &tok.Signature[0] {
			t.Fatalf("%v: two UnmarshalText calls share a Signature (%v)", s, err)
		}
		again.Signature[0] ^= 0xff
		if !bytes.Equal(tok.Signature, sig) {
			t.Fatalf("%v: UnmarshalText's Signature is shared", s)
		}
	}
}

// TestAppend checks AppendBinary and AppendText: on success they append
// exactly MarshalBinary's and MarshalText's bytes after an untouched
// prefix, into the spare capacity when there is enough of it; on error
// they return b itself, with neither its bytes nor its spare capacity
// written.
func TestAppend(t *testing.T) {
	type appendFunc func(*Token, []byte) ([]byte, error)
	appenders := map[string]struct {
		append  appendFunc
		marshal func(*Token) ([]byte, error)
	}{
		"AppendBinary": {(*Token).AppendBinary, (*Token).MarshalBinary},
		"AppendText":   {(*Token).AppendText, (*Token).MarshalText},
	}
	for name, a := range appenders {
		for _, s := range []Suite{Ed25519, RSABSSA} {
			tok := sample(s)
			want, err := a.marshal(tok)
			if err != nil {
				t.Fatal(err)
			}
			prefix := []byte("prefix:")
			for _, spare := range []int{0, len(want) - 1, len(want), 2 * len(want)} {
				b := make([]byte, len(prefix), len(prefix)+spare)
				copy(b, prefix)
				got, err := a.append(tok, b)
				if err != nil {
					t.Fatalf("%s %v: %v", name, s, err)
				}
				if !bytes.Equal(got[:len(prefix)], prefix) || !bytes.Equal(got[len(prefix):], want) {
					t.Fatalf("%s %v with %d spare bytes: got %q", name, s, spare, got)
				}
				if inPlace := &got[0] == &b[0]; inPlace != (spare >= len(want)) {
					t.Errorf("%s %v with %d spare bytes: in place %v", name, s, spare, inPlace)
				}
				if !bytes.Equal(b, prefix) {
					t.Fatalf("%s %v changed the prefix", name, s)
				}
			}
			if got, err := a.append(tok, nil); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s %v to nil: %v", name, s, err)
			}
		}

		// Errors: b itself, nothing written.
		bad := map[string]*Token{
			"nil":           nil,
			"zero":          {},
			"status 0":      func() *Token { t := sample(Ed25519); t.Status = 0; return t }(),
			"unknown suite": func() *Token { t := sample(Ed25519); t.Suite = 3; return t }(),
			"short sig":     func() *Token { t := sample(Ed25519); t.Signature = t.Signature[:63]; return t }(),
			"long sig":      func() *Token { t := sample(RSABSSA); t.Signature = append(t.Signature, 0); return t }(),
			"wrong suite":   func() *Token { t := sample(Ed25519); t.Suite = RSABSSA; return t }(),
			"non-canonical S": func() *Token {
				t := sample(Ed25519)
				copy(t.Signature[32:], bytes.Repeat([]byte{0xff}, 32))
				return t
			}(),
		}
		for bname, tok := range bad {
			backing := bytes.Repeat([]byte{0x5a}, 600)
			b := backing[:3:600]
			got, err := a.append(tok, b)
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s %s: %v, want ErrMalformed", name, bname, err)
			}
			if len(got) != len(b) || cap(got) != cap(b) || &got[0] != &b[0] {
				t.Errorf("%s %s: returned %d/%d bytes, not b", name, bname, len(got), cap(got))
			}
			if !bytes.Equal(backing, bytes.Repeat([]byte{0x5a}, 600)) {
				t.Errorf("%s %s wrote into b", name, bname)
			}
			if got, err := a.append(tok, nil); got != nil || err == nil {
				t.Errorf("%s %s to nil: %q, %v", name, bname, got, err)
			}
		}
	}
}
