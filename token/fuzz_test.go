package token

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/statustoken/statustoken/internal/base45"
	"github.com/statustoken/statustoken/internal/format"
)

// The committed vectors of package verify seed the fuzz targets here.
const (
	tokenVectorsFile     = "../verify/testdata/token_vectors.json"
	directoryVectorsFile = "../verify/testdata/directory_vectors.json"
)

// seedTokens returns the binary tokens of the committed token vectors,
// valid and invalid.
func seedTokens(f *testing.F) [][]byte {
	data, err := os.ReadFile(tokenVectorsFile)
	if err != nil {
		f.Fatal(err)
	}
	var vf struct {
		Tokens []struct {
			Token string `json:"token"`
		} `json:"tokens"`
	}
	if err := json.Unmarshal(data, &vf); err != nil {
		f.Fatal(err)
	}
	if len(vf.Tokens) == 0 {
		f.Fatal("no token vectors")
	}
	var out [][]byte
	for _, v := range vf.Tokens {
		raw, err := hex.DecodeString(v.Token)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, raw)
	}
	return out
}

// seedDirectories returns the directories and signatures of both committed
// vector files: the token vectors' directory and every directory vector.
func seedDirectories(f *testing.F) (dirs, sigs [][]byte) {
	var tv struct {
		Directory          string `json:"directory"`
		DirectorySignature string `json:"directory_signature"`
	}
	data, err := os.ReadFile(tokenVectorsFile)
	if err != nil {
		f.Fatal(err)
	}
	if err := json.Unmarshal(data, &tv); err != nil {
		f.Fatal(err)
	}
	sig, _ := hex.DecodeString(tv.DirectorySignature)
	dirs, sigs = append(dirs, []byte(tv.Directory)), append(sigs, sig)

	var dv struct {
		Accepted struct {
			Directory string `json:"directory"`
			Signature string `json:"signature"`
		} `json:"accepted"`
		Directories []struct {
			Directory string `json:"directory"`
			Signature string `json:"signature"`
		} `json:"directories"`
	}
	data, err = os.ReadFile(directoryVectorsFile)
	if err != nil {
		f.Fatal(err)
	}
	if err := json.Unmarshal(data, &dv); err != nil {
		f.Fatal(err)
	}
	sig, _ = hex.DecodeString(dv.Accepted.Signature)
	dirs, sigs = append(dirs, []byte(dv.Accepted.Directory)), append(sigs, sig)
	for _, v := range dv.Directories {
		sig, _ := hex.DecodeString(v.Signature)
		dirs, sigs = append(dirs, []byte(v.Directory)), append(sigs, sig)
	}
	return dirs, sigs
}

// checkToken checks what every parser guarantees of a token it returns:
// the fields obey SPEC.md, "Token", and every encoder gives back the form
// that was parsed.
func checkToken(t *testing.T, tok *Token, raw []byte) {
	t.Helper()
	if !tok.Suite.Valid() || tok.Status == 0 || len(raw) != tok.Suite.Size() ||
		raw[0] != Version || len(tok.Signature) != tok.Suite.SignatureSize() {
		t.Fatalf("accepted a token that breaks the format: %x", raw)
	}
	again, err := tok.MarshalBinary()
	if err != nil || !bytes.Equal(again, raw) {
		t.Fatalf("re-encoding differs (%v):\n got %x\nwant %x", err, again, raw)
	}
	prefixed, err := tok.AppendBinary([]byte("prefix"))
	if err != nil || string(prefixed[:6]) != "prefix" || !bytes.Equal(prefixed[6:], raw) {
		t.Fatalf("AppendBinary differs (%v)", err)
	}
	var un Token
	if err := un.UnmarshalBinary(raw); err != nil || !sameToken(&un, tok) {
		t.Fatalf("UnmarshalBinary disagrees with Parse: %v", err)
	}
	msg, lt, err := messageOf(nil, raw)
	if err != nil || !bytes.Equal(msg, message(tok)) || Suite(lt.Suite) != tok.Suite ||
		Status(lt.Status) != tok.Status || lt.Expiry != tok.Expiry || KeyID(lt.KeyID) != tok.KeyID ||
		Nonce(lt.Nonce) != tok.Nonce || !bytes.Equal(lt.Signature, tok.Signature) {
		t.Fatalf("format.ParseToken disagrees with Parse: %v", err)
	}
	text, err := tok.MarshalText()
	if err != nil || len(text) > MaxTextSize {
		t.Fatalf("MarshalText: %v, %d characters", err, len(text))
	}
	if back, err := ParseText(string(text)); err != nil || !bytes.Equal(mustMarshal(t, back), raw) {
		t.Fatalf("text form does not round-trip: %v", err)
	}
	if err := un.UnmarshalText(text); err != nil || !sameToken(&un, tok) {
		t.Fatalf("UnmarshalText disagrees with ParseText: %v", err)
	}
	prefixed, err = tok.AppendText([]byte("prefix"))
	if err != nil || string(prefixed[:6]) != "prefix" || !bytes.Equal(prefixed[6:], text) {
		t.Fatalf("AppendText differs from MarshalText (%v)", err)
	}
	b64, err := tok.Base64()
	if err != nil || len(b64) > MaxBase64Size {
		t.Fatalf("Base64: %v, %d characters", err, len(b64))
	}
	if back, err := ParseBase64(b64); err != nil || !bytes.Equal(mustMarshal(t, back), raw) {
		t.Fatalf("base64 form does not round-trip: %v", err)
	}
}

