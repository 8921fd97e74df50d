package token_test

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/statustoken/statustoken/token"
)

// Checking a receipt (parse, then Receipt.Check against its directory)
// and an appeal bundle (CheckAppeal: the directory's root signature,
// both log proofs with their checkpoints' signatures, the receipt and
// the opening), each against one crypto/ed25519.Verify timed in the
// same loop (the x-ed25519 metric):
//
//	go test ./token -run '^$' -bench 'CheckReceipt|CheckAppeal' -cpu 1 -count 3
func BenchmarkCheckReceipt(b *testing.B) {
	f := newDecFixture(b)
	o := testOpening("bench")
	raw := marshal(b, f.receipt("bench", []byte("request"), o, 1, 1, []byte("evidence")))
	benchAgainstVerify(b, func() error {
		r, err := token.ParseReceipt(raw)
		if err != nil {
			return err
		}
		return r.Check(f.dir)
	})
}

func BenchmarkCheckAppeal(b *testing.B) {
	f := newDecFixture(b)
	bundle, _ := appealOf(b, f, testOpening("bench"))
	benchAgainstVerify(b, func() error {
		_, err := token.CheckAppeal(bundle, f.trust)
		return err
	})
}

// benchAgainstVerify times check and one ed25519.Verify alternately in
// one loop and reports their ratio, which holds on a shared machine
// whose speed drifts.
func benchAgainstVerify(b *testing.B, check func() error) {
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	pub := key.Public().(ed25519.PublicKey)
	msg := []byte("a message of a receipt's length, more or less: two hundred bytes")
	sig := ed25519.Sign(key, msg)
	var checking, verifying time.Duration
	for b.Loop() {
		t0 := time.Now()
		if err := check(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("verify failed")
		}
		t2 := time.Now()
		checking, verifying = checking+t1.Sub(t0), verifying+t2.Sub(t1)
	}
	b.ReportMetric(float64(checking)/float64(verifying), "x-ed25519")
	b.ReportMetric(float64(checking.Nanoseconds())/float64(b.N), "ns/check")
}
