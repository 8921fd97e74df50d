package keyset

import (
	"testing"

	"github.com/statustoken/statustoken/internal/format"
	"github.com/statustoken/statustoken/token"
)

// TestMatchesParsed checks that MatchesParsed agrees with token.Key.Matches
// on a token with the key's fields and on every change of one of them.
func TestMatchesParsed(t *testing.T) {
	k := &Key{Key: token.Key{ID: token.KeyID{1, 2, 3, 4, 5, 6, 7, 8}, Suite: token.RSABSSA, Status: 7, Expiry: 86400 * 30}}
	base := format.Token{Suite: byte(k.Suite), Status: byte(k.Status), Expiry: k.Expiry, KeyID: k.ID, Nonce: [32]byte{9}}
	cases := map[string]func(f *format.Token){
		"same":    func(*format.Token) {},
		"key ID":  func(f *format.Token) { f.KeyID[7] ^= 1 },
		"suite":   func(f *format.Token) { f.Suite = format.SuiteEd25519 },
		"status":  func(f *format.Token) { f.Status++ },
		"expiry":  func(f *format.Token) { f.Expiry += 86400 },
		"nonce":   func(f *format.Token) { f.Nonce[0] ^= 1 },
		"no sigs": func(f *format.Token) { f.Signature = nil },
	}
	for name, change := range cases {
		f := base
		change(&f)
		tok := token.Token{Suite: token.Suite(f.Suite), Status: token.Status(f.Status), Expiry: f.Expiry, KeyID: f.KeyID, Nonce: f.Nonce}
		if got, want := k.MatchesParsed(&f), k.Matches(&tok); got != want {
			t.Errorf("%s: MatchesParsed = %v, Matches = %v", name, got, want)
		}
	}
	if (*Key)(nil).MatchesParsed(&base) || k.MatchesParsed(nil) {
		t.Error("MatchesParsed with nil")
	}
}
