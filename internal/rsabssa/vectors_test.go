package rsabssa

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"os"
	"strings"
	"testing"
)

// rfc9474Vector is one entry of testdata/rfc9474_test_vectors.json
// (RFC 9474, Appendix A). Values are hex, some with a 0x prefix.
type rfc9474Vector struct {
	Name       string `json:"name"`
	P          string `json:"p"`
	Q          string `json:"q"`
	N          string `json:"n"`
	E          string `json:"e"`
	D          string `json:"d"`
	Msg        string `json:"msg"`
	MsgPrefix  string `json:"msg_prefix"`
	InputMsg   string `json:"input_msg"`
	SLen       string `json:"sLen"`
	Salt       string `json:"salt"`
	EncodedMsg string `json:"encoded_msg"`
	Inv        string `json:"inv"`
	BlindedMsg string `json:"blinded_msg"`
	BlindSig   string `json:"blind_sig"`
	Sig        string `json:"sig"`
}

// rfc9578Vector is one entry of testdata/rfc9578_appA2_type2_blindrsa2048.json
// (RFC 9578, Appendix A.2). Values are hex.
type rfc9578Vector struct {
	SkS            string `json:"skS"`
	PkS            string `json:"pkS"`
	TokenChallenge string `json:"token_challenge"`
	Nonce          string `json:"nonce"`
	Blind          string `json:"blind"`
	Salt           string `json:"salt"`
	TokenRequest   string `json:"token_request"`
	TokenResponse  string `json:"token_response"`
	Token          string `json:"token"`
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func unhexInt(t testing.TB, s string) *big.Int {
	return new(big.Int).SetBytes(unhex(t, s))
}

func readJSON(t testing.TB, name string, v any) {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

func loadRFC9474(t testing.TB) []rfc9474Vector {
	var vs []rfc9474Vector
	readJSON(t, "rfc9474_test_vectors.json", &vs)
	if len(vs) != 4 {
		t.Fatalf("got %d RFC 9474 vectors, want 4", len(vs))
	}
	return vs
}

func loadRFC9578(t testing.TB) []rfc9578Vector {
	var vs []rfc9578Vector
	readJSON(t, "rfc9578_appA2_type2_blindrsa2048.json", &vs)
	if len(vs) != 5 {
		t.Fatalf("got %d RFC 9578 vectors, want 5", len(vs))
	}
	return vs
}

// rfc9578KeyDER returns the PKCS #8 DER of the RFC 9578 A.2 issuer key.
func rfc9578KeyDER(t testing.TB) []byte {
	v := loadRFC9578(t)[0]
	block, rest := pem.Decode(unhex(t, v.SkS))
	if block == nil || block.Type != "PRIVATE KEY" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatal("skS is not one PEM PRIVATE KEY block")
	}
	return block.Bytes
}

// testKey returns the RFC 9578 A.2 issuer key, parsed and prepared.
func testKey(t testing.TB) (*rsa.PrivateKey, *PrivateKey) {
	t.Helper()
	key, err := x509.ParsePKCS8PrivateKey(rfc9578KeyDER(t))
	if err != nil {
		t.Fatal(err)
	}
	sk, ok := key.(*rsa.PrivateKey)
	if !ok {
		t.Fatalf("skS is a %T, want an RSA key", key)
	}
	k, err := NewPrivateKey(sk)
	if err != nil {
		t.Fatal(err)
	}
	return sk, k
}

// fixedReader yields exactly its bytes, then fails: it stands in for the
// random source of Blind to reproduce a vector's salt and blinding factor.
type fixedReader struct{ b []byte }

func (r *fixedReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func TestRFC9474Vectors(t *testing.T) {
	for _, v := range loadRFC9474(t) {
		t.Run(v.Name, func(t *testing.T) {
			p, q, n := unhexInt(t, v.P), unhexInt(t, v.Q), unhexInt(t, v.N)
			e := unhexInt(t, v.E)
			if new(big.Int).Mul(p, q).Cmp(n) != 0 || !e.IsInt64() {
				t.Fatal("inconsistent vector key")
			}
			sk := &rsa.PrivateKey{
				PublicKey: rsa.PublicKey{N: n, E: int(e.Int64())},
				D:         unhexInt(t, v.D),
				Primes:    []*big.Int{p, q},
			}
			sk.Precompute()
			k, err := newPrivateKey(sk, 4096)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := NewPrivateKey(sk); err == nil {
				t.Error("NewPrivateKey accepted a 4096-bit key")
			}

			// The issuer's step is the same RSA private operation in all
			// four variants.
			blindedMsg, blindSig, sig := unhex(t, v.BlindedMsg), unhex(t, v.BlindSig), unhex(t, v.Sig)
			got, err := k.BlindSign(blindedMsg)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, blindSig) {
				t.Fatalf("BlindSign:\n got %x\nwant %x", got, blindSig)
			}

			inputMsg := unhex(t, v.InputMsg)
			if want := append(unhex(t, v.MsgPrefix), unhex(t, v.Msg)...); !bytes.Equal(inputMsg, want) {
				t.Fatal("input_msg is not msg_prefix || msg")
			}
			inv := unhexInt(t, v.Inv)
			salt := unhex(t, v.Salt)
			pk := k.Public()

			switch len(salt) {
			case saltLength:
				// PSS-Deterministic and PSS-Randomized differ only in the
				// prepared message, so the holder's steps of this package
				// reproduce both: Blind reads the salt, then r.
				r := new(big.Int).ModInverse(inv, n)
				rnd := &fixedReader{b: append(salt, r.FillBytes(make([]byte, pk.Size()))...)}
				blinded, st, err := Blind(pk, rnd, inputMsg)
				if err != nil {
					t.Fatal(err)
				}
				if len(rnd.b) != 0 {
					t.Fatalf("Blind left %d bytes of the vector's randomness unread", len(rnd.b))
				}
				if !bytes.Equal(blinded, blindedMsg) {
					t.Fatalf("Blind:\n got %x\nwant %x", blinded, blindedMsg)
				}
				final, err := Finalize(st, blindSig)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(final, sig) {
					t.Fatalf("Finalize:\n got %x\nwant %x", final, sig)
				}
				if err := pk.Verify(inputMsg, sig); err != nil {
					t.Fatal(err)
				}
				if v.Name == "RSABSSA-SHA384-PSS-Deterministic" && !bytes.Equal(inputMsg, unhex(t, v.Msg)) {
					t.Fatal("the deterministic variant has a prepare prefix")
				}
			case 0:
				// PSSZERO variants: unblind here, on public test values,
				// and check the result verifies with a zero salt, and that
				// this package's 48-byte-salt rule refuses it.
				s := new(big.Int).Mul(unhexInt(t, v.BlindSig), inv)
				s.Mod(s, n)
				if !bytes.Equal(s.FillBytes(make([]byte, len(sig))), sig) {
					t.Fatal("blind_sig × inv mod n is not sig")
				}
				digest := crypto.SHA384.New()
				digest.Write(inputMsg)
				if err := rsa.VerifyPSS(&sk.PublicKey, crypto.SHA384, digest.Sum(nil), sig,
					&rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}); err != nil {
					t.Fatal(err)
				}
				if err := pk.Verify(inputMsg, sig); err != ErrInvalidSignature {
					t.Fatalf("zero-salt signature: Verify returned %v", err)
				}
			default:
				t.Fatalf("salt of %d bytes", len(salt))
			}
		})
	}
}

