package rsabssa

import (
	"bytes"
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"strings"
	"testing"

	"filippo.io/bigmod"
	"github.com/cloudflare/circl/blindsign/blindrsa"
)

// streamReader is an endless deterministic byte stream (ChaCha8 from a
// seed), to feed the same "random" bytes to two implementations.
type streamReader struct{ c *mrand.ChaCha8 }

func newStream(seed uint64) *streamReader {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return &streamReader{mrand.NewChaCha8(s)}
}

func (r *streamReader) Read(p []byte) (int, error) { return r.c.Read(p) }

// constReader yields the byte b forever and counts what it gave.
type constReader struct {
	b    byte
	read int
}

func (r *constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.b
	}
	r.read += len(p)
	return len(p), nil
}

// TestEMSAPSSEncode checks the encoder against the RFC 9474 vector's
// encoded_msg (4096-bit modulus) and against the independent encoder of
// pss_test.go for 2048 bits and the short-EM case.
func TestEMSAPSSEncode(t *testing.T) {
	var found bool
	for _, v := range loadRFC9474(t) {
		if v.EncodedMsg == "" || len(unhex(t, v.Salt)) != saltLength {
			continue
		}
		found = true
		mHash := sha512.Sum384(unhex(t, v.InputMsg))
		want := unhex(t, v.EncodedMsg)
		em := make([]byte, 512)
		if err := emsaPSSEncode(em, mHash[:], unhex(t, v.Salt), 4095); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(em, want) {
			t.Fatalf("%s: EMSA-PSS-ENCODE:\n got %x\nwant %x", v.Name, em, want)
		}
	}
	if !found {
		t.Fatal("no RFC 9474 vector with encoded_msg and a 48-byte salt")
	}
	for range 8 {
		var msg [40]byte
		salt := make([]byte, saltLength)
		rand.Read(msg[:])
		rand.Read(salt)
		mHash := sha512.Sum384(msg[:])
		for _, emBits := range []int{2047, 2048} {
			size := (emBits + 8) / 8
			em := make([]byte, size)
			if err := emsaPSSEncode(em, mHash[:], salt, emBits); err != nil {
				t.Fatal(err)
			}
			want := encodePSS(mHash[:], salt, emBits, nil, nil)
			if got := em[size-len(want):]; !bytes.Equal(got, want) || (size > len(want) && em[0] != 0) {
				t.Fatalf("emBits %d:\n got %x\nwant %x", emBits, em, want)
			}
			if !emsaPSSVerify(mHash[:], em, emBits) {
				t.Fatalf("emBits %d: own encoding does not verify", emBits)
			}
		}
	}
	if err := emsaPSSEncode(make([]byte, 64), make([]byte, 48), make([]byte, 48), 8*64-1); err == nil {
		t.Error("encoded into a 512-bit modulus")
	}
}

// TestBlindMatchesCircl is a differential test against circl's Client
// (math/big): fed the same bytes, both read the salt and then r the same
// way, so they must give the same blinded message, and the same signature
// from the issuer's answer.
func TestBlindMatchesCircl(t *testing.T) {
	_, k := testKey(t)
	pk := k.Public()
	client, err := blindrsa.NewClient(blindrsa.SHA384PSSDeterministic, pk.RSA())
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, msg []byte, stream func() io.Reader) {
		t.Helper()
		ours, st, err := Blind(pk, stream(), msg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		theirs, cst, err := client.Blind(stream(), msg)
		if err != nil {
			t.Fatalf("%s: circl: %v", name, err)
		}
		if !bytes.Equal(ours, theirs) {
			t.Fatalf("%s: blinded messages differ:\n ours %x\ncircl %x", name, ours, theirs)
		}
		blindSig, err := k.BlindSign(ours)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := Finalize(st, blindSig)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		csig, err := client.Finalize(cst, blindSig)
		if err != nil {
			t.Fatalf("%s: circl: %v", name, err)
		}
		if !bytes.Equal(sig, csig) {
			t.Fatalf("%s: signatures differ", name)
		}
		if err := client.Verify(msg, sig); err != nil {
			t.Fatalf("%s: circl refuses our signature: %v", name, err)
		}
	}
	for i := range 16 {
		msg := make([]byte, i*7)
		rand.Read(msg)
		seed := mrand.Uint64()
		check(fmt.Sprintf("stream %d", i), msg, func() io.Reader { return newStream(seed) })
	}
	// The first candidates for r are all ones, above N: both must refuse
	// them and take the next.
	salt := make([]byte, saltLength)
	rand.Read(salt)
	tail := make([]byte, 2*SignatureSize)
	rand.Read(tail)
	tail[0] &= 0x7f
	check("rejected candidates", []byte("m"), func() io.Reader {
		return io.MultiReader(bytes.NewReader(salt), bytes.NewReader(bytes.Repeat([]byte{0xff}, 3*SignatureSize)), bytes.NewReader(tail))
	})
}

