package rsabssa

// Benchmarks, each beside its baseline so that ratios come from one run.
// Reproduce with:
//
//	go test ./internal/rsabssa -run '^$' -bench . -cpu 1 -count 3
//
// All use the 2048-bit issuer key of RFC 9578, Appendix A.2.

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"math/big"
	"testing"

	"filippo.io/bigmod"
	"github.com/cloudflare/circl/blindsign/blindrsa"
)

var sink []byte

// benchSetup returns the key, a 98-byte token-sized message, and a blinded
// message with the state that finalizes its blind signature.
func benchSetup(b *testing.B) (*rsa.PrivateKey, *PrivateKey, []byte, []byte, State) {
	sk, k := testKey(b)
	msg := make([]byte, 98)
	rand.Read(msg)
	blinded, st, err := Blind(k.Public(), rand.Reader, msg)
	if err != nil {
		b.Fatal(err)
	}
	return sk, k, msg, blinded, st
}

func BenchmarkBlindSign(b *testing.B) {
	_, k, _, blinded, _ := benchSetup(b)
	b.Run("2048", func(b *testing.B) {
		for b.Loop() {
			s, err := k.BlindSign(blinded)
			if err != nil {
				b.Fatal(err)
			}
			sink = s
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	_, k, msg, _, _ := benchSetup(b)
	pk := k.Public()
	sig := signForBench(b, k, msg)
	b.Run("2048", func(b *testing.B) {
		for b.Loop() {
			if err := pk.Verify(msg, sig); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkHolder(b *testing.B) {
	_, k, msg, blinded, st := benchSetup(b)
	pk := k.Public()
	blindSig, err := k.BlindSign(blinded)
	if err != nil {
		b.Fatal(err)
	}
	// Each iteration is one holder's cost per token: one Blind of a fresh
	// request and one Finalize (which verifies). The Finalize is of a
	// request prepared above, so the issuer's work is not measured.
	b.Run("blind+finalize", func(b *testing.B) {
		for b.Loop() {
			bl, _, err := Blind(pk, rand.Reader, msg)
			if err != nil {
				b.Fatal(err)
			}
			sig, err := Finalize(st, blindSig)
			if err != nil {
				b.Fatal(err)
			}
			sink, sink = bl, sig
		}
	})
}

// BenchmarkBlindFinalize measures a holder's cost per token, one Blind of a
// fresh request and one Finalize (which verifies), beside circl's Client
// doing the same, which this package delegated to before:
//
//	go test ./internal/rsabssa -run '^$' -bench 'BlindFinalize' -benchmem -count 3
//
// "circl-client" is circl's Blind and Finalize alone; "circl-client+verify"
// adds the Verify that this package's Finalize ran on circl's result, so it
// is what a token cost here before. As in BenchmarkHolder, the Finalize is
// of a request prepared beforehand, so the issuer's work is not measured.
func BenchmarkBlindFinalize(b *testing.B) {
	_, k, msg, blinded, st := benchSetup(b)
	pk := k.Public()
	blindSig, err := k.BlindSign(blinded)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("rsabssa-2048", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bl, _, err := Blind(pk, rand.Reader, msg)
			if err != nil {
				b.Fatal(err)
			}
			sig, err := Finalize(st, blindSig)
			if err != nil {
				b.Fatal(err)
			}
			sink, sink = bl, sig
		}
	})

	client, err := blindrsa.NewClient(blindrsa.SHA384PSSDeterministic, pk.RSA())
	if err != nil {
		b.Fatal(err)
	}
	cBlinded, cState, err := client.Blind(rand.Reader, msg)
	if err != nil {
		b.Fatal(err)
	}
	cBlindSig, err := k.BlindSign(cBlinded)
	if err != nil {
		b.Fatal(err)
	}
	for _, verify := range []bool{false, true} {
		name := "circl-client-2048"
		if verify {
			name = "circl-client+verify-2048"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bl, _, err := client.Blind(rand.Reader, msg)
				if err != nil {
					b.Fatal(err)
				}
				sig, err := client.Finalize(cState, cBlindSig)
				if err != nil {
					b.Fatal(err)
				}
				if verify {
					if err := pk.Verify(msg, sig); err != nil {
						b.Fatal(err)
					}
				}
				sink, sink = bl, sig
			}
		})
	}
}

// BenchmarkInverse compares the variable-time inversion of Blind, math/big's
// ModInverse, with bigmod's InverseVarTime on a 2048-bit residue.
func BenchmarkInverse(b *testing.B) {
	sk, k := testKey(b)
	pk := k.Public()
	x, err := rand.Int(rand.Reader, sk.N)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("math-big-2048", func(b *testing.B) {
		b.ReportAllocs()
		z := new(big.Int)
		for b.Loop() {
			if z.ModInverse(x, sk.N) == nil {
				b.Fatal("not invertible")
			}
		}
	})
	xn, err := bigmod.NewNat().SetBytes(x.FillBytes(make([]byte, SignatureSize)), pk.n)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("bigmod-2048", func(b *testing.B) {
		b.ReportAllocs()
		z := bigmod.NewNat()
		for b.Loop() {
			if _, ok := z.InverseVarTime(xn, pk.n); !ok {
				b.Fatal("not invertible")
			}
		}
	})
}

func BenchmarkBaseline(b *testing.B) {
	sk, k, msg, blinded, _ := benchSetup(b)
	digest := sha512.Sum384(msg)
	opts := &rsa.PSSOptions{SaltLength: saltLength, Hash: crypto.SHA384}
	b.Run("stdlib-rsa-signpss-2048", func(b *testing.B) {
		for b.Loop() {
			s, err := rsa.SignPSS(rand.Reader, sk, crypto.SHA384, digest[:], opts)
			if err != nil {
				b.Fatal(err)
			}
			sink = s
		}
	})
	signer := blindrsa.NewSigner(sk)
	b.Run("circl-blindsign-2048", func(b *testing.B) {
		for b.Loop() {
			s, err := signer.BlindSign(blinded)
			if err != nil {
				b.Fatal(err)
			}
			sink = s
		}
	})
	sig := signForBench(b, k, msg)
	b.Run("stdlib-rsa-pss-2048", func(b *testing.B) {
		for b.Loop() {
			d := sha512.Sum384(msg)
			if err := rsa.VerifyPSS(&sk.PublicKey, crypto.SHA384, d[:], sig, opts); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// signForBench issues a signature of msg through the blind protocol.
func signForBench(b *testing.B, k *PrivateKey, msg []byte) []byte {
	blinded, st, err := Blind(k.Public(), rand.Reader, msg)
	if err != nil {
		b.Fatal(err)
	}
	blindSig, err := k.BlindSign(blinded)
	if err != nil {
		b.Fatal(err)
	}
	sig, err := Finalize(st, blindSig)
	if err != nil {
		b.Fatal(err)
	}
	return sig
}
