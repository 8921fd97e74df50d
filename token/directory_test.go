package token_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/statustoken/statustoken/internal/format"
	"github.com/statustoken/statustoken/token"
)

const day = 86400

func edPub(label string) []byte {
	seed := sha256.Sum256([]byte(label))
	return ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
}

func edKey(label string, status token.Status, notBefore uint32) token.Key {
	pub := edPub(label)
	return token.Key{ID: token.ComputeKeyID(pub), Suite: token.Ed25519, Status: status,
		NotBefore: notBefore, Expiry: notBefore + day, PublicKey: pub}
}

// plainDirectory is token.Directory without its methods. Since API 1.0
// *token.Directory implements encoding.TextMarshaler, whose MarshalText
// validates: json.Marshal of a *token.Directory refuses an invalid one,
// and encodes a valid one as a JSON string. Tests that need the JSON
// object of an invalid directory encode a *plainDirectory.
type plainDirectory token.Directory

func validDirectory() *token.Directory {
	return &token.Directory{
		Version: 1, Serial: 5, EpochLength: day, MaxLifetime: day,
		Statuses: []token.StatusName{{Code: 1, Name: "green"}, {Code: 2, Name: "red"}},
		Keys: []token.Key{
			edKey("a", 1, 20*day), edKey("b", 2, 20*day),
			edKey("c", 1, 21*day), edKey("d", 2, 21*day),
		},
	}
}

