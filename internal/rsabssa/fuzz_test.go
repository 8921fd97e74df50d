package rsabssa

import (
	"bytes"
	"crypto/x509"
	"errors"
	"testing"
)

// FuzzParsePublicKey checks that ParsePublicKey never panics, returns a key
// or ErrInvalidKey but not both, and accepts only bytes that MarshalPublicKey
// gives back unchanged.
func FuzzParsePublicKey(f *testing.F) {
	pkS := unhex(f, loadRFC9578(f)[0].PkS)
	f.Add(pkS)
	f.Add(pkS[:len(pkS)-1])
	f.Add(append(bytes.Clone(pkS), 0))
	pk, err := ParsePublicKey(pkS)
	if err != nil {
		f.Fatal(err)
	}
	rsaEncryption, err := x509.MarshalPKIXPublicKey(pk.RSA())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(rsaEncryption)
	f.Add(x509.MarshalPKCS1PublicKey(pk.RSA()))
	f.Fuzz(func(t *testing.T, data []byte) {
		pk, err := ParsePublicKey(data)
		if err != nil {
			if pk != nil || !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("error %v with key %v", err, pk)
			}
			return
		}
		if !bytes.Equal(MarshalPublicKey(pk), data) {
			t.Fatalf("accepted a non-canonical encoding %x", data)
		}
	})
}

// FuzzVerify checks that Verify never panics and agrees with
// crypto/rsa.VerifyPSS on every message and signature.
func FuzzVerify(f *testing.F) {
	v := loadRFC9578(f)[0]
	tok := unhex(f, v.Token)
	msg, sig := tok[:98], tok[98:]
	f.Add(msg, sig)
	f.Add(msg, sig[1:])
	f.Add(msg[1:], sig)
	f.Add([]byte{}, make([]byte, SignatureSize))
	pk, err := ParsePublicKey(unhex(f, v.PkS))
	if err != nil {
		f.Fatal(err)
	}
	std := pk.RSA()
	f.Fuzz(func(t *testing.T, msg, sig []byte) {
		ours := pk.Verify(msg, sig)
		if ours != nil && ours != ErrInvalidSignature {
			t.Fatalf("Verify returned %v", ours)
		}
		if (ours == nil) != stdVerify(std, msg, sig) {
			t.Fatalf("Verify %v, crypto/rsa disagrees", ours)
		}
	})
}