func mustMarshal(t *testing.T, tok *Token) []byte {
	t.Helper()
	b, err := tok.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkUnmarshalRefused checks that unmarshal, which a parser refused
// with err, refuses with the same error and leaves its receiver unchanged.
func checkUnmarshalRefused(t *testing.T, unmarshal func(*Token) error, err error) {
	t.Helper()
	tok := sample(RSABSSA)
	if uerr := unmarshal(tok); uerr == nil || uerr.Error() != err.Error() {
		t.Fatalf("Unmarshal gave %v where the parser gave %v", uerr, err)
	}
	if !sameToken(tok, sample(RSABSSA)) {
		t.Fatal("Unmarshal changed its receiver on error")
	}
}

// checkRefused checks that a parser's failure returns nothing and the
// package's sentinel.
func checkRefused(t *testing.T, tok *Token, err error) {
	t.Helper()
	if tok != nil {
		t.Fatalf("error %v with a token", err)
	}
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("error %v does not wrap ErrMalformed", err)
	}
}

// FuzzParse checks the binary parser: what it accepts obeys the format and
// re-encodes to the same bytes in every form, the result does not alias
// the input, and what it refuses gives ErrMalformed and no token, leaves
// the receiver of UnmarshalBinary unchanged, and is refused by
// format.ParseToken too.
func FuzzParse(f *testing.F) {
	for _, raw := range seedTokens(f) {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		in := bytes.Clone(raw)
		tok, err := Parse(in)
		if err != nil {
			checkRefused(t, tok, err)
			if _, _, err2 := messageOf(nil, raw); err2 == nil {
				t.Fatal("format.ParseToken accepts what Parse refuses")
			}
			checkUnmarshalRefused(t, func(tok *Token) error { return tok.UnmarshalBinary(raw) }, err)
			return
		}
		checkToken(t, tok, raw)
		for i := range in {
			in[i] ^= 0xff
		}
		if !bytes.Equal(mustMarshal(t, tok), raw) {
			t.Fatal("the parsed token aliases its input")
		}
	})
}

// FuzzParseText checks the QR text form: accepted text is exactly what
// MarshalText gives for the token, and refused text gives ErrMalformed.
func FuzzParseText(f *testing.F) {
	for _, raw := range seedTokens(f) {
		f.Add(TextPrefix + base45.EncodeToString(raw))
	}
	f.Add(TextPrefix)
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseText(s)
		if err != nil {
			checkRefused(t, tok, err)
			checkUnmarshalRefused(t, func(tok *Token) error { return tok.UnmarshalText([]byte(s)) }, err)
			return
		}
		if len(s) > MaxTextSize {
			t.Fatalf("accepted %d characters, more than MaxTextSize", len(s))
		}
		text, err := tok.MarshalText()
		if err != nil || string(text) != s {
			t.Fatalf("text form is not canonical (%v):\n got %s\nwant %s", err, text, s)
		}
		checkToken(t, tok, mustMarshal(t, tok))
	})
}

// FuzzParseBase64 checks the base64url form the same way.
func FuzzParseBase64(f *testing.F) {
	for _, raw := range seedTokens(f) {
		f.Add(base64.RawURLEncoding.EncodeToString(raw))
	}
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseBase64(s)
		if err != nil {
			checkRefused(t, tok, err)
			return
		}
		if len(s) > MaxBase64Size {
			t.Fatalf("accepted %d characters, more than MaxBase64Size", len(s))
		}
		b64, err := tok.Base64()
		if err != nil || b64 != s {
			t.Fatalf("base64 form is not canonical (%v):\n got %s\nwant %s", err, b64, s)
		}
		checkToken(t, tok, mustMarshal(t, tok))
	})
}

