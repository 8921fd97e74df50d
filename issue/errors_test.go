package issue

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/token"
)

// internalNames are the internal packages that no error text may name:
// callers see only the public packages. rsabssa is also the public name
// of a suite, and format an English word, so for those two only the
// package's own error prefix ("rsabssa: ") or a qualified name counts.
var internalNames = []string{"base45", "edsig", "keyset", "internal/", "rsabssa:", "rsabssa.", "format:", "format."}

func checkErrorText(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	s := err.Error()
	if !strings.HasPrefix(s, "issue: ") {
		t.Errorf("%s: error %q does not start with \"issue: \"", what, s)
	}
	for _, n := range internalNames {
		if strings.Contains(s, n) {
			t.Errorf("%s: error %q names an internal package (%q)", what, s, strings.TrimRight(n, ":./"))
		}
	}
}

// TestErrorText checks the text of every sentinel error and of the errors
// the package returns: each starts with "issue: " and names no internal
// package.
func TestErrorText(t *testing.T) {
	for _, err := range []error{ErrConfig, ErrMalformedRequest, ErrNotIssuing, ErrStatusNotAssigned,
		ErrCount, ErrSigning, ErrKeyNotFound, ErrKeyExists, ErrKeyFile, ErrLog} {
		checkErrorText(t, "sentinel", err)
	}

	good := Config{
		RootKey:     ed25519.NewKeyFromSeed(fixedBytes("root", 32)),
		Seed:        fixedBytes("seed", SeedSize),
		EpochLength: 24 * time.Hour,
		Statuses:    testStatuses,
	}
	for name, mutate := range map[string]func(c *Config){
		"zero":              func(c *Config) { *c = Config{} },
		"no root key":       func(c *Config) { c.RootKey = nil },
		"short seed":        func(c *Config) { c.Seed = nil },
		"epoch":             func(c *Config) { c.EpochLength = time.Minute },
		"lifetime":          func(c *Config) { c.MaxLifetime = time.Minute },
		"no statuses":       func(c *Config) { c.Statuses = nil },
		"status 0":          func(c *Config) { c.Statuses = []token.StatusName{{Code: 0, Name: "x"}} },
		"bad status name":   func(c *Config) { c.Statuses = []token.StatusName{{Code: 1, Name: "X Y"}} },
		"duplicate status":  func(c *Config) { c.Statuses = []token.StatusName{{Code: 1, Name: "x"}, {Code: 2, Name: "x"}} },
		"rsabssa, no store": func(c *Config) { c.Suites = []token.Suite{token.RSABSSA} },
		"unknown suite":     func(c *Config) { c.Suites = []token.Suite{0} },
		"epochs":            func(c *Config) { c.Epochs = 99 },
	} {
		c := good
		mutate(&c)
		_, err := NewIssuer(c)
		checkErrorText(t, "NewIssuer, "+name, err)
	}

	var zero Issuer
	_, _, err := zero.Directory(testNow, 1)
	checkErrorText(t, "Directory of a zero Issuer", err)
	_, err = zero.IssueEd25519(1, testNow, 1)
	checkErrorText(t, "IssueEd25519 of a zero Issuer", err)
	_, err = zero.Respond(nil, testNow, 1)
	checkErrorText(t, "Respond of a zero Issuer", err)

	is := testIssuer(t, token.Ed25519, token.RSABSSA)
	_, _, err = is.Directory(time.Unix(-1, 0), 1)
	checkErrorText(t, "Directory at a time out of range", err)
	_, err = is.IssueEd25519(1, testNow, 0)
	checkErrorText(t, "IssueEd25519 of 0 tokens", err)
	_, err = is.IssueEd25519(9, testNow, 1)
	checkErrorText(t, "IssueEd25519 of an unknown status", err)
	_, err = testIssuer(t, token.RSABSSA).IssueEd25519(1, testNow, 1)
	checkErrorText(t, "IssueEd25519 of an rsabssa issuer", err)
	_, err = testIssuer(t, token.Ed25519).Respond(nil, testNow, 1)
	checkErrorText(t, "Respond of an ed25519 issuer", err)

	req := testRequest(t, testHolder(t, is), 1, 2)
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(req)) }
	for name, r := range map[string][]byte{
		"empty":        nil,
		"short header": req[:5],
		"truncated":    req[:len(req)-1],
		"oversized":    make([]byte, MaxRequestSize+1),
		"version":      mut(func(b []byte) []byte { b[0] = 9; return b }),
		"count 0":      mut(func(b []byte) []byte { b[9] = 0; return b }),
		"count 1":      mut(func(b []byte) []byte { b[9] = 1; return b }),
		"unknown key":  mut(func(b []byte) []byte { b[1] ^= 1; return b }),
		"not below n":  mut(func(b []byte) []byte { copy(b[10:], bytes.Repeat([]byte{0xff}, 256)); return b }),
	} {
		_, err := is.Respond(r, testNow, 1)
		checkErrorText(t, "Respond, "+name, err)
	}
	_, err = is.Respond(req, testNow, 2)
	checkErrorText(t, "Respond, status not assigned", err)
	_, err = is.Respond(req, testNow.Add(72*time.Hour), 1)
	checkErrorText(t, "Respond, stale key", err)

	// Key stores.
	ref := KeyRef{Status: 1, NotBefore: 86400, EpochLength: 86400}
	m := NewMemoryKeyStore()
	_, err = m.Get(ref)
	checkErrorText(t, "MemoryKeyStore.Get of a missing key", err)
	m.Put(ref, &rsa.PrivateKey{})
	checkErrorText(t, "MemoryKeyStore.Put twice", m.Put(ref, &rsa.PrivateKey{}))

	fs := FileKeyStore{Dir: t.TempDir()}
	name := filepath.Join(fs.Dir, ref.String()+".pem")
	_, err = fs.Get(ref)
	checkErrorText(t, "FileKeyStore.Get of a missing key", err)
	checkErrorText(t, "FileKeyStore.Put of no key", fs.Put(ref, nil))
	checkErrorText(t, "FileKeyStore.Put of an empty key", fs.Put(ref, &rsa.PrivateKey{}))
	_, err = FileKeyStore{Dir: "\x00"}.Get(ref)
	checkErrorText(t, "FileKeyStore.Get of an impossible path", err)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.Put(ref, small); err != nil {
		t.Fatal(err)
	}
	checkErrorText(t, "FileKeyStore.Put of a stored key", fs.Put(ref, small))
	for what, content := range map[string]string{
		"garbage":       "not a key",
		"other type":    "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
		"oversized":     strings.Repeat("\n", maxKeyFileSize+1),
		"trailing data": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\nmore",
	} {
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err = fs.Get(ref)
		checkErrorText(t, "FileKeyStore.Get of a key file, "+what, err)
	}
	os.Chmod(name, 0o644)
	_, err = fs.Get(ref)
	checkErrorText(t, "FileKeyStore.Get of a key file of mode 0644", err)
	os.Remove(name)
	os.Mkdir(name, 0o700)
	_, err = fs.Get(ref)
	checkErrorText(t, "FileKeyStore.Get of a directory", err)
}