// TestBlindMask checks that the mask u of the inversion does not change
// the blinded message or the inverse, and that a factor that is not a unit
// makes blind fail.
func TestBlindMask(t *testing.T) {
	sk, k := testKey(t)
	pk := k.Public()
	n := pk.n
	nat := func(x *big.Int) *bigmod.Nat {
		v, err := bigmod.NewNat().SetBytes(x.FillBytes(make([]byte, SignatureSize)), n)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	mHash := sha512.Sum384([]byte("token"))
	salt := bytes.Repeat([]byte{0x33}, saltLength)
	rBig, _ := rand.Int(rand.Reader, sk.N)
	r := nat(rBig)
	wantInv := new(big.Int).ModInverse(rBig, sk.N)

	var first []byte
	masks := []*big.Int{big.NewInt(1), big.NewInt(2), new(big.Int).Sub(sk.N, big.NewInt(1))}
	for range 4 {
		u, _ := rand.Int(rand.Reader, sk.N)
		masks = append(masks, u)
	}
	for _, u := range masks {
		out := make([]byte, SignatureSize)
		inv := bigmod.NewNat()
		if err := blind(pk, mHash[:], salt, r, nat(u), out, inv); err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = out
		} else if !bytes.Equal(out, first) {
			t.Fatalf("mask %x changed the blinded message", u)
		}
		if got := new(big.Int).SetBytes(inv.Bytes(n)); got.Cmp(wantInv) != 0 {
			t.Fatalf("mask %x: inverse\n got %x\nwant %x", u, got, wantInv)
		}
	}
	// The blinded message is m × r^e mod N, with m the PSS encoding.
	em := encodePSS(mHash[:], salt, ModulusBits-1, nil, nil)
	want := new(big.Int).Exp(rBig, big.NewInt(publicExponent), sk.N)
	want.Mul(want, new(big.Int).SetBytes(em)).Mod(want, sk.N)
	if !bytes.Equal(first, want.FillBytes(make([]byte, SignatureSize))) {
		t.Fatal("blinded message is not m × r^e mod N")
	}

	// A factor of N as r or as u: not invertible, ErrBlind-worthy.
	for name, c := range map[string][2]*big.Int{
		"r = p": {sk.Primes[0], big.NewInt(5)},
		"u = q": {rBig, sk.Primes[1]},
	} {
		inv := bigmod.NewNat()
		if err := blind(pk, mHash[:], salt, nat(c[0]), nat(c[1]), make([]byte, SignatureSize), inv); !errors.Is(err, errNotInvertible) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestBlindSamplingBounded checks that a source that never gives a valid r
// makes Blind fail after a bounded number of reads.
func TestBlindSamplingBounded(t *testing.T) {
	_, k := testKey(t)
	for _, b := range []byte{0xff, 0x00} {
		rnd := &constReader{b: b}
		_, st, err := Blind(k.Public(), rnd, []byte("m"))
		if !errors.Is(err, ErrBlind) || !errors.Is(err, errSamplingFailed) || st.sec != nil {
			t.Errorf("constant 0x%02x source: %v", b, err)
		}
		if want := saltLength + maxSampleAttempts*SignatureSize; rnd.read != want {
			t.Errorf("constant 0x%02x source: read %d bytes, want %d", b, rnd.read, want)
		}
	}
}

// TestStateRedacted checks that no fmt verb prints a State's secrets.
func TestStateRedacted(t *testing.T) {
	_, k := testKey(t)
	_, st, err := Blind(k.Public(), rand.Reader, []byte("secret message"))
	if err != nil {
		t.Fatal(err)
	}
	inv := st.sec.s.inv
	secrets := []string{
		fmt.Sprintf("%x", inv[:8]), fmt.Sprintf("%X", inv[:8]),
		strings.Trim(fmt.Sprint(inv[:8]), "[]"),
		fmt.Sprintf("%x", st.sec.s.mHash[:8]),
		strings.Trim(fmt.Sprint(st.sec.s.mHash[:8]), "[]"),
	}
	type exported struct{ S State }
	type unexported struct{ s State }
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
		for _, v := range []any{st, &st, exported{st}, unexported{st}, []State{st}} {
			out := fmt.Sprintf(verb, v)
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Fatalf("%s of %T prints a secret: %s", verb, v, out)
				}
			}
		}
		if out := fmt.Sprintf(verb, st); out != redactedState {
			t.Errorf("%s: %q", verb, out)
		}
	}
	if st.String() != redactedState || st.GoString() != redactedState {
		t.Error("String or GoString is not redacted")
	}
}

// TestBlindFinalizeAllocs bounds the holder's allocations per token: the
// salt and blinding buffer (reused for the state), the state, the blinded
// message and the signature; and in Blind, 24 more with Go 1.26 for the
// blinded inversion with math/big (its operands and ModInverse's GCD
// temporaries, which no caller can supply).
func TestBlindFinalizeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	_, k := testKey(t)
	pk := k.Public()
	msg := make([]byte, 98)
	rand.Read(msg)
	blinded, st, err := Blind(pk, rand.Reader, msg)
	if err != nil {
		t.Fatal(err)
	}
	blindSig, err := k.BlindSign(blinded)
	if err != nil {
		t.Fatal(err)
	}
	blindAllocs := testing.AllocsPerRun(50, func() {
		if _, _, err := Blind(pk, rand.Reader, msg); err != nil {
			t.Fatal(err)
		}
	})
	finalizeAllocs := testing.AllocsPerRun(50, func() {
		if _, err := Finalize(st, blindSig); err != nil {
			t.Fatal(err)
		}
	})
	verifyAllocs := testing.AllocsPerRun(50, func() {
		if err := pk.Verify(msg, blindSig); err != ErrInvalidSignature {
			t.Fatal(err)
		}
	})
	t.Logf("allocations: Blind %v, Finalize %v, Verify %v", blindAllocs, finalizeAllocs, verifyAllocs)
	if blindAllocs > 32 || finalizeAllocs > 1 || verifyAllocs > 0 {
		t.Errorf("allocations: Blind %v (want ≤ 32), Finalize %v (want ≤ 1), Verify %v (want 0)",
			blindAllocs, finalizeAllocs, verifyAllocs)
	}
}
