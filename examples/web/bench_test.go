package web_test

import (
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/web/internal/demo"
	"github.com/statustoken/statustoken/examples/web/internal/scan"
)

// BenchmarkNativeVerify is the native side of the page's benchmark: the
// same loop (scan.Bench, Verifier.Verify of 64 Ed25519 tokens without a
// spent store), natively. One op is one token. TestBrowserScanner runs
// the loop in the page and logs the ratio of the two.
func BenchmarkNativeVerify(b *testing.B) {
	d, err := demo.New(time.Now())
	if err != nil {
		b.Fatal(err)
	}
	texts, err := d.Tokens(64)
	if err != nil {
		b.Fatal(err)
	}
	bench, err := scan.NewBench(d.Published, d.Trust, texts)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i += bench.Len() {
		if bench.Run(1) != bench.Len() {
			b.Fatal("a token did not verify")
		}
	}
}
