package issue

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/statustoken/statustoken/internal/format"
	"github.com/statustoken/statustoken/internal/misusetest"
	"github.com/statustoken/statustoken/internal/testkeys"
	"github.com/statustoken/statustoken/token"
)

// TestInputLimits checks each entry point's documented maximum: the largest
// valid input has exactly that size, and an input ten times larger is
// refused with the package's error without being decoded. (Holder.Finalize
// is holder.TestInputLimits.)
func TestInputLimits(t *testing.T) {
	is := testIssuer(t, token.RSABSSA)
	h := testHolder(t, is)
	req := testRequest(t, h, 1, MaxTokens)
	if len(req) != MaxRequestSize {
		t.Fatalf("largest request: %d bytes, MaxRequestSize %d", len(req), MaxRequestSize)
	}
	resp, err := is.Respond(req, testNow, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp) != MaxResponseSize {
		t.Fatalf("largest response: %d bytes, MaxResponseSize %d", len(resp), MaxResponseSize)
	}
	if MaxRequestSize != format.BlindSize(MaxTokens) || MaxResponseSize != format.BlindSize(MaxTokens) {
		t.Fatalf("MaxRequestSize %d, MaxResponseSize %d, want %d", MaxRequestSize, MaxResponseSize, format.BlindSize(MaxTokens))
	}

	bigReq := make([]byte, 10*MaxRequestSize)
	copy(bigReq, req)

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
			_, err := is.Respond(bigReq, testNow, 1)
			return err
		}, ErrMalformedRequest},
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
	// A request one byte over the limit is refused too.
	if _, err := is.Respond(append(req, 0), testNow, 1); !errors.Is(err, ErrMalformedRequest) {
		t.Errorf("request of MaxRequestSize+1 bytes: %v", err)
	}
}
