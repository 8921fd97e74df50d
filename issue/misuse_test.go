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
// refuses what it cannot use with one of its errors. (The holder's side
// is holder.TestMisuse.)
func TestMisuse(t *testing.T) {
	huge := make([]byte, 10*token.MaxDirectorySize)
	inputs := map[string][]byte{"nil": nil, "empty": {}, "huge": huge}

	misusetest.NoPanic(t, "NewIssuer", func() {
		if is, err := NewIssuer(Config{}); is != nil || !errors.Is(err, ErrConfig) {
			t.Errorf("NewIssuer(Config{}): %v", err)
		}
	})

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
				for _, status := range []token.Status{0, 1} {
					if r, err := is.Respond(in, time.Time{}, status); r != nil || !errors.Is(err, ErrConfig) {
						t.Errorf("%s Issuer.Respond(%s, status %d): %v", iname, name, status, err)
					}
				}
			}
		})
	}

	is := testIssuer(t, token.Ed25519, token.RSABSSA)
	req := testRequest(t, testHolder(t, is), 1, 1)
	misusetest.NoPanic(t, "Issuer with bad arguments", func() {
		// Status 0 is the zero Status: no status assigned, nothing issued.
		if r, err := is.Respond(req, testNow, 0); r != nil || !errors.Is(err, ErrStatusNotAssigned) {
			t.Errorf("Respond with no status assigned: %v", err)
		}
		for name, in := range inputs {
			if r, err := is.Respond(in, testNow, 1); r != nil || !errors.Is(err, ErrMalformedRequest) {
				t.Errorf("Respond(%s): %v", name, err)
			}
		}
		for _, n := range []int{-1, 0, MaxTokens + 1} {
			if _, err := is.IssueEd25519(1, testNow, n); !errors.Is(err, ErrCount) {
				t.Errorf("IssueEd25519 n=%d: %v", n, err)
			}
		}
		if _, err := is.IssueEd25519(0, testNow, 1); !errors.Is(err, ErrNotIssuing) {
			t.Errorf("IssueEd25519 of status 0: %v", err)
		}
		for _, at := range []time.Time{{}, time.Unix(-1, 0), time.Unix(1<<40, 0)} {
			if _, _, err := is.Directory(at, 1); !errors.Is(err, ErrNotIssuing) {
				t.Errorf("Directory at %v: %v", at, err)
			}
			if _, err := is.IssueEd25519(1, at, 1); !errors.Is(err, ErrNotIssuing) {
				t.Errorf("IssueEd25519 at %v: %v", at, err)
			}
			if _, err := is.Respond(req, at, 1); !errors.Is(err, ErrNotIssuing) {
				t.Errorf("Respond at %v: %v", at, err)
			}
		}
		if _, _, err := is.Directory(testNow, token.MaxSerial+1); !errors.Is(err, token.ErrInvalidDirectory) {
			t.Errorf("Directory with serial MaxSerial+1: %v", err)
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
		if err := (FileKeyStore{Dir: "\x00"}).Put(ref, nil); !errors.Is(err, ErrKeyFile) {
			t.Errorf("FileKeyStore.Put with an impossible path: %v", err)
		}
	})
}
