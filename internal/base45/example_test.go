package base45_test

import (
	"errors"
	"fmt"

	"github.com/statustoken/statustoken/internal/base45"
)

func Example() {
	s := base45.EncodeToString([]byte("Hello!!"))
	fmt.Printf("%q\n", s)

	b, err := base45.DecodeString(s)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", b)

	// "GGW" would stand for 65536, which no pair of bytes encodes to.
	_, err = base45.DecodeString("GGW")
	fmt.Println(errors.Is(err, base45.ErrInvalid), err)
	// Output:
	// "%69 VD92EX0"
	// Hello!!
	// true base45: invalid encoding: group at offset 0 has value above 65535
}
