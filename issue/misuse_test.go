package issue

import (
	"crypto/rsa"
	"errors"
	"testing"
	"time"

	"github.com/statustoken/statustoken/internal/misusetest"
	"github.com/statustoken/statustoken/token"
)

// TestMisuse calls every exported function and method of the package with
// zero values, nil, empty and oversized inputs: none may panic, and each
// refuses what it cannot use with one of its errors.
func TestMisuse(t *testing.T) {
	huge := make([]byte, 10*token.MaxDirectorySize)
	inputs := map[string][]byte{"nil": nil, "empty": {}, "huge": huge}

	misusetest.NoPanic(t, "NewIssuer", func() {
		if is, err := NewIssuer(Config{}); is != nil || !errors.Is(err, ErrConfig) {
			t.Errorf("NewIssuer(Config{}): %v", err)
		}
	})
	for name, in := range inputs {
		misusetest.NoPanic(t, "NewHolder "+name, func() {
			if h, err := NewHolder(in, in, in); h != nil || err == nil {
				t.Errorf("NewHolder(%s): %v", name, err)
			}
		})
	}

	var nilIssuer *Issuer
	for iname, is := range map[string]*Issuer{"nil": nilIssuer, "zero": {}} {
		misusetest.NoPanic(t, iname+" Issuer", func() {
			if pk := is.RootPublicKey(); pk != nil {
				t.Errorf("%s Issuer.RootPublicKey: %x", iname, pk)
			}
			if d, s, err := is.Directory(time.Time{}, 0); d != nil || s != nil || !errors.Is(err, ErrConfig) {
				t.Errorf("%s Issuer.Directory: %v", iname, err)
			}
			if toks, err := is.IssueEd25519(0, time.Time{}, 0); toks != nil || !errors.Is(err, ErrConfig) {
				t.Errorf("%s Issuer.IssueEd25519: %v", iname, err)
			}
			for name, in := range inputs {
				if r, err := is.Respond(in, time.Time{}, nil); r != nil || !errors.Is(err, ErrConfig) {
					t.Errorf("%s Issuer.Respond(%s): %v", iname, name, err)
				}
			}
		})
	}

	is := testIssuer(t, token.Ed25519, token.RSABSSA)
	data, sig, err := is.Directory(testNow, 1)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHolder(data, sig, is.RootPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	_, req, err := h.Request(1, testNow, 1)
	if err != nil {
		t.Fatal(err)
	}
	misusetest.NoPanic(t, "Issuer with bad arguments", func() {
		if _, err := is.Respond(req, testNow, nil); !errors.Is(err, ErrStatusNotAssigned) {
			t.Errorf("Respond with no policy: %v", err)
		}
		for name, in := range inputs {
			if r, err := is.Respond(in, testNow, func() (token.Status, error) { return 1, nil }); r != nil || !errors.Is(err, ErrMalformedRequest) {
				t.Errorf("Respond(%s): %v", name, err)
			}
		}
		for _, n := range []int{-1, 0, MaxTokens + 1} {
			if _, err := is.IssueEd25519(1, testNow, n); !errors.Is(err, ErrCount) {
				t.Errorf("IssueEd25519 n=%d: %v", n, err)
			}
		}
		if _, err := is.IssueEd25519(0, testNow, 1); !errors.Is(err, ErrUnknownStatus) {
			t.Errorf("IssueEd25519 of status 0: %v", err)
		}
		for _, at := range []time.Time{{}, time.Unix(-1, 0), time.Unix(1<<40, 0)} {
			if _, _, err := is.Directory(at, 1); !errors.Is(err, ErrNoKey) {
				t.Errorf("Directory at %v: %v", at, err)
			}
		}
	})

	var nilHolder *Holder
	for hname, zh := range map[string]*Holder{"nil": nilHolder, "zero": {}} {
		misusetest.NoPanic(t, hname+" Holder", func() {
			if p, r, err := zh.Request(1, testNow, 1); p != nil || r != nil || !errors.Is(err, ErrNoKey) {
				t.Errorf("%s Holder.Request: %v", hname, err)
			}
			if d := zh.Directory(); d != nil {
				t.Errorf("%s Holder.Directory: %+v", hname, d)
			}
			toks, err := is.IssueEd25519(1, testNow, 1)
			if err != nil {
				t.Fatal(err)
			}
			if err := zh.Accept(toks); !errors.Is(err, ErrResponse) {
				t.Errorf("%s Holder.Accept: %v", hname, err)
			}
			for name, in := range inputs {
				if toks, err := zh.Finalize(&Pending{}, in); toks != nil || !errors.Is(err, ErrResponse) {
					t.Errorf("%s Holder.Finalize(zero Pending, %s): %v", hname, name, err)
				}
			}
		})
	}
	misusetest.NoPanic(t, "Holder with bad arguments", func() {
		if err := h.Accept([]*token.Token{nil}); !errors.Is(err, ErrResponse) {
			t.Errorf("Accept of a nil token: %v", err)
		}
		if err := h.Accept([]*token.Token{{}}); !errors.Is(err, ErrResponse) {
			t.Errorf("Accept of a zero token: %v", err)
		}
		if err := h.Accept(nil); err != nil {
			t.Errorf("Accept of no tokens: %v", err)
		}
		p, _, err := h.Request(1, testNow, 1)
		if err != nil {
			t.Fatal(err)
		}
		for name, in := range inputs {
			if toks, err := h.Finalize(p, in); toks != nil || !errors.Is(err, ErrResponse) {
				t.Errorf("Finalize(%s): %v", name, err)
			}
			if toks, err := h.Finalize(nil, in); toks != nil || !errors.Is(err, ErrResponse) {
				t.Errorf("Finalize(nil Pending, %s): %v", name, err)
			}
		}
		for _, n := range []int{-1, 0, MaxTokens + 1} {
			if _, _, err := h.Request(1, testNow, n); !errors.Is(err, ErrCount) {
				t.Errorf("Request n=%d: %v", n, err)
			}
		}
		if _, _, err := h.Request(0, time.Time{}, 1); !errors.Is(err, ErrNoKey) {
			t.Errorf("Request of status 0: %v", err)
		}
	})

	ref := KeyRef{}
	misusetest.NoPanic(t, "zero MemoryKeyStore", func() {
		var m MemoryKeyStore
		if k, err := m.Get(ref); k != nil || !errors.Is(err, ErrKeyNotFound) {
			t.Errorf("zero MemoryKeyStore.Get: %v", err)
		}
		if err := m.Put(ref, &rsa.PrivateKey{}); err != nil {
			t.Errorf("zero MemoryKeyStore.Put: %v", err)
		}
		if err := m.Put(ref, nil); !errors.Is(err, ErrKeyExists) {
			t.Errorf("zero MemoryKeyStore.Put again: %v", err)
		}
		_ = ref.String()
	})
	misusetest.NoPanic(t, "FileKeyStore", func() {
		// The zero FileKeyStore uses the working directory.
		t.Chdir(t.TempDir())
		for _, fs := range []FileKeyStore{{}, {Dir: t.TempDir()}} {
			if k, err := fs.Get(ref); k != nil || !errors.Is(err, ErrKeyNotFound) {
				t.Errorf("FileKeyStore(%q).Get: %v", fs.Dir, err)
			}
			for _, k := range []*rsa.PrivateKey{nil, {}} {
				if err := fs.Put(ref, k); !errors.Is(err, ErrKeyFile) {
					t.Errorf("FileKeyStore(%q).Put of an empty key: %v", fs.Dir, err)
				}
			}
			if k, err := fs.Get(ref); k != nil || !errors.Is(err, ErrKeyNotFound) {
				t.Errorf("FileKeyStore(%q).Get after failed Puts: %v", fs.Dir, err)
			}
		}
		if _, err := (FileKeyStore{Dir: "\x00"}).Get(ref); !errors.Is(err, ErrKeyFile) {
			t.Errorf("FileKeyStore with an impossible path: %v", err)
		}
	})
}