// checkDirectory checks what ParseDirectory guarantees of a directory it
// returns: it passes Validate (which MarshalBinary runs), re-encodes to
// exactly the parsed bytes in every form, and its Clone and
// UnmarshalBinary are equal to it.
func checkDirectory(t *testing.T, d *Directory, data []byte) {
	t.Helper()
	again, err := d.MarshalBinary()
	if err != nil || !bytes.Equal(again, data) {
		t.Fatalf("re-encoding differs (%v):\n got %s\nwant %s", err, again, data)
	}
	if text, err := d.MarshalText(); err != nil || !bytes.Equal(text, data) {
		t.Fatalf("MarshalText differs from MarshalBinary (%v)", err)
	}
	if c := d.Clone(); !reflect.DeepEqual(c, d) {
		t.Fatal("Clone differs")
	}
	var un Directory
	if err := un.UnmarshalBinary(data); err != nil || !reflect.DeepEqual(&un, d) {
		t.Fatalf("UnmarshalBinary disagrees with ParseDirectory: %v", err)
	}
	for i := range d.Keys {
		k := &d.Keys[i]
		if got, ok := d.Lookup(k.ID); !ok || got != k {
			t.Fatalf("Lookup(%v) does not find key %d", k.ID, i)
		}
	}
}

// checkDirectoryRefused checks that a directory failure returns nothing and
// one of the package's directory sentinels.
func checkDirectoryRefused(t *testing.T, d *Directory, err error) {
	t.Helper()
	if d != nil {
		t.Fatalf("error %v with a directory", err)
	}
	if !errors.Is(err, ErrMalformedDirectory) && !errors.Is(err, ErrInvalidDirectory) &&
		!errors.Is(err, ErrDirectorySignature) {
		t.Fatalf("error %v wraps no directory sentinel", err)
	}
}

// directorySentinel returns the directory sentinel err wraps, or err.
func directorySentinel(err error) error {
	for _, s := range []error{ErrMalformedDirectory, ErrInvalidDirectory, ErrDirectorySignature} {
		if errors.Is(err, s) {
			return s
		}
	}
	return err
}

// FuzzParseDirectory checks the directory parser: what it accepts is valid
// and is the canonical encoding of its contents; what it refuses gives a
// directory sentinel and no directory.
func FuzzParseDirectory(f *testing.F) {
	dirs, _ := seedDirectories(f)
	for _, d := range dirs {
		f.Add(d)
	}
	f.Add([]byte("{}"))
	f.Add([]byte("null"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDirectory(data)
		if err != nil {
			checkDirectoryRefused(t, d, err)
			// The Unmarshal methods refuse with the same error and
			// leave their receiver unchanged.
			for name, unmarshal := range map[string]func(*Directory, []byte) error{
				"UnmarshalBinary": (*Directory).UnmarshalBinary,
				"UnmarshalText":   (*Directory).UnmarshalText,
			} {
				un := Directory{Serial: 7}
				if uerr := unmarshal(&un, data); uerr == nil || uerr.Error() != err.Error() ||
					!reflect.DeepEqual(un, Directory{Serial: 7}) {
					t.Fatalf("%s gave %v where ParseDirectory gave %v", name, uerr, err)
				}
			}
			return
		}
		checkDirectory(t, d, data)
	})
}

// fuzzRoot is the root key of the committed vectors (package verify derives
// it from the label "root" the same way).
func fuzzRoot() ed25519.PrivateKey {
	h := sha256.Sum256([]byte("root\x00"))
	return ed25519.NewKeyFromSeed(h[:])
}

// FuzzOpenDirectory checks OpenDirectory under the vectors' root key. With
// resign set the fuzzed bytes are signed first, so the result must be
// ParseDirectory's; otherwise a directory opens only under the one
// signature the root key makes for it, whatever the fuzzed signature.
func FuzzOpenDirectory(f *testing.F) {
	root := fuzzRoot()
	pub := root.Public().(ed25519.PublicKey)
	dirs, sigs := seedDirectories(f)
	for i := range dirs {
		f.Add(dirs[i], sigs[i], false)
		f.Add(dirs[i], []byte(nil), true)
	}
	f.Fuzz(func(t *testing.T, data, sig []byte, resign bool) {
		if resign {
			sig = ed25519.Sign(root, format.DirectoryMessage(data))
		}
		d, err := OpenDirectory(data, sig, pub)
		if err != nil {
			checkDirectoryRefused(t, d, err)
		} else {
			checkDirectory(t, d, data)
		}
		if !resign && len(data) <= MaxDirectorySize &&
			!bytes.Equal(sig, ed25519.Sign(root, format.DirectoryMessage(data))) {
			if !errors.Is(err, ErrDirectorySignature) {
				t.Fatalf("a signature the root key did not make gave %v", err)
			}
			return
		}
		// Under a valid signature OpenDirectory is ParseDirectory. When it
		// accepts, checkDirectory has already shown the directory to be
		// valid and canonical.
		if err != nil {
			if _, perr := ParseDirectory(data); directorySentinel(err) != directorySentinel(perr) {
				t.Fatalf("signed directory: OpenDirectory gave %v, ParseDirectory %v", err, perr)
			}
		}
	})
}
