package token_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/statustoken/statustoken/internal/base45"
	"github.com/statustoken/statustoken/internal/edsig"
	"github.com/statustoken/statustoken/internal/format"
	"github.com/statustoken/statustoken/internal/rsabssa"
	"github.com/statustoken/statustoken/internal/testkeys"
	"github.com/statustoken/statustoken/token"
)

// The encoding interfaces *Directory implements since API 1.0.
var (
	_ encoding.BinaryMarshaler   = (*token.Directory)(nil)
	_ encoding.BinaryUnmarshaler = (*token.Directory)(nil)
	_ encoding.BinaryAppender    = (*token.Directory)(nil)
	_ encoding.TextMarshaler     = (*token.Directory)(nil)
	_ encoding.TextUnmarshaler   = (*token.Directory)(nil)
	_ encoding.TextAppender      = (*token.Directory)(nil)
)

// rsaDirectory is validDirectory() with an rsabssa key added, so that one
// key's PublicKey is a 2048-bit SubjectPublicKeyInfo.
func rsaDirectory(t *testing.T) *token.Directory {
	t.Helper()
	sk, err := rsabssa.NewPrivateKey(testkeys.RSA(0))
	if err != nil {
		t.Fatal(err)
	}
	pub := sk.PublicKeyBytes()
	d := validDirectory()
	d.Keys = append(d.Keys, token.Key{ID: token.ComputeKeyID(pub), Suite: token.RSABSSA, Status: 1,
		NotBefore: 21 * day, Expiry: 22 * day, PublicKey: pub})
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDirectoryEncodings checks that every encoding method gives the one
// canonical encoding, the text form being the same JSON bytes, and that
// both Unmarshal methods read it back as ParseDirectory does.
func TestDirectoryEncodings(t *testing.T) {
	for name, d := range map[string]*token.Directory{"ed25519": validDirectory(), "with rsabssa": rsaDirectory(t)} {
		bin, err := d.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		text, err := d.MarshalText()
		if err != nil || !bytes.Equal(text, bin) {
			t.Fatalf("%s: MarshalText differs from MarshalBinary (%v)", name, err)
		}
		for aname, appendTo := range map[string]func([]byte) ([]byte, error){
			"AppendBinary": d.AppendBinary, "AppendText": d.AppendText,
		} {
			for _, spare := range []int{0, len(bin)} {
				b := append(make([]byte, 0, 4+spare), "dir:"...)
				got, err := appendTo(b)
				if err != nil || string(got[:4]) != "dir:" || !bytes.Equal(got[4:], bin) {
					t.Fatalf("%s: %s with %d spare bytes: %v", name, aname, spare, err)
				}
				if inPlace := &got[0] == &b[0]; inPlace != (spare >= len(bin)) {
					t.Errorf("%s: %s with %d spare bytes: in place %v", name, aname, spare, inPlace)
				}
			}
			if got, err := appendTo(nil); err != nil || !bytes.Equal(got, bin) {
				t.Fatalf("%s: %s to nil: %v", name, aname, err)
			}
		}

		parsed, err := token.ParseDirectory(bin)
		if err != nil || !reflect.DeepEqual(parsed, d) {
			t.Fatalf("%s: ParseDirectory: %v", name, err)
		}
		for uname, unmarshal := range map[string]func(*token.Directory, []byte) error{
			"UnmarshalBinary": (*token.Directory).UnmarshalBinary,
			"UnmarshalText":   (*token.Directory).UnmarshalText,
		} {
			// Into the zero directory, and over another directory whose
			// every field differs: nothing of the old one remains.
			other := validDirectory()
			other.Serial, other.EpochLength, other.MaxLifetime = 99, 2*day, 3*day
			other.Statuses = append(other.Statuses, token.StatusName{Code: 7, Name: "extra"})
			other.Keys = other.Keys[:1]
			for _, into := range []*token.Directory{new(token.Directory), other} {
				in := bytes.Clone(bin)
				if err := unmarshal(into, in); err != nil || !reflect.DeepEqual(into, parsed) {
					t.Fatalf("%s: %s: %v\n got %+v\nwant %+v", name, uname, err, into, parsed)
				}
				for i := range in {
					in[i] = 0
				}
				if again, err := into.MarshalBinary(); err != nil || !bytes.Equal(again, bin) {
					t.Fatalf("%s: %s: the directory aliases its input (%v)", name, uname, err)
				}
			}
		}

		// Through encoding/json. *Directory is a TextMarshaler, so
		// encoding/json writes the canonical bytes as one JSON string
		// (not as the JSON object they are) and reads them back with
		// UnmarshalText, refusing a non-canonical directory.
		enc, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var s string
		if err := json.Unmarshal(enc, &s); err != nil || s != string(bin) {
			t.Fatalf("%s: json.Marshal gave %.80s, not the canonical bytes as a string (%v)", name, enc, err)
		}
		var back token.Directory
		if err := json.Unmarshal(enc, &back); err != nil || !reflect.DeepEqual(&back, d) {
			t.Fatalf("%s: json round trip: %v", name, err)
		}
		indented, _ := json.Marshal(" " + string(bin))
		if err := json.Unmarshal(indented, &back); !errors.Is(err, token.ErrMalformedDirectory) {
			t.Fatalf("%s: json.Unmarshal of a non-canonical directory: %v", name, err)
		}
	}
}

// TestDirectoryUnmarshalRefuses checks that UnmarshalBinary and
// UnmarshalText refuse exactly what ParseDirectory refuses, with its
// error, and leave their receiver unchanged; and that the Marshal and
// Append methods refuse every invalid directory with MarshalBinary's
// error, the Append methods returning b unchanged.
func TestDirectoryUnmarshalRefuses(t *testing.T) {
	inputs := map[string][]byte{}
	for name, v := range nonCanonicalDirectories() {
		inputs[name] = []byte(v)
	}
	for name, mutate := range directoryRules() {
		if data := invalidDirectory(mutate); data != nil {
			inputs["invalid: "+name] = data
		}
	}
	for name, in := range inputs {
		_, perr := token.ParseDirectory(in)
		if perr == nil {
			t.Fatalf("%s: ParseDirectory accepted it", name)
		}
		for uname, unmarshal := range map[string]func(*token.Directory, []byte) error{
			"UnmarshalBinary": (*token.Directory).UnmarshalBinary,
			"UnmarshalText":   (*token.Directory).UnmarshalText,
		} {
			d := validDirectory()
			keys := d.Keys
			err := unmarshal(d, in)
			if err == nil || err.Error() != perr.Error() {
				t.Errorf("%s: %s gave %v; ParseDirectory gave %v", name, uname, err, perr)
			}
			if !reflect.DeepEqual(d, validDirectory()) || &d.Keys[0] != &keys[0] {
				t.Errorf("%s: %s changed its receiver", name, uname)
			}
			var zero token.Directory
			if err := unmarshal(&zero, in); err == nil || !reflect.DeepEqual(zero, token.Directory{}) {
				t.Errorf("%s: %s changed the zero directory", name, uname)
			}
		}
	}

	for name, mutate := range directoryRules() {
		d := validDirectory()
		mutate(d)
		_, merr := d.MarshalBinary()
		if !errors.Is(merr, token.ErrInvalidDirectory) {
			t.Fatalf("%s: MarshalBinary gave %v", name, merr)
		}
		if b, err := d.MarshalText(); b != nil || err == nil || err.Error() != merr.Error() {
			t.Errorf("%s: MarshalText gave %d bytes, %v", name, len(b), err)
		}
		for aname, appendTo := range map[string]func([]byte) ([]byte, error){
			"AppendBinary": d.AppendBinary, "AppendText": d.AppendText,
		} {
			backing := []byte("dir:xxxxxxxx")
			b := backing[:4]
			got, err := appendTo(b)
			if err == nil || err.Error() != merr.Error() {
				t.Errorf("%s: %s gave %v", name, aname, err)
			}
			if len(got) != 4 || cap(got) != cap(b) || &got[0] != &b[0] || string(backing) != "dir:xxxxxxxx" {
				t.Errorf("%s: %s did not return b unchanged", name, aname)
			}
		}
	}
}

// TestDirectoryClone checks that a clone is equal to its original and
// shares no memory with it: changing any field or any byte of the clone,
// appending to any of its slices, leaves the original as it was, and the
// other way round.
func TestDirectoryClone(t *testing.T) {
	if (*token.Directory)(nil).Clone() != nil {
		t.Fatal("Clone of nil is not nil")
	}
	if c := new(token.Directory).Clone(); c == nil || !reflect.DeepEqual(c, &token.Directory{}) {
		t.Fatalf("Clone of the zero directory: %+v", c)
	}
	for _, cloneSide := range []bool{true, false} {
		orig := rsaDirectory(t)
		// Spare capacity everywhere, where a shared array would show.
		orig.Statuses = append(make([]token.StatusName, 0, 2*len(orig.Statuses)), orig.Statuses...)
		orig.Keys = append(make([]token.Key, 0, 2*len(orig.Keys)), orig.Keys...)
		for i := range orig.Keys {
			k := &orig.Keys[i]
			k.PublicKey = append(make([]byte, 0, 2*len(k.PublicKey)), k.PublicKey...)
		}
		want := rsaDirectory(t)
		wantBytes, _ := want.MarshalBinary()

		c := orig.Clone()
		if c == orig || !reflect.DeepEqual(c, orig) {
			t.Fatal("the clone differs from its original")
		}
		if &c.Statuses[0] == &orig.Statuses[0] || &c.Keys[0] == &orig.Keys[0] {
			t.Fatal("the clone shares Statuses or Keys")
		}
		for i := range c.Keys {
			if &c.Keys[i].PublicKey[0] == &orig.Keys[i].PublicKey[0] {
				t.Fatalf("the clone shares key %d's PublicKey", i)
			}
		}

		// Change every field and byte of one side, and append to every
		// slice of it; the other side must not change.
		changed, kept := c, orig
		if !cloneSide {
			changed, kept = orig, c
		}
		changed.Version++
		changed.Serial++
		changed.EpochLength++
		changed.MaxLifetime++
		for i := range changed.Statuses {
			changed.Statuses[i].Code += 10
			changed.Statuses[i].Name += "x"
		}
		changed.Statuses = append(changed.Statuses, token.StatusName{Code: 99, Name: "appended"})
		for i := range changed.Keys {
			k := &changed.Keys[i]
			k.ID[0] ^= 0xff
			k.Suite ^= 3
			k.Status++
			k.NotBefore++
			k.Expiry++
			for j := range k.PublicKey {
				k.PublicKey[j] ^= 0xff
			}
			k.PublicKey = append(k.PublicKey, 0xee)
		}
		changed.Keys = append(changed.Keys, token.Key{Status: 77})

		if !reflect.DeepEqual(kept, want) {
			t.Fatalf("changing the %s changed the other side", map[bool]string{true: "clone", false: "original"}[cloneSide])
		}
		if got, err := kept.MarshalBinary(); err != nil || !bytes.Equal(got, wantBytes) {
			t.Fatalf("the other side no longer encodes the same: %v", err)
		}
		// Nothing was written into the kept side's spare capacity.
		if full := kept.Statuses[:cap(kept.Statuses)]; len(full) > len(want.Statuses) && full[len(want.Statuses)] != (token.StatusName{}) {
			t.Fatal("an append to Statuses reached the other side")
		}
		if full := kept.Keys[:cap(kept.Keys)]; len(full) > len(want.Keys) && full[len(want.Keys)].Status != 0 {
			t.Fatal("an append to Keys reached the other side")
		}
		for i := range kept.Keys {
			pk := kept.Keys[i].PublicKey
			if full := pk[:cap(pk)]; len(full) > len(pk) && full[len(pk)] != 0 {
				t.Fatalf("an append to key %d's PublicKey reached the other side", i)
			}
		}
	}
}

// internalNames are internal packages whose names no error text of
// package token may show: callers see "token: ..." and the package's
// sentinels only. base45 and rsabssa are also the public names of the
// text form's encoding (RFC 9285) and of a suite, so for them only the
// form a package's error starts with, "base45:" or "rsabssa:", is
// refused, outside the phrase "canonical base45" that introduces the
// detail of a base45 error (compared without case).
var (
	internalNames         = []string{"edsig", "format", "keyset", "misusetest"}
	internalPrefixes      = []string{"base45:", "rsabssa:"}
	internalSentinelTexts = []string{
		base45.ErrInvalid.Error(), edsig.ErrInvalidKey.Error(),
		rsabssa.ErrInvalidKey.Error(), rsabssa.ErrInvalidSignature.Error(),
	}
)

// checkErrorText fails unless err is non-nil, starts with "token: " and
// names no internal package.
func checkErrorText(t *testing.T, name string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", name)
		return
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "token: ") {
		t.Errorf("%s: error %q does not start with \"token: \"", name, msg)
	}
	for _, s := range internalSentinelTexts {
		if strings.Contains(msg, s) {
			t.Errorf("%s: error %q holds an internal package's error %q", name, msg, s)
		}
	}
	for _, pkg := range internalNames {
		if strings.Contains(msg, pkg) {
			t.Errorf("%s: error %q names package %s", name, msg, pkg)
		}
	}
	rest := strings.ReplaceAll(strings.ToLower(msg), "canonical base45", "canonical encoding")
	for _, p := range internalPrefixes {
		if strings.Contains(rest, p) {
			t.Errorf("%s: error %q names package %s", name, msg, strings.TrimSuffix(p, ":"))
		}
	}
}

