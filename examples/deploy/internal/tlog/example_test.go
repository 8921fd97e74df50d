package tlog_test

import (
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/statustoken/statustoken/examples/deploy/internal/tlog"
	"github.com/statustoken/statustoken/issue"
)

// An issuer's decision log: a batch goes in, in an order drawn at
// random, and a checkpoint covers it; the witnesses would cosign it next
// (witnessclient, with the Log making the requests).
func Example() {
	dir, err := os.MkdirTemp("", "decisions")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	skey, _, err := issue.GenerateLogKey("example.org/health/decisions")
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	l, err := tlog.Open(ctx, dir, skey, nil)
	if err != nil {
		panic(err)
	}
	defer l.Close(ctx)
	idx, err := l.Append(ctx, [][]byte{[]byte("decision a"), []byte("decision b"), []byte("decision c")})
	if err != nil {
		panic(err)
	}
	if _, err := l.AwaitCheckpoint(ctx, slices.Max(idx)+1); err != nil {
		panic(err)
	}
	size, _ := l.Size()
	entry, _ := l.Entry(ctx, idx[1])
	fmt.Println(l.Origin(), size, string(entry))
	// Output:
	// example.org/health/decisions 3 decision b
}
