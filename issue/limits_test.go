package issue

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/statustoken/statustoken/internal/misusetest"
	"github.com/statustoken/statustoken/internal/testkeys"
	"github.com/statustoken/statustoken/token"
)

// TestInputLimits checks each entry point's documented maximum: the largest
// valid input has exactly that size, and an input ten times larger is
// refused with the package's error without being decoded.
func TestInputLimits(t *testing.T) {
	is := testIssuer(t, token.RSABSSA)
	data, sig, err := is.Directory(testNow, 1)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHolder(data, sig, is.RootPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	p, req, err := h.Request(1, testNow, MaxTokens)
	if err != nil {
		t.Fatal(err)
	}
	if len(req) != MaxRequestSize {
		t.Fatalf("largest request: %d bytes, MaxRequestSize %d", len(req), MaxRequestSize)
	}
	resp := blindWire{keyID: p.key.ID, elements: make([][]byte, MaxTokens)}
	for i := range resp.elements {
		resp.elements[i] = make([]byte, rsaSize)
	}
	if b, err := resp.marshal(); err != nil || len(b) != MaxResponseSize {
		t.Fatalf("largest response: %d bytes, MaxResponseSize %d", len(b), MaxResponseSize)
	}

	bigReq := make([]byte, 10*MaxRequestSize)
	copy(bigReq, req)
	bigResp := make([]byte, 10*MaxResponseSize)
	copy(bigResp, req)

	store := FileKeyStore{Dir: t.TempDir()}
	ref := KeyRef{Status: 1, NotBefore: 86400, EpochLength: 86400}
	if err := store.Put(ref, testkeys.RSA(0)); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(store.Dir, ref.String()+".pem")
	pemData, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	// The key file followed by blank lines: a PEM decoder would skip them.
	bigFile := append(pemData, make([]byte, 10*maxKeyFileSize)...)
	for i := len(pemData); i < len(bigFile); i++ {
		bigFile[i] = '\n'
	}
	if err := os.WriteFile(name, bigFile, 0o600); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name string
		max  int
		size int
		call func() error
		want error
	}{
		{"Issuer.Respond", MaxRequestSize, len(bigReq), func() error {
			_, err := is.Respond(bigReq, testNow, func() (token.Status, error) { return 1, nil })
			return err
		}, ErrMalformedRequest},
		{"Holder.Finalize", MaxResponseSize, len(bigResp), func() error { _, err := h.Finalize(p, bigResp); return err }, ErrResponse},
		{"FileKeyStore.Get", maxKeyFileSize, len(bigFile), func() error { _, err := store.Get(ref); return err }, ErrKeyFile},
	} {
		if c.size < 10*c.max {
			t.Fatalf("%s: input of %d bytes, not ten times %d", c.name, c.size, c.max)
		}
		var err error
		if n := misusetest.Allocated(func() { err = c.call() }); n > misusetest.MaxWork {
			t.Errorf("%s: allocated %d bytes to refuse %d", c.name, n, c.size)
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s of %d bytes: %v, want %v", c.name, c.size, err, c.want)
		}
	}
	// The pending request survives the oversized response.
	if p.used {
		t.Fatal("an oversized response used up the pending request")
	}
}