// TestErrorTextKeyFile checks the errors for a key file, or a stored
// key, that the rsabssa key parser refuses: ErrKeyFile, with a text that
// names the file and what is wrong, but not the internal parser.
func TestErrorTextKeyFile(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ref := KeyRef{Status: 1, NotBefore: 86400, EpochLength: 86400}
	fs := FileKeyStore{Dir: t.TempDir()}
	if err := fs.Put(ref, small); err != nil {
		t.Fatal(err)
	}
	_, err = fs.Get(ref)
	if !errors.Is(err, ErrKeyFile) {
		t.Errorf("FileKeyStore.Get of a 1024-bit key: %v", err)
	}
	checkErrorText(t, "FileKeyStore.Get of a 1024-bit key", err)
	name := filepath.Join(fs.Dir, ref.String()+".pem")
	if err := os.WriteFile(name, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = fs.Get(ref)
	checkErrorText(t, "FileKeyStore.Get of a key file, not PKCS #8", err)

	// A key store that hands the issuer a key it cannot use.
	bad := NewMemoryKeyStore()
	start := uint32(testNow.Unix()) / 86400 * 86400
	bad.Put(KeyRef{Status: 1, NotBefore: start, EpochLength: 86400}, small)
	bi, err := NewIssuer(Config{
		RootKey:     ed25519.NewKeyFromSeed(fixedBytes("root", 32)),
		Seed:        fixedBytes("seed", SeedSize),
		EpochLength: 24 * time.Hour,
		Statuses:    testStatuses[:1],
		Epochs:      1,
		Suites:      []token.Suite{token.RSABSSA},
		RSAKeys:     bad,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = bi.Directory(testNow, 1)
	if !errors.Is(err, ErrKeyFile) {
		t.Errorf("Directory with a 1024-bit stored key: %v", err)
	}
	checkErrorText(t, "Directory with a 1024-bit stored key", err)
}

// TestErrorTextDirectoryLimits checks the errors for a directory that
// cannot be published, its serial above token.MaxSerial, or more keys
// than a directory may list: the package's own errors (still wrapping
// token.ErrInvalidDirectory, if at all, for the serial), and a
// configuration that can never publish a directory is refused by
// NewIssuer.
func TestErrorTextDirectoryLimits(t *testing.T) {
	is := testIssuer(t, token.Ed25519)
	_, _, err := is.Directory(testNow, token.MaxSerial+1)
	checkErrorText(t, "Directory with a serial out of range", err)

	c := Config{
		RootKey:     ed25519.NewKeyFromSeed(fixedBytes("root", 32)),
		Seed:        fixedBytes("seed", SeedSize),
		EpochLength: 24 * time.Hour,
		Epochs:      16,
	}
	for i := 1; i <= 255; i++ {
		c.Statuses = append(c.Statuses, token.StatusName{Code: token.Status(i), Name: "s" + string(rune('a'+i%26)) + string(rune('a'+i/26))})
	}
	is, err = NewIssuer(c)
	if err != nil {
		if !errors.Is(err, ErrConfig) {
			t.Fatalf("NewIssuer: %v", err)
		}
		checkErrorText(t, "NewIssuer of 255 statuses and 16 epochs", err)
		return
	}
	_, _, err = is.Directory(testNow, 1)
	checkErrorText(t, "Directory of 255 statuses and 16 epochs", err)
}