// TestErrorTexts runs bad input through every function and method of the
// package that can fail and checks each error text: it starts with
// "token: " and names no internal package.
func TestErrorTexts(t *testing.T) {
	tok := &token.Token{Suite: token.Ed25519, Status: 1, Expiry: 1795737600, Signature: make([]byte, 64)}
	raw, _ := tok.MarshalBinary()
	text, _ := tok.MarshalText()
	b64, _ := tok.Base64()
	mut := func(f func(b []byte)) []byte {
		b := bytes.Clone(raw)
		f(b)
		return b
	}
	badRaw := map[string][]byte{
		"nil":             nil,
		"one byte":        {1},
		"version 2":       mut(func(b []byte) { b[0] = 2 }),
		"suite 3":         mut(func(b []byte) { b[1] = 3 }),
		"suite rsabssa":   mut(func(b []byte) { b[1] = 2 }),
		"status 0":        mut(func(b []byte) { b[2] = 0 }),
		"S = 2^256 - 1":   mut(func(b []byte) { copy(b[len(b)-32:], bytes.Repeat([]byte{0xff}, 32)) }),
		"R y = p":         mut(func(b []byte) { b[47] = 0xed; copy(b[48:79], bytes.Repeat([]byte{0xff}, 30)); b[78] = 0x7f }),
		"trailing byte":   append(bytes.Clone(raw), 0),
		"huge":            make([]byte, 10*token.MaxSize),
		"text, not bytes": text,
	}
	badText := map[string]string{
		"empty":             "",
		"prefix only":       token.TextPrefix,
		"no prefix":         string(text[4:]),
		"lower case":        strings.ToLower(string(text)),
		"overflow group":    token.TextPrefix + "GGW" + string(text[7:]),
		"overflow pair":     string(text[:len(text)-2]) + "::",
		"one extra char":    string(text) + "0",
		"foreign character": string(text[:20]) + "#" + string(text[21:]),
		"trailing space":    string(text) + " ",
		"very long":         token.TextPrefix + strings.Repeat("0", 10*token.MaxTextSize),
		"utf-8":             token.TextPrefix + "ÄÖÜ",
		"status 0":          token.TextPrefix + "00000",
	}
	for name, b := range badRaw {
		if name != "text, not bytes" && name != "huge" {
			badText["bytes of "+name] = string(b) // not even base45
		}
	}
	badB64 := map[string]string{
		"padded":       b64 + "=",
		"std alphabet": strings.NewReplacer("-", "+", "_", "/").Replace(b64) + "+",
		"line break":   b64[:10] + "\n" + b64[10:],
		"truncated":    b64[:len(b64)-1],
		"very long":    strings.Repeat("A", 10*token.MaxBase64Size),
		"status 0":     "AQEA" + b64[4:],
		"empty":        "",
	}

	for name, b := range badRaw {
		_, err := token.Parse(b)
		checkErrorText(t, "Parse "+name, err)
		checkErrorText(t, "Token.UnmarshalBinary "+name, new(token.Token).UnmarshalBinary(b))
	}
	for name, s := range badText {
		_, err := token.ParseText(s)
		checkErrorText(t, "ParseText "+name, err)
		checkErrorText(t, "Token.UnmarshalText "+name, new(token.Token).UnmarshalText([]byte(s)))
	}
	for name, s := range badB64 {
		_, err := token.ParseBase64(s)
		checkErrorText(t, "ParseBase64 "+name, err)
	}

	// Encoding invalid tokens.
	badTokens := map[string]*token.Token{
		"nil":       nil,
		"zero":      {},
		"status 0":  {Suite: token.Ed25519, Signature: make([]byte, 64)},
		"suite 3":   {Suite: 3, Status: 1, Signature: make([]byte, 64)},
		"short sig": {Suite: token.Ed25519, Status: 1, Signature: make([]byte, 63)},
		"S = 2^256 - 1": {Suite: token.Ed25519, Status: 1,
			Signature: append(make([]byte, 32), bytes.Repeat([]byte{0xff}, 32)...)},
	}
	for name, bt := range badTokens {
		_, err := bt.MarshalBinary()
		checkErrorText(t, "Token.MarshalBinary "+name, err)
		_, err = bt.AppendBinary(nil)
		checkErrorText(t, "Token.AppendBinary "+name, err)
		_, err = bt.MarshalText()
		checkErrorText(t, "Token.MarshalText "+name, err)
		_, err = bt.AppendText(nil)
		checkErrorText(t, "Token.AppendText "+name, err)
		_, err = bt.Base64()
		checkErrorText(t, "Token.Base64 "+name, err)
	}

	// Directories: every non-canonical and every invalid one.
	dirs := map[string][]byte{"nil": nil, "huge": make([]byte, 2*token.MaxDirectorySize)}
	for name, v := range nonCanonicalDirectories() {
		dirs[name] = []byte(v)
	}
	for name, mutate := range directoryRules() {
		if data := invalidDirectory(mutate); data != nil {
			dirs["invalid: "+name] = data
		}
		d := validDirectory()
		mutate(d)
		_, err := d.MarshalBinary()
		checkErrorText(t, "Directory.MarshalBinary "+name, err)
		checkErrorText(t, "Directory.Validate "+name, d.Validate())
	}
	for name, data := range map[string]string{
		"wrong type":     `{"version":"1"}`,
		"negative":       `{"version":1,"serial":-1}`,
		"bad key ID":     `{"version":1,"serial":1,"epoch_length":3600,"max_lifetime":3600,"statuses":[],"keys":[{"key_id":"XYZ"}]}`,
		"bad suite":      `{"version":1,"serial":1,"epoch_length":3600,"max_lifetime":3600,"statuses":[],"keys":[{"key_id":"0000000000000000","suite":"rsa"}]}`,
		"bad base64 key": `{"version":1,"serial":1,"epoch_length":3600,"max_lifetime":3600,"statuses":[],"keys":[{"key_id":"0000000000000000","suite":"ed25519","status":1,"not_before":0,"expiry":3600,"public_key":"!!"}]}`,
		"truncated":      `{"version":1,`,
	} {
		dirs[name] = []byte(data)
	}
	seed := sha256.Sum256([]byte("root"))
	root := ed25519.NewKeyFromSeed(seed[:])
	rootPub := root.Public().(ed25519.PublicKey)
	smallOrder := make([]byte, 32)
	smallOrder[0] = 1
	for name, data := range dirs {
		_, err := token.ParseDirectory(data)
		checkErrorText(t, "ParseDirectory "+name, err)
		checkErrorText(t, "Directory.UnmarshalBinary "+name, new(token.Directory).UnmarshalBinary(data))
		checkErrorText(t, "Directory.UnmarshalText "+name, new(token.Directory).UnmarshalText(data))
		// Under a good signature OpenDirectory gives ParseDirectory's
		// error; under bad signatures and root keys its own.
		sig := ed25519.Sign(root, format.DirectoryMessage(data))
		_, err = token.OpenDirectory(data, sig, rootPub)
		checkErrorText(t, "OpenDirectory signed "+name, err)
		for rname, r := range map[string][]byte{
			"nil root": nil, "short root": rootPub[:31], "small-order root": smallOrder,
			"non-canonical root": append(bytes.Repeat([]byte{0xff}, 31), 0x7f),
		} {
			_, err = token.OpenDirectory(data, sig, r)
			checkErrorText(t, "OpenDirectory "+rname+" "+name, err)
		}
		for sname, s := range map[string][]byte{"nil sig": nil, "short sig": sig[:63], "wrong sig": make([]byte, 64)} {
			_, err = token.OpenDirectory(data, s, rootPub)
			checkErrorText(t, "OpenDirectory "+sname+" "+name, err)
		}
	}

	// Suite and KeyID text.
	for _, s := range []string{"", "Ed25519", "rsa", strings.Repeat("x", 100)} {
		var suite token.Suite
		checkErrorText(t, "Suite.UnmarshalText "+s, suite.UnmarshalText([]byte(s)))
		var id token.KeyID
		checkErrorText(t, "KeyID.UnmarshalText "+s, id.UnmarshalText([]byte(s)))
	}
	_, err := token.Suite(3).MarshalText()
	checkErrorText(t, "Suite.MarshalText 3", err)
}
