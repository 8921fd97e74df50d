package rsabssa

import (
	"bytes"
	"crypto/rand"
	"crypto/sha512"
	"errors"
	"math/big"
	"sync"
	"testing"

	"filippo.io/bigmod"
	"github.com/cloudflare/circl/blindsign/blindrsa"
)

// TestRoundTrip issues one signature under a fresh key. (Its storage
// round trip is tested in package rsakey.)
func TestRoundTrip(t *testing.T) {
	sk, err := GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewPrivateKey(sk)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := ParsePublicKey(k.PublicKeyBytes())
	if err != nil {
		t.Fatal(err)
	}
	if !pk.RSA().Equal(&sk.PublicKey) {
		t.Fatal("public key does not match the private key")
	}

	msg := []byte("status 1, expiry 1700000000, nonce 0123456789abcdef")
	blinded, st, err := Blind(pk, rand.Reader, msg)
	if err != nil {
		t.Fatal(err)
	}
	blindSig, err := k.BlindSign(blinded)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := Finalize(st, blindSig)
	if err != nil {
		t.Fatal(err)
	}
	if len(sig) != SignatureSize {
		t.Fatalf("signature of %d bytes", len(sig))
	}
	if err := pk.Verify(msg, sig); err != nil {
		t.Fatal(err)
	}
	// circl's verifier for the variant agrees.
	v, err := blindrsa.NewVerifier(blindrsa.SHA384PSSDeterministic, pk.RSA())
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(msg, sig); err != nil {
		t.Fatal(err)
	}
	// "Deterministic" names the empty prepare prefix only: the PSS salt is
	// fresh each time, so blinding again gives another valid signature.
	blinded2, st2, err := Blind(pk, rand.Reader, msg)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(blinded, blinded2) {
		t.Fatal("two blindings of one message are equal")
	}
	blindSig2, err := k.BlindSign(blinded2)
	if err != nil {
		t.Fatal(err)
	}
	sig2, err := Finalize(st2, blindSig2)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(sig, sig2) {
		t.Fatal("two signatures of one message are equal: the salt is not fresh")
	}
	if err := pk.Verify(msg, sig2); err != nil {
		t.Fatal(err)
	}

	if err := pk.Verify(append(msg, 0), sig); err != ErrInvalidSignature {
		t.Errorf("signature verifies for another message: %v", err)
	}
	for i := range sig {
		bad := bytes.Clone(sig)
		bad[i] ^= 0x10
		if err := pk.Verify(msg, bad); err != ErrInvalidSignature {
			t.Fatalf("signature with byte %d altered verifies: %v", i, err)
		}
	}
}

// TestBlindSignMatchesCircl compares BlindSign with circl's (math/big)
// private operation on random inputs and on the ends of the range.
func TestBlindSignMatchesCircl(t *testing.T) {
	sk, k := testKey(t)
	signer := blindrsa.NewSigner(sk)
	n := sk.N
	inputs := []*big.Int{big.NewInt(1), big.NewInt(2), new(big.Int).Sub(n, big.NewInt(1))}
	for range 8 {
		m, err := rand.Int(rand.Reader, n)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, m)
	}
	for _, m := range inputs {
		if m.Sign() == 0 {
			continue
		}
		in := m.FillBytes(make([]byte, SignatureSize))
		got, err := k.BlindSign(in)
		if err != nil {
			t.Fatal(err)
		}
		want, err := signer.BlindSign(in)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("BlindSign(%x):\n got %x\nwant %x", in, got, want)
		}
	}
}

func TestBlindSignInvalidInput(t *testing.T) {
	sk, k := testKey(t)
	nBytes := sk.N.FillBytes(make([]byte, SignatureSize))
	nPlus1 := new(big.Int).Add(sk.N, big.NewInt(1)).FillBytes(make([]byte, SignatureSize))
	ones := bytes.Repeat([]byte{0xff}, SignatureSize)
	valid := new(big.Int).Sub(sk.N, big.NewInt(1)).FillBytes(make([]byte, SignatureSize))
	for name, in := range map[string][]byte{
		"nil":            nil,
		"empty":          {},
		"one byte":       {1},
		"short":          valid[1:],
		"long":           append([]byte{0}, valid...),
		"long by 8":      append(make([]byte, 8), valid...),
		"zero":           make([]byte, SignatureSize),
		"N":              nBytes,
		"N+1":            nPlus1,
		"all ones":       ones,
		"4096-bit input": make([]byte, 512),
	} {
		sig, err := k.BlindSign(in)
		if err != ErrInvalidBlindedMessage || sig != nil {
			t.Errorf("%s: got %x, %v; want ErrInvalidBlindedMessage", name, sig, err)
		}
	}
	if _, err := k.BlindSign(valid); err != nil {
		t.Errorf("N-1: %v", err)
	}
}

