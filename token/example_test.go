package token_test

import (
	"encoding/json"
	"errors"
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

// A *Token is an encoding.TextMarshaler and TextUnmarshaler, so encoding/json
// (and encoding/xml) carry it in its text form. Marshal through a pointer:
// the methods are on *Token.
func ExampleToken_UnmarshalText() {
	type message struct {
		Token *token.Token `json:"token"`
	}
	tok := &token.Token{Suite: token.Ed25519, Status: 1, Expiry: 1795737600, Signature: make([]byte, 64)}
	out, _ := json.Marshal(message{Token: tok})
	fmt.Println(string(out[:18]))

	var in message
	err := json.Unmarshal(out, &in)
	fmt.Println(in.Token.Status, in.Token.ExpiryTime().Format("2006-01-02"), err)

	err = json.Unmarshal([]byte(`{"token":"HT1:00"}`), &in)
	fmt.Println(errors.Is(err, token.ErrMalformed))
	// Output:
	// {"token":"HT1:W503
	// 1 2026-11-27 <nil>
	// true
}
