package token

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/internal/format"
	"github.com/statustoken/statustoken/internal/misusetest"
)

// TestMisuse calls every exported function and method of the package with
// zero values, nil, empty and oversized inputs: none may panic, and every
// one that can fail must fail with the package's error. Methods without
// an error result are called on zero values; on a nil *Token or *Key they
// are programmer errors.
func TestMisuse(t *testing.T) {
	huge := make([]byte, 10*MaxDirectorySize)
	for i := range huge {
		huge[i] = byte(i)
	}
	inputs := map[string][]byte{"nil": nil, "empty": {}, "zeros": make([]byte, MaxSize), "huge": huge}

	for name, in := range inputs {
		misusetest.NoPanic(t, "Parse "+name, func() {
			if tok, err := Parse(in); tok != nil || !errors.Is(err, ErrMalformed) {
				t.Errorf("Parse %s: %v", name, err)
			}
		})
		misusetest.NoPanic(t, "ParseText "+name, func() {
			if tok, err := ParseText(string(in)); tok != nil || !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseText %s: %v", name, err)
			}
		})
		misusetest.NoPanic(t, "ParseBase64 "+name, func() {
			if tok, err := ParseBase64(string(in)); tok != nil || !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseBase64 %s: %v", name, err)
			}
		})
		// MessageOf became format.ParseToken and format.AppendMessage in
		// API 1.0; the token package's own parsers of the same bytes are
		// Parse and Token.UnmarshalBinary.
		misusetest.NoPanic(t, "format.ParseToken "+name, func() {
			if ft, err := format.ParseToken(in); err == nil || ft.Signature != nil || ft.Suite != 0 {
				t.Errorf("format.ParseToken %s: %v", name, err)
			}
		})
		misusetest.NoPanic(t, "Token.UnmarshalBinary "+name, func() {
			tok := sample(Ed25519)
			if err := tok.UnmarshalBinary(in); !errors.Is(err, ErrMalformed) || !sameToken(tok, sample(Ed25519)) {
				t.Errorf("Token.UnmarshalBinary %s: %v", name, err)
			}
		})
		misusetest.NoPanic(t, "Token.UnmarshalText "+name, func() {
			tok := sample(Ed25519)
			if err := tok.UnmarshalText(in); !errors.Is(err, ErrMalformed) || !sameToken(tok, sample(Ed25519)) {
				t.Errorf("Token.UnmarshalText %s: %v", name, err)
			}
		})
		misusetest.NoPanic(t, "Directory.UnmarshalBinary "+name, func() {
			var d Directory
			if err := d.UnmarshalBinary(in); !errors.Is(err, ErrMalformedDirectory) || !reflect.DeepEqual(d, Directory{}) {
				t.Errorf("Directory.UnmarshalBinary %s: %v", name, err)
			}
		})
		misusetest.NoPanic(t, "Directory.UnmarshalText "+name, func() {
			var d Directory
			if err := d.UnmarshalText(in); !errors.Is(err, ErrMalformedDirectory) || !reflect.DeepEqual(d, Directory{}) {
				t.Errorf("Directory.UnmarshalText %s: %v", name, err)
			}
		})
		misusetest.NoPanic(t, "ParseDirectory "+name, func() {
			if d, err := ParseDirectory(in); d != nil || !errors.Is(err, ErrMalformedDirectory) {
				t.Errorf("ParseDirectory %s: %v", name, err)
			}
		})
		for sname, sig := range inputs {
			for rname, root := range inputs {
				misusetest.NoPanic(t, "OpenDirectory", func() {
					d, err := OpenDirectory(in, sig, root)
					if d != nil || (!errors.Is(err, ErrDirectorySignature) && !errors.Is(err, ErrMalformedDirectory)) {
						t.Errorf("OpenDirectory(%s, %s, %s): %v", name, sname, rname, err)
					}
				})
			}
		}
		misusetest.NoPanic(t, "ComputeKeyID "+name, func() { ComputeKeyID(in) })
		// DirectorySignatureInput became format.DirectoryMessage in API 1.0.
		misusetest.NoPanic(t, "format.DirectoryMessage "+name, func() {
			if m := format.DirectoryMessage(in); !bytes.Equal(m, append([]byte("statustoken/v1 directory"), in...)) {
				t.Errorf("format.DirectoryMessage %s", name)
			}
		})
		misusetest.NoPanic(t, "Suite.UnmarshalText "+name, func() {
			var s Suite
			if err := s.UnmarshalText(in); err == nil || len(err.Error()) > 200 {
				t.Errorf("Suite.UnmarshalText %s: %v", name, err)
			}
		})
		misusetest.NoPanic(t, "KeyID.UnmarshalText "+name, func() {
			var id KeyID
			if err := id.UnmarshalText(in); err == nil || len(err.Error()) > 200 {
				t.Errorf("KeyID.UnmarshalText %s: %v", name, err)
			}
		})
	}

	// Suites: the zero suite and every unknown one.
	for _, s := range []Suite{0, 3, 255} {
		misusetest.NoPanic(t, "Suite methods", func() {
			if s.Valid() || s.Size() != 0 || s.SignatureSize() != 0 || s.String() == "" {
				t.Errorf("suite %d", s)
			}
			if b, err := s.MarshalText(); b != nil || err == nil {
				t.Errorf("MarshalText of suite %d: %v", s, err)
			}
		})
	}
	misusetest.NoPanic(t, "KeyID zero", func() {
		var id KeyID
		if b, err := id.MarshalText(); err != nil || string(b) != strings.Repeat("0", 16) || id.String() != string(b) {
			t.Errorf("zero KeyID: %s %v", b, err)
		}
	})

	// Tokens: nil and zero.
	var nilTok *Token
	for name, tok := range map[string]*Token{"nil": nilTok, "zero": {}} {
		misusetest.NoPanic(t, name+" Token.MarshalBinary", func() {
			if b, err := tok.MarshalBinary(); len(b) != 0 || !errors.Is(err, ErrMalformed) {
				t.Errorf("%s Token.MarshalBinary: %v", name, err)
			}
		})
		misusetest.NoPanic(t, name+" Token.AppendBinary", func() {
			if b, err := tok.AppendBinary([]byte{9}); !bytes.Equal(b, []byte{9}) || !errors.Is(err, ErrMalformed) {
				t.Errorf("%s Token.AppendBinary: %v", name, err)
			}
		})
		misusetest.NoPanic(t, name+" Token.MarshalText", func() {
			if b, err := tok.MarshalText(); b != nil || !errors.Is(err, ErrMalformed) {
				t.Errorf("%s Token.MarshalText: %v", name, err)
			}
		})
		misusetest.NoPanic(t, name+" Token.AppendText", func() {
			if b, err := tok.AppendText([]byte{9}); !bytes.Equal(b, []byte{9}) || !errors.Is(err, ErrMalformed) {
				t.Errorf("%s Token.AppendText: %v", name, err)
			}
		})
		misusetest.NoPanic(t, name+" Token.Base64", func() {
			if s, err := tok.Base64(); s != "" || !errors.Is(err, ErrMalformed) {
				t.Errorf("%s Token.Base64: %v", name, err)
			}
		})
	}
	misusetest.NoPanic(t, "zero Token accessors", func() {
		// Token.Message and AppendMessage became format.AppendMessage
		// in API 1.0: the message of a zero token's fields still has
		// MessageSize bytes.
		var tok Token
		if len(message(&tok)) != format.MessageSize ||
			len(format.AppendMessage(nil, make([]byte, format.HeaderSize))) != format.MessageSize ||
			!tok.ExpiryTime().Equal(time.Unix(0, 0)) {
			t.Error("zero Token accessors")
		}
	})
	misusetest.NoPanic(t, "oversized signature", func() {
		tok := Token{Suite: Ed25519, Status: 1, Signature: huge}
		if b, err := tok.MarshalBinary(); len(b) != 0 || !errors.Is(err, ErrMalformed) {
			t.Errorf("MarshalBinary with a %d-byte signature: %v", len(huge), err)
		}
		if b, err := tok.AppendText(nil); len(b) != 0 || !errors.Is(err, ErrMalformed) {
			t.Errorf("AppendText with a %d-byte signature: %v", len(huge), err)
		}
	})

	// Directories: nil and zero.
	var nilDir *Directory
	for name, d := range map[string]*Directory{"nil": nilDir, "zero": {}} {
		misusetest.NoPanic(t, name+" Directory", func() {
			if err := d.Validate(); !errors.Is(err, ErrInvalidDirectory) {
				t.Errorf("%s Directory.Validate: %v", name, err)
			}
			if b, err := d.MarshalBinary(); b != nil || !errors.Is(err, ErrInvalidDirectory) {
				t.Errorf("%s Directory.MarshalBinary: %v", name, err)
			}
			if b, err := d.MarshalText(); b != nil || !errors.Is(err, ErrInvalidDirectory) {
				t.Errorf("%s Directory.MarshalText: %v", name, err)
			}
			if b, err := d.AppendBinary([]byte{9}); !bytes.Equal(b, []byte{9}) || !errors.Is(err, ErrInvalidDirectory) {
				t.Errorf("%s Directory.AppendBinary: %v", name, err)
			}
			if b, err := d.AppendText([]byte{9}); !bytes.Equal(b, []byte{9}) || !errors.Is(err, ErrInvalidDirectory) {
				t.Errorf("%s Directory.AppendText: %v", name, err)
			}
			if c := d.Clone(); (d == nil) != (c == nil) || d != nil && (c == d || !reflect.DeepEqual(c, d)) {
				t.Errorf("%s Directory.Clone: %+v", name, c)
			}
			if _, ok := d.StatusName(0); ok {
				t.Errorf("%s Directory.StatusName found a name", name)
			}
			if k, ok := d.Lookup(KeyID{}); ok || k != nil {
				t.Errorf("%s Directory.Lookup found a key", name)
			}
			if k, ok := d.KeyAt(0, 0, time.Time{}); ok || k != nil {
				t.Errorf("%s Directory.KeyAt found a key", name)
			}
		})
	}
	misusetest.NoPanic(t, "oversized directory", func() {
		d := Directory{Version: 1, Serial: 1, EpochLength: MinEpochLength, MaxLifetime: MinEpochLength,
			Statuses: []StatusName{{Code: 1, Name: "a"}}, Keys: make([]Key, MaxDirectoryKeys+1)}
		if err := d.Validate(); !errors.Is(err, ErrInvalidDirectory) {
			t.Errorf("Validate with %d keys: %v", len(d.Keys), err)
		}
	})
	misusetest.NoPanic(t, "validateStatuses", func() {
		for _, s := range [][]StatusName{nil, {}, {{}}, make([]StatusName, 300)} {
			if err := validateStatuses(s); !errors.Is(err, ErrInvalidDirectory) {
				t.Errorf("validateStatuses(%d entries): %v", len(s), err)
			}
		}
	})

	// Keys: nil and zero.
	var nilKey *Key
	misusetest.NoPanic(t, "Key.Matches", func() {
		var k Key
		if nilKey.Matches(nil) || nilKey.Matches(&Token{}) || k.Matches(nil) {
			t.Error("Matches with a nil key or token")
		}
		if !k.ExpiryTime().Equal(time.Unix(0, 0)) || !k.NotBeforeTime().Equal(time.Unix(0, 0)) {
			t.Error("zero Key times")
		}
	})
}