// TestBlindSignFault corrupts each precomputed CRT value of a copy of the
// key and checks that BlindSign refuses to return a result.
func TestBlindSignFault(t *testing.T) {
	_, k := testKey(t)
	blinded := make([]byte, SignatureSize)
	blinded[10] = 0x42
	blinded[SignatureSize-1] = 0x07
	want, err := k.BlindSign(blinded)
	if err != nil {
		t.Fatal(err)
	}

	flip := func(b []byte) []byte {
		b = bytes.Clone(b)
		b[len(b)-1] ^= 0x04
		return b
	}
	one := func(m *bigmod.Modulus) *bigmod.Nat {
		x, err := bigmod.NewNat().SetBytes([]byte{1}, m)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	for name, corrupt := range map[string]func(*PrivateKey){
		"dP":   func(c *PrivateKey) { c.dP = flip(c.dP) },
		"dQ":   func(c *PrivateKey) { c.dQ = flip(c.dQ) },
		"qInv": func(c *PrivateKey) { c.qInv = one(c.p) },
		"qN":   func(c *PrivateKey) { c.qN = one(c.n) },
	} {
		faulty := *k
		corrupt(&faulty)
		sig, err := faulty.BlindSign(blinded)
		if !errors.Is(err, ErrFault) || sig != nil {
			t.Errorf("%s corrupted: got %x, %v; want ErrFault and no signature", name, sig, err)
		}
	}
	// The original key is untouched.
	if got, err := k.BlindSign(blinded); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("original key changed: %v", err)
	}
}

