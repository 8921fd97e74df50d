package verify

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha512"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/statustoken/statustoken/internal/edsig"
	"github.com/statustoken/statustoken/internal/format"
	"github.com/statustoken/statustoken/internal/rsabssa"
	"github.com/statustoken/statustoken/token"
)

// The ratios this package is held to come from one run, one core:
//
//	go test ./verify -run '^$' -bench 'Verify|Baseline' -cpu 1 -count 3
//
// Compare BenchmarkVerifyBatch/ed25519/n=N's ns/token with
// BenchmarkBaseline/stdlib-ed25519's ns/op, and BenchmarkVerify/rsabssa
// with BenchmarkBaseline/stdlib-rsa-pss-2048. On a shared machine, whose
// speed drifts between benchmarks, the x-stdlib metric of the Ed25519
// benchmarks is steadier: each one times crypto/ed25519.Verify of a
// token-length message just before and just after its own loop, and
// divides its ns/token by the mean of the two.

var sinkErr error

// stdlibEd25519 returns crypto/ed25519.Verify of a message of token
// length, with its key and signature.
func stdlibEd25519() (ed25519.PublicKey, []byte, []byte) {
	priv := ed25519.NewKeyFromSeed(fixedBytes("baseline", 32))
	msg := fixedBytes("message", format.MessageSize)
	return priv.Public().(ed25519.PublicKey), msg, ed25519.Sign(priv, msg)
}

