package verify

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha512"
	"fmt"
	"testing"

	"github.com/statustoken/statustoken/internal/rsabssa"
	"github.com/statustoken/statustoken/token"
)

// The ratios this package is held to come from one run, one core:
//
//	go test ./verify -run '^$' -bench 'Verify|Baseline' -cpu 1 -count 3
//
// Compare BenchmarkVerifyBatch/ed25519/n=N's ns/token with
// BenchmarkBaseline/stdlib-ed25519's ns/op, and BenchmarkVerify/rsabssa
// with BenchmarkBaseline/stdlib-rsa-pss-2048.

var sinkErr error

func BenchmarkVerify(b *testing.B) {
	f := newFixture(b, nil)
	for _, c := range []struct {
		name string
		raw  []byte
	}{{"ed25519", f.edTokens(b, 1, 1)[0]}, {"rsabssa", f.rsaTokens(b, 1, 1)[0]}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				_, sinkErr = f.v.Verify(c.raw)
			}
			if sinkErr != nil {
				b.Fatal(sinkErr)
			}
		})
	}
}

var batchSizes = []int{1, 8, 64, 256, 1024, 4096}

func BenchmarkVerifyBatch(b *testing.B) {
	f := newFixture(b, nil)
	all := f.edTokens(b, 1, 4096)
	for _, n := range batchSizes {
		b.Run(fmt.Sprintf("ed25519/n=%d", n), func(b *testing.B) {
			benchBatch(b, f, all[:n], true)
		})
	}
	for _, n := range []int{1024} {
		bad := append([][]byte(nil), all[:n]...)
		forged := append([]byte(nil), bad[n/3]...)
		forged[len(forged)-40] ^= 1
		bad[n/3] = forged
		b.Run(fmt.Sprintf("ed25519-one-bad/n=%d", n), func(b *testing.B) {
			benchBatch(b, f, bad, false)
		})
	}
	rsaToks := f.rsaTokens(b, 1, 256)
	b.Run("rsabssa/n=256", func(b *testing.B) {
		benchBatch(b, f, rsaToks, true)
	})
}

func benchBatch(b *testing.B, f *fixture, toks [][]byte, valid bool) {
	batch := f.v.NewBatch()
	errs := make([]error, len(toks))
	batch.Verify(toks, errs)
	b.ResetTimer()
	for b.Loop() {
		sinkErr = batch.Verify(toks, errs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(toks)), "ns/token")
	if (sinkErr == nil) != valid {
		b.Fatalf("batch result %v", sinkErr)
	}
}

var sinkBool bool

func BenchmarkBaseline(b *testing.B) {
	f := newFixture(b, nil)
	b.Run("stdlib-ed25519", func(b *testing.B) {
		// A message of token length, signed with a fresh key.
		priv := ed25519.NewKeyFromSeed(fixedBytes("baseline", 32))
		pub := priv.Public().(ed25519.PublicKey)
		msg := fixedBytes("message", token.MessageSize)
		sig := ed25519.Sign(priv, msg)
		for b.Loop() {
			sinkBool = ed25519.Verify(pub, msg, sig)
		}
		if !sinkBool {
			b.Fatal("baseline signature invalid")
		}
	})
	b.Run("stdlib-rsa-pss-2048", func(b *testing.B) {
		raw := f.rsaTokens(b, 1, 1)[0]
		tok, _ := token.Parse(raw)
		k, _ := f.v.dir.Lookup(tok.KeyID)
		pk, err := rsabssa.ParsePublicKey(k.PublicKey)
		if err != nil {
			b.Fatal(err)
		}
		h := sha512.Sum384(tok.Message())
		opts := &rsa.PSSOptions{SaltLength: 48}
		for b.Loop() {
			sinkErr = rsa.VerifyPSS(pk.RSA(), crypto.SHA384, h[:], tok.Signature, opts)
		}
		if sinkErr != nil {
			b.Fatal(sinkErr)
		}
	})
}