// TestBlindSignConcurrent signs from several goroutines with one key; run
// with -race it also checks that BlindSign writes no shared state.
func TestBlindSignConcurrent(t *testing.T) {
	_, k := testKey(t)
	inputs := make([][]byte, 4)
	wants := make([][]byte, len(inputs))
	for i := range inputs {
		inputs[i] = make([]byte, SignatureSize)
		rand.Read(inputs[i][1:])
		var err error
		if wants[i], err = k.BlindSign(inputs[i]); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := range inputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				got, err := k.BlindSign(inputs[i])
				if err != nil || !bytes.Equal(got, wants[i]) {
					t.Errorf("goroutine %d: wrong result (%v)", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestFinalizeInvalid(t *testing.T) {
	sk, k := testKey(t)
	pk := k.Public()
	msg := []byte("message")
	blinded, st, err := Blind(pk, rand.Reader, msg)
	if err != nil {
		t.Fatal(err)
	}
	blindSig, err := k.BlindSign(blinded)
	if err != nil {
		t.Fatal(err)
	}
	otherBlinded, _, err := Blind(pk, rand.Reader, []byte("another message"))
	if err != nil {
		t.Fatal(err)
	}
	otherSig, err := k.BlindSign(otherBlinded)
	if err != nil {
		t.Fatal(err)
	}
	plusN := new(big.Int).Add(new(big.Int).SetBytes(blindSig), sk.N)
	nonCanonical := plusN.FillBytes(make([]byte, SignatureSize+1))
	flipped := bytes.Clone(blindSig)
	flipped[100] ^= 1

	for name, in := range map[string][]byte{
		"nil":                 nil,
		"short":               blindSig[1:],
		"long":                append([]byte{0}, blindSig...),
		"zero":                make([]byte, SignatureSize),
		"N":                   sk.N.FillBytes(make([]byte, SignatureSize)),
		"all ones":            bytes.Repeat([]byte{0xff}, SignatureSize),
		"blind sig + N":       nonCanonical,
		"bit flipped":         flipped,
		"another request's":   otherSig,
		"the blinded message": blinded,
	} {
		sig, err := Finalize(st, in)
		if err != ErrInvalidSignature || sig != nil {
			t.Errorf("%s: got %x, %v; want ErrInvalidSignature", name, sig, err)
		}
	}
	if sig, err := Finalize(State{}, blindSig); err != ErrInvalidState || sig != nil {
		t.Errorf("zero State: %v", err)
	}
	// The final check is against the message: the same blinding secret
	// with the digest of another message does not finalize.
	swapped := State{pk: st.pk, sec: &secretRef{&blindSecret{mHash: sha512.Sum384([]byte("another message")), inv: st.sec.s.inv}}}
	if sig, err := Finalize(swapped, blindSig); err != ErrInvalidSignature || sig != nil {
		t.Errorf("state with another message: %v", err)
	}
	// A state whose secret is missing or of the wrong size is refused.
	for name, bad := range map[string]State{
		"no secret":     {pk: st.pk},
		"empty secret":  {pk: st.pk, sec: &secretRef{}},
		"no key":        {sec: st.sec},
		"short inverse": {pk: st.pk, sec: &secretRef{&blindSecret{mHash: st.sec.s.mHash, inv: st.sec.s.inv[1:]}}},
	} {
		if sig, err := Finalize(bad, blindSig); err != ErrInvalidState || sig != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	// A blind signature plus N encodes the same residue in 256 bytes for
	// about one answer in five; it is not the canonical value and must be
	// refused even though it would unblind to a valid signature.
	for i := 0; ; i++ {
		if i == 100 {
			t.Fatal("no blind signature below 2^2048 - N")
		}
		bl, st, err := Blind(pk, rand.Reader, msg)
		if err != nil {
			t.Fatal(err)
		}
		bs, err := k.BlindSign(bl)
		if err != nil {
			t.Fatal(err)
		}
		plus := new(big.Int).Add(new(big.Int).SetBytes(bs), sk.N)
		if plus.BitLen() > ModulusBits {
			continue
		}
		if sig, err := Finalize(st, plus.FillBytes(make([]byte, SignatureSize))); err != ErrInvalidSignature || sig != nil {
			t.Errorf("blind signature + N (256 bytes): %v", err)
		}
		break
	}
	// The state still finalizes the right answer.
	sig, err := Finalize(st, blindSig)
	if err != nil {
		t.Fatal(err)
	}
	if err := pk.Verify(msg, sig); err != nil {
		t.Fatal(err)
	}
}

type failingReader struct{}

var errReader = errors.New("reader failed")

func (failingReader) Read([]byte) (int, error) { return 0, errReader }

func TestBlindInvalid(t *testing.T) {
	_, k := testKey(t)
	if _, _, err := Blind(k.Public(), failingReader{}, []byte("m")); !errors.Is(err, ErrBlind) || !errors.Is(err, errReader) {
		t.Errorf("failing reader: %v", err)
	}
	if _, _, err := Blind(k.Public(), &fixedReader{b: make([]byte, saltLength+10)}, []byte("m")); !errors.Is(err, ErrBlind) {
		t.Errorf("short reader: %v", err)
	}
	if _, _, err := Blind(k.Public(), nil, []byte("m")); !errors.Is(err, ErrBlind) {
		t.Errorf("nil reader: %v", err)
	}
	if _, _, err := Blind(nil, rand.Reader, []byte("m")); !errors.Is(err, ErrBlind) {
		t.Errorf("nil key: %v", err)
	}
}

func TestVerifyInvalidLength(t *testing.T) {
	_, k := testKey(t)
	pk := k.Public()
	for _, n := range []int{0, 1, SignatureSize - 1, SignatureSize + 1, 2 * SignatureSize} {
		if err := pk.Verify([]byte("m"), make([]byte, n)); err != ErrInvalidSignature {
			t.Errorf("%d-byte signature: %v", n, err)
		}
	}
	if err := pk.Verify([]byte("m"), bytes.Repeat([]byte{0xff}, SignatureSize)); err != ErrInvalidSignature {
		t.Errorf("signature above N: %v", err)
	}
}

// TestPublicKeyImmutable checks that RSA returns a copy.
func TestPublicKeyImmutable(t *testing.T) {
	_, k := testKey(t)
	pk := k.Public()
	before := MarshalPublicKey(pk)
	r := pk.RSA()
	r.N.SetInt64(3)
	r.E = 3
	if !bytes.Equal(MarshalPublicKey(pk), before) || pk.rsa.N.Cmp(big.NewInt(3)) == 0 {
		t.Fatal("RSA exposes the key's own values")
	}
	out := MarshalPublicKey(pk)
	out[0] ^= 1
	if !bytes.Equal(MarshalPublicKey(pk), before) {
		t.Fatal("MarshalPublicKey exposes the key's own encoding")
	}
}