// stdlibNs times crypto/ed25519.Verify for about 30ms and returns its
// ns/op.
func stdlibNs() float64 {
	pub, msg, sig := stdlibEd25519()
	n, start := 0, time.Now()
	for time.Since(start) < 30*time.Millisecond {
		sinkBool = ed25519.Verify(pub, msg, sig)
		n++
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

func BenchmarkVerify(b *testing.B) {
	f := newFixture(b, nil)
	for _, c := range []struct {
		name string
		raw  []byte
	}{{"ed25519", f.edTokens(b, 1, 1)[0]}, {"rsabssa", f.rsaTokens(b, 1, 1)[0]}} {
		b.Run(c.name, func(b *testing.B) {
			before := stdlibNs()
			for b.Loop() {
				_, sinkErr = f.v.Verify(bg, c.raw)
			}
			if sinkErr != nil {
				b.Fatal(sinkErr)
			}
			if c.name == "ed25519" {
				perToken := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
				b.ReportMetric(perToken/((before+stdlibNs())/2), "x-stdlib")
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
		// A forgery that decodes and enters the batch equation: a low
		// byte of S changes, so S stays canonical.
		forged := append([]byte(nil), bad[n/3]...)
		forged[len(forged)-30] ^= 1
		bad[n/3] = forged
		b.Run(fmt.Sprintf("ed25519-one-bad/n=%d", n), func(b *testing.B) {
			benchBatch(b, f, bad, false)
		})
	}
	// The bare signature batch under the token layer, on the same
	// messages: the difference is the cost of parsing, key lookup and
	// time checks.
	b.Run("ed25519-bare-signatures/n=1024", func(b *testing.B) {
		toks := all[:1024]
		msgs := make([][]byte, len(toks))
		for i, raw := range toks {
			tok, err := token.Parse(raw)
			if err != nil {
				b.Fatal(err)
			}
			msgs[i] = message(tok)
		}
		k := f.v.keys.Lookup(token.KeyID(toks[0][7:15]))
		var batch edsig.Batch
		ok := make([]bool, len(toks))
		before := stdlibNs()
		for b.Loop() {
			batch.Reset()
			for i, raw := range toks {
				batch.Add(k.Ed, msgs[i], raw[47:])
			}
			sinkBool, _ = batch.Verify(ok)
		}
		perToken := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(len(toks))
		b.ReportMetric(perToken, "ns/token")
		b.ReportMetric(perToken/((before+stdlibNs())/2), "x-stdlib")
		if !sinkBool {
			b.Fatal("bare batch failed")
		}
	})
	rsaToks := f.rsaTokens(b, 1, 256)
	b.Run("rsabssa/n=256", func(b *testing.B) {
		benchBatch(b, f, rsaToks, true)
	})
}

func benchBatch(b *testing.B, f *fixture, toks [][]byte, valid bool) {
	batch := f.v.NewBatch()
	errs := make([]error, len(toks))
	batch.Verify(bg, toks, nil, errs)
	before := stdlibNs()
	for b.Loop() {
		sinkErr = batch.Verify(bg, toks, nil, errs)
	}
	perToken := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(len(toks))
	b.ReportMetric(perToken, "ns/token")
	if toks[0][1] == byte(token.Ed25519) {
		b.ReportMetric(perToken/((before+stdlibNs())/2), "x-stdlib")
	}
	if (sinkErr == nil) != valid {
		b.Fatalf("batch result %v", sinkErr)
	}
	if !valid {
		bad := 0
		for _, err := range errs {
			if errors.Is(err, ErrInvalidSignature) {
				bad++
			} else if err != nil {
				b.Fatalf("unexpected error %v", err)
			}
		}
		if bad != 1 {
			b.Fatalf("%d invalid signatures, want 1", bad)
		}
	}
}

var sinkBool bool

func BenchmarkBaseline(b *testing.B) {
	f := newFixture(b, nil)
	b.Run("stdlib-ed25519", func(b *testing.B) {
		pub, msg, sig := stdlibEd25519()
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
		h := sha512.Sum384(message(tok))
		opts := &rsa.PSSOptions{SaltLength: 48}
		for b.Loop() {
			sinkErr = rsa.VerifyPSS(pk.RSA(), crypto.SHA384, h[:], tok.Signature, opts)
		}
		if sinkErr != nil {
			b.Fatal(sinkErr)
		}
	})
}

// BenchmarkVerifyText times Verifier.VerifyText and Verifier.Verify of
// the same token in alternating order within every iteration, and
// reports their ratio as x-binary:
//
//	go test ./verify -run '^$' -bench 'Text' -cpu 1 -count 5
func BenchmarkVerifyText(b *testing.B) {
	f := newFixture(b, nil)
	raw := f.edTokens(b, 1, 1)[0]
	txt := texts(b, [][]byte{raw})[0]
	var text, bin time.Duration
	i := 0
	for b.Loop() {
		t0 := time.Now()
		if i%2 == 0 {
			_, sinkErr = f.v.VerifyText(bg, txt)
		} else {
			_, sinkErr = f.v.Verify(bg, raw)
		}
		t1 := time.Now()
		if i%2 == 0 {
			_, sinkErr = f.v.Verify(bg, raw)
		} else {
			_, sinkErr = f.v.VerifyText(bg, txt)
		}
		t2 := time.Now()
		if i%2 == 0 {
			text, bin = text+t1.Sub(t0), bin+t2.Sub(t1)
		} else {
			bin, text = bin+t1.Sub(t0), text+t2.Sub(t1)
		}
		i++
	}
	if sinkErr != nil {
		b.Fatal(sinkErr)
	}
	b.ReportMetric(float64(text)/float64(bin), "x-binary")
}

// BenchmarkVerifyBatchText times Batch.VerifyText and Batch.Verify of
// the same 1024 Ed25519 tokens, alternating within every iteration, and
// reports their ratio as x-binary (command as for BenchmarkVerifyText).
func BenchmarkVerifyBatchText(b *testing.B) {
	f := newFixture(b, &Options{Workers: 1})
	raws := f.edTokens(b, 1, 1024)
	txt := texts(b, raws)
	batch := f.v.NewBatch()
	errs := make([]error, len(raws))
	results := make([]Result, len(raws))
	var text, bin time.Duration
	for b.Loop() {
		t0 := time.Now()
		sinkErr = batch.VerifyText(bg, txt, results, errs)
		t1 := time.Now()
		if sinkErr == nil {
			sinkErr = batch.Verify(bg, raws, results, errs)
		}
		t2 := time.Now()
		text, bin = text+t1.Sub(t0), bin+t2.Sub(t1)
	}
	if sinkErr != nil {
		b.Fatal(sinkErr)
	}
	b.ReportMetric(float64(text)/float64(bin), "x-binary")
	b.ReportMetric(float64(text.Nanoseconds())/float64(b.N)/float64(len(raws)), "ns/token")
}