func TestDirectoryRoundTrip(t *testing.T) {
	d := validDirectory()
	data, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := token.ParseDirectory(data)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := got.MarshalBinary()
	if !bytes.Equal(again, data) {
		t.Fatal("re-encoding differs")
	}
	seed := sha256.Sum256([]byte("root"))
	root := ed25519.NewKeyFromSeed(seed[:])
	sig := ed25519.Sign(root, format.DirectoryMessage(data))
	if _, err := token.OpenDirectory(data, sig, root.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	// The signature covers the label: a signature over the bare bytes,
	// made for another purpose, does not open the directory.
	if _, err := token.OpenDirectory(data, ed25519.Sign(root, data), root.Public().(ed25519.PublicKey)); !errors.Is(err, token.ErrDirectorySignature) {
		t.Fatalf("signature without the label: %v", err)
	}
	if k, ok := got.Lookup(d.Keys[2].ID); !ok || k.Status != 1 || k.NotBefore != 21*day {
		t.Fatalf("Lookup: %+v %v", k, ok)
	}
	if name, ok := got.StatusName(2); !ok || name != "red" {
		t.Fatalf("StatusName: %q %v", name, ok)
	}
}

// nonCanonicalDirectories returns encodings of validDirectory() other
// than the canonical one, and other bytes that are no directory.
func nonCanonicalDirectories() map[string]string {
	data, _ := validDirectory().MarshalBinary()
	s := string(data)
	var indented bytes.Buffer
	json.Indent(&indented, data, "", " ")
	return map[string]string{
		"indented":        indented.String(),
		"trailing space":  s + " ",
		"trailing object": s + "{}",
		"leading space":   " " + s,
		"unknown field":   strings.Replace(s, `{"version":1,`, `{"version":1,"issuer":"x",`, 1),
		"duplicate field": strings.Replace(s, `{"version":1,`, `{"version":1,"version":1,`, 1),
		"field case":      strings.Replace(s, `"serial"`, `"Serial"`, 1),
		"field order":     strings.Replace(s, `{"version":1,"serial":5,`, `{"serial":5,"version":1,`, 1),
		"number form":     strings.Replace(s, `"serial":5`, `"serial":5.0`, 1),
		"escaped name":    strings.Replace(s, `"green"`, `"gr\u0065en"`, 1),
		"empty":           "",
		"null":            "null",
		"oversized":       s + strings.Repeat(" ", token.MaxDirectorySize),
	}
}

func TestDirectoryNonCanonical(t *testing.T) {
	for name, v := range nonCanonicalDirectories() {
		if _, err := token.ParseDirectory([]byte(v)); !errors.Is(err, token.ErrMalformedDirectory) {
			t.Errorf("%s: got %v, want ErrMalformedDirectory", name, err)
		}
	}
}

// directoryRules returns mutations of validDirectory() that each break one
// rule of SPEC.md, "Directory".
func directoryRules() map[string]func(d *token.Directory) {
	return map[string]func(d *token.Directory){
		"version 2":               func(d *token.Directory) { d.Version = 2 },
		"serial too large":        func(d *token.Directory) { d.Serial = token.MaxSerial + 1 },
		"epoch too short":         func(d *token.Directory) { d.EpochLength = 3599 },
		"epoch too long":          func(d *token.Directory) { d.EpochLength = 7*day + 1 },
		"lifetime below epoch":    func(d *token.Directory) { d.MaxLifetime = day - 1 },
		"lifetime above 2 epochs": func(d *token.Directory) { d.MaxLifetime = 2*day + 1 },
		"no statuses":             func(d *token.Directory) { d.Statuses = nil },
		"status 0":                func(d *token.Directory) { d.Statuses[0].Code = 0 },
		"statuses unsorted":       func(d *token.Directory) { d.Statuses[0], d.Statuses[1] = d.Statuses[1], d.Statuses[0] },
		"duplicate status name":   func(d *token.Directory) { d.Statuses[1].Name = "green" },
		"upper-case name":         func(d *token.Directory) { d.Statuses[1].Name = "Red" },
		"empty name":              func(d *token.Directory) { d.Statuses[1].Name = "" },
		"long name":               func(d *token.Directory) { d.Statuses[1].Name = strings.Repeat("r", 33) },
		"no keys":                 func(d *token.Directory) { d.Keys = nil },
		"unknown key status":      func(d *token.Directory) { d.Keys[0] = edKey("a", 3, 20*day) },
		"unknown suite":           func(d *token.Directory) { d.Keys[0].Suite = 3 },
		"misaligned epoch":        func(d *token.Directory) { d.Keys[0].NotBefore++; d.Keys[0].Expiry++ },
		"expiry not epoch end":    func(d *token.Directory) { d.Keys[0].Expiry++ },
		"wrong key ID":            func(d *token.Directory) { d.Keys[0].ID[0] ^= 1 },
		"keys unsorted":           func(d *token.Directory) { d.Keys[0], d.Keys[2] = d.Keys[2], d.Keys[0] },
		"overlapping epochs": func(d *token.Directory) {
			d.Keys[2] = edKey("c", 1, 20*day)
			d.Keys[1], d.Keys[2] = d.Keys[2], d.Keys[1]
		},
		"duplicate key": func(d *token.Directory) {
			d.Keys[2] = d.Keys[0]
			d.Keys[2].NotBefore, d.Keys[2].Expiry = 21*day, 22*day
		},
		"short ed25519 key": func(d *token.Directory) { d.Keys[0].PublicKey = d.Keys[0].PublicKey[:31] },
		"small-order key": func(d *token.Directory) {
			pub := make([]byte, 32)
			pub[0] = 1 // the identity
			d.Keys[0].PublicKey, d.Keys[0].ID = pub, token.ComputeKeyID(pub)
		},
		"non-canonical key": func(d *token.Directory) {
			pub := bytes.Repeat([]byte{0xff}, 32)
			pub[0], pub[31] = 0xee, 0x7f // y = p + 1, which reduces to the identity's y = 1
			d.Keys[0].PublicKey, d.Keys[0].ID = pub, token.ComputeKeyID(pub)
		},
		"rsabssa garbage key": func(d *token.Directory) {
			d.Keys[0].Suite = token.RSABSSA
		},
	}
}

// invalidDirectory returns the JSON object of validDirectory() after
// mutate, as a careless issuer would publish it, or nil if it cannot be
// encoded (an unknown suite has no name).
func invalidDirectory(mutate func(d *token.Directory)) []byte {
	d := validDirectory()
	mutate(d)
	data, err := json.Marshal((*plainDirectory)(d))
	if err != nil {
		return nil
	}
	return data
}

func TestDirectoryRules(t *testing.T) {
	for name, mutate := range directoryRules() {
		d := validDirectory()
		mutate(d)
		if _, err := d.MarshalBinary(); !errors.Is(err, token.ErrInvalidDirectory) {
			t.Errorf("%s: Marshal gave %v, want ErrInvalidDirectory", name, err)
		}
		// The same bytes, as a careless issuer would publish them.
		data, err := json.Marshal((*plainDirectory)(d))
		if err != nil {
			if name != "unknown suite" {
				t.Errorf("%s: cannot encode the directory: %v", name, err)
			}
			continue // not even encodable (an unknown suite has no name)
		}
		if _, err := token.ParseDirectory(data); !errors.Is(err, token.ErrInvalidDirectory) {
			t.Errorf("%s: ParseDirectory gave %v, want ErrInvalidDirectory", name, err)
		}
	}
}
