package rsabssa

import (
	"crypto/rand"
	"math/big"
	"testing"

	"filippo.io/bigmod"
)

func BenchmarkTmpInverse(b *testing.B) {
	_, k := testKey(b)
	n := k.Public().n
	buf := make([]byte, 256)
	rand.Read(buf)
	buf[0] &= 0x7f
	w, _ := bigmod.NewNat().SetBytes(buf, n)
	b.Run("bigmod", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			x := bigmod.NewNat()
			if _, ok := x.InverseVarTime(w, n); !ok {
				b.Fatal("no")
			}
		}
	})
	N := k.Public().rsa.N
	b.Run("big", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			W := new(big.Int).SetBytes(w.Bytes(n))
			r := new(big.Int).ModInverse(W, N)
			if r == nil {
				b.Fatal("no")
			}
			_, err := bigmod.NewNat().SetBytes(r.FillBytes(make([]byte, 256)), n)
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mul", func(b *testing.B) {
		b.ReportAllocs()
		x := bigmod.NewNat().ExpandFor(n)
		for b.Loop() {
			x.Mul(w, n)
		}
	})
	b.Run("exp65537", func(b *testing.B) {
		b.ReportAllocs()
		x := bigmod.NewNat().ExpandFor(n)
		for b.Loop() {
			x.ExpShortVarTime(w, 65537, n)
		}
	})
}

func BenchmarkTmpBig(b *testing.B) {
	_, k := testKey(b)
	N := k.Public().rsa.N
	buf := make([]byte, 256)
	rand.Read(buf)
	buf[0] &= 0x7f
	W := new(big.Int).SetBytes(buf)
	E := big.NewInt(65537)
	b.Run("exp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			new(big.Int).Exp(W, E, N)
		}
	})
	b.Run("mulmod", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			x := new(big.Int).Mul(W, W)
			x.Mod(x, N)
		}
	})
}

func BenchmarkTmpModInv(b *testing.B) {
	_, k := testKey(b)
	N := k.Public().rsa.N
	buf := make([]byte, 256)
	rand.Read(buf)
	buf[0] &= 0x7f
	W := new(big.Int).SetBytes(buf)
	b.ReportAllocs()
	z := new(big.Int)
	for b.Loop() {
		z.ModInverse(W, N)
	}
}