// TestRFC9578Vectors checks Privacy Pass token type 2 issuance (RFC 9578,
// Appendix A.2): the issuer key, its encoding (section 6.5), the issuer's
// response to each token request, and the client's tokens.
func TestRFC9578Vectors(t *testing.T) {
	_, k := testKey(t)
	for i, v := range loadRFC9578(t) {
		pkS := unhex(t, v.PkS)
		if got := k.PublicKeyBytes(); !bytes.Equal(got, pkS) {
			t.Fatalf("vector %d: public key encoding:\n got %x\nwant %x", i, got, pkS)
		}
		pk, err := ParsePublicKey(pkS)
		if err != nil {
			t.Fatalf("vector %d: %v", i, err)
		}
		keyID := sha256.Sum256(pkS)

		// struct {
		//     uint16 token_type = 0x0002;
		//     uint8 truncated_token_key_id;
		//     uint8 blinded_msg[Nk];
		// } TokenRequest;
		req := unhex(t, v.TokenRequest)
		if len(req) != 3+SignatureSize || req[0] != 0 || req[1] != 2 || req[2] != keyID[31] {
			t.Fatalf("vector %d: unexpected TokenRequest header %x", i, req[:3])
		}
		blindedMsg := req[3:]

		// struct { uint8 blind_sig[Nk]; } TokenResponse;
		blindSig := unhex(t, v.TokenResponse)
		got, err := k.BlindSign(blindedMsg)
		if err != nil {
			t.Fatalf("vector %d: %v", i, err)
		}
		if !bytes.Equal(got, blindSig) {
			t.Fatalf("vector %d: BlindSign:\n got %x\nwant %x", i, got, blindSig)
		}

		// struct {
		//     uint16 token_type = 0x0002;
		//     uint8 nonce[32];
		//     uint8 challenge_digest[32];
		//     uint8 token_key_id[32];
		//     uint8 authenticator[Nk];
		// } Token;
		tok := unhex(t, v.Token)
		if len(tok) != 2+32+32+32+SignatureSize {
			t.Fatalf("vector %d: token of %d bytes", i, len(tok))
		}
		challengeDigest := sha256.Sum256(unhex(t, v.TokenChallenge))
		if tok[0] != 0 || tok[1] != 2 || !bytes.Equal(tok[2:34], unhex(t, v.Nonce)) ||
			!bytes.Equal(tok[34:66], challengeDigest[:]) || !bytes.Equal(tok[66:98], keyID[:]) {
			t.Fatalf("vector %d: unexpected token fields", i)
		}
		msg, authenticator := tok[:98], tok[98:]

		// The holder's steps, with the vector's salt and blind.
		rnd := &fixedReader{b: append(unhex(t, v.Salt), unhex(t, v.Blind)...)}
		blinded, st, err := Blind(pk, rnd, msg)
		if err != nil {
			t.Fatalf("vector %d: %v", i, err)
		}
		if len(rnd.b) != 0 || !bytes.Equal(blinded, blindedMsg) {
			t.Fatalf("vector %d: Blind:\n got %x\nwant %x", i, blinded, blindedMsg)
		}
		sig, err := Finalize(st, blindSig)
		if err != nil {
			t.Fatalf("vector %d: %v", i, err)
		}
		if !bytes.Equal(sig, authenticator) {
			t.Fatalf("vector %d: Finalize:\n got %x\nwant %x", i, sig, authenticator)
		}
		if err := pk.Verify(msg, authenticator); err != nil {
			t.Fatalf("vector %d: %v", i, err)
		}
		msg[len(msg)-1] ^= 1
		if err := pk.Verify(msg, authenticator); err != ErrInvalidSignature {
			t.Fatalf("vector %d: altered token verifies: %v", i, err)
		}
	}
}
