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
	// true group at offset 0
}

func ExampleDecodeStringInto() {
	// A fixed buffer, large enough for the longest input expected.
	var buf [16]byte

	n, err := base45.DecodeStringInto(buf[:], "%69 VD92EX0")
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", buf[:n])

	// The second group, "GGW", is the first faulty one; the final pair
	// "::" is faulty too. Nothing decoded is left in buf.
	n, err = base45.DecodeStringInto(buf[:], "BB8GGW::")
	fmt.Println(n, err, buf[:5])
	// Output:
	// Hello!!
	// 0 group at offset 3 [0 0 0 0 0]
}
