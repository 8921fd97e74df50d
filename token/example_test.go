package token_test

import (
	"fmt"

	"github.com/statustoken/statustoken/token"
)

// The text form of a token is what a wallet shows as a QR code; parsing
// accepts exactly one encoding and nothing else.
func ExampleParseText() {
	tok := &token.Token{
		Suite:     token.Ed25519,
		Status:    1,
		Expiry:    1795737600,
		Signature: make([]byte, 64),
	}
	text, _ := tok.MarshalText()
	fmt.Println(len(text), string(text[:4]))

	back, err := token.ParseText(string(text))
	fmt.Println(back.Status, back.ExpiryTime().Format("2006-01-02"), err)

	_, err = token.ParseText(string(text) + "0")
	fmt.Println(err != nil)
	// Output:
	// 171 HT1:
	// 1 2026-11-27 <nil>
	// true
}
