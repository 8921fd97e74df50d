package tokenmsg

import (
	"bytes"
	"testing"

	"github.com/statustoken/statustoken/token"
)

// TestAppend checks the message against the label and the binary
// token's first 47 bytes (token/SPEC.md, "Token"), for both suites, after
// existing bytes, and without allocating.
func TestAppend(t *testing.T) {
	for _, s := range []token.Suite{token.Ed25519, token.RSABSSA} {
		tok := token.Token{Suite: s, Status: 3, Expiry: 0x01020304, KeyID: token.KeyID{1, 2, 3, 4, 5, 6, 7, 8}, Signature: make([]byte, s.SignatureSize())}
		for i := range tok.Nonce {
			tok.Nonce[i] = byte(0xa0 + i)
		}
		raw, err := tok.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		want := append([]byte("prefix statustoken/v1 token"), raw[:47]...)
		got := Append([]byte("prefix "), &tok)
		if !bytes.Equal(got, want) {
			t.Errorf("%v: Append = %x, want %x", s, got, want)
		}
		if n := len(got) - len("prefix "); n != Size || Size != 67 {
			t.Errorf("%v: message of %d bytes, Size %d, want 67", s, n, Size)
		}
		var buf [Size]byte
		if allocs := testing.AllocsPerRun(10, func() { Append(buf[:0], &tok) }); allocs != 0 {
			t.Errorf("%v: Append allocates %v times", s, allocs)
		}
	}
}
