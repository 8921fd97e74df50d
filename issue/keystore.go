package issue

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/statustoken/statustoken/internal/rsabssa/rsakey"
	"github.com/statustoken/statustoken/token"
)

var (
	// ErrKeyNotFound is returned by a KeyStore that holds no key for a
	// reference; the Issuer then generates one. KeyStore implementations
	// must return it (wrapped or not) for a missing key.
	ErrKeyNotFound = errors.New("issue: key not found")
	// ErrKeyExists is returned by a KeyStore asked to store a second key
	// for one reference; the Issuer then reads the stored one.
	// KeyStore implementations must return it for an existing key.
	ErrKeyExists = errors.New("issue: key already stored")
	// ErrKeyFile is returned for a key file that is unreadable, malformed,
	// of the wrong size or exponent, not a regular file, or readable by
	// others than its owner. The operator must repair the key directory.
	ErrKeyFile = errors.New("issue: bad key file")
)

// KeyRef names one RSABSSA issuing key: one per status and epoch.
type KeyRef struct {
	Status token.Status
	// NotBefore is the epoch's start in Unix seconds; EpochLength its
	// length in seconds.
	NotBefore, EpochLength uint32
}

func (r KeyRef) String() string {
	return fmt.Sprintf("rsabssa-s%d-e%d-l%d", r.Status, r.NotBefore, r.EpochLength)
}

// KeyStore keeps RSABSSA private keys, generated ahead of their epochs.
// Implementations must be safe for concurrent use.
type KeyStore interface {
	// Get returns the key stored for ref, or an error wrapping
	// ErrKeyNotFound.
	Get(ref KeyRef) (*rsa.PrivateKey, error)
	// Put stores key for ref, or returns an error wrapping ErrKeyExists
	// when ref already has a key.
	Put(ref KeyRef, key *rsa.PrivateKey) error
}

// MemoryKeyStore is a KeyStore in memory, for tests and demos.
type MemoryKeyStore struct {
	mu   sync.Mutex
	keys map[KeyRef]*rsa.PrivateKey
}

// NewMemoryKeyStore returns an empty MemoryKeyStore.
func NewMemoryKeyStore() *MemoryKeyStore {
	return &MemoryKeyStore{keys: make(map[KeyRef]*rsa.PrivateKey)}
}

// Get implements KeyStore.
func (m *MemoryKeyStore) Get(ref KeyRef) (*rsa.PrivateKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if k, ok := m.keys[ref]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w: %v", ErrKeyNotFound, ref)
}

// Put implements KeyStore.
func (m *MemoryKeyStore) Put(ref KeyRef, key *rsa.PrivateKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys == nil {
		m.keys = make(map[KeyRef]*rsa.PrivateKey)
	}
	if _, ok := m.keys[ref]; ok {
		return fmt.Errorf("%w: %v", ErrKeyExists, ref)
	}
	m.keys[ref] = key
	return nil
}

// FileKeyStore keeps each key in its own PEM file (PKCS #8) in a
// directory. Files are created with mode 0600, and a key file that anyone
// but its owner may read or write is refused, as is one larger than
// 16 KiB (a 2048-bit key's file is about 1.7 KB).
type FileKeyStore struct {
	Dir string
}

// maxKeyFileSize bounds what FileKeyStore reads; a 2048-bit PKCS #8 PEM
// file is about 1.7 KB.
const maxKeyFileSize = 16 << 10

func (f FileKeyStore) path(ref KeyRef) string {
	return filepath.Join(f.Dir, ref.String()+".pem")
}

// Get implements KeyStore. It refuses, before opening it, anything but a
// regular file (a symbolic link, FIFO or device named like a key file is
// neither opened nor read), and a file that anyone but its owner may read
// or write.
func (f FileKeyStore) Get(ref KeyRef) (*rsa.PrivateKey, error) {
	name := f.path(ref)
	st, err := os.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %v", ErrKeyNotFound, ref)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	if err := checkKeyFileInfo(name, st); err != nil {
		return nil, err
	}
	file, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	defer file.Close()
	// The file opened must be the one checked.
	ost, err := file.Stat()
	if err != nil || !os.SameFile(st, ost) {
		return nil, fmt.Errorf("%w: %s changed while it was opened", ErrKeyFile, name)
	}
	if err := checkKeyFileInfo(name, ost); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(file, maxKeyFileSize+1))
	if err != nil || len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("%w: cannot read %s", ErrKeyFile, name)
	}
	return parseKeyPEM(data, name)
}

func checkKeyFileInfo(name string, st fs.FileInfo) error {
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file (mode %v)", ErrKeyFile, name, st.Mode())
	}
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %v, want 0600 or narrower", ErrKeyFile, name, st.Mode())
	}
	if st.Size() > maxKeyFileSize {
		return fmt.Errorf("%w: %s is %d bytes", ErrKeyFile, name, st.Size())
	}
	return nil
}

func parseKeyPEM(data []byte, name string) (*rsa.PrivateKey, error) {
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" || len(rest) != 0 || len(block.Headers) != 0 {
		return nil, fmt.Errorf("%w: %s is not one PEM \"PRIVATE KEY\" block", ErrKeyFile, name)
	}
	k, err := rsakey.Parse(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %s", ErrKeyFile, name, keyDetail(err))
	}
	return k, nil
}

// keyDetail describes an RSA key error of package rsakey, whose text is
// the reason alone. Those errors describe structure, never key material.
func keyDetail(err error) string {
	return "invalid rsabssa private key: " + err.Error()
}

// Put implements KeyStore. It writes the file with mode 0600 and fails if
// the file exists.
func (f FileKeyStore) Put(ref KeyRef, key *rsa.PrivateKey) error {
	if key == nil {
		return fmt.Errorf("%w: no key", ErrKeyFile)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	name := f.path(ref)
	file, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: %v", ErrKeyExists, ref)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	if _, err := file.Write(data); err != nil {
		file.Close()
		os.Remove(name)
		return fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	if err := file.Close(); err != nil {
		os.Remove(name)
		return fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	return nil
}
