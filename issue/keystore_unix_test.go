//go:build unix

package issue

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/statustoken/statustoken/internal/testkeys"
	"github.com/statustoken/statustoken/token"
)

// TestFileKeyStoreNotRegular checks that FileKeyStore.Get refuses anything
// named like a key file that is not a regular file, before opening it:
// a FIFO (which would block an open for reading until a writer came), a
// symbolic link, even to a valid 0600 key file or to a device, a dangling
// link, and a directory.
func TestFileKeyStoreNotRegular(t *testing.T) {
	ref := KeyRef{Status: 1, NotBefore: 86400, EpochLength: 86400}
	newStore := func(t *testing.T) (FileKeyStore, string) {
		s := FileKeyStore{Dir: t.TempDir()}
		return s, filepath.Join(s.Dir, ref.String()+".pem")
	}
	// get runs Get with a deadline: a Get that blocks fails the test, and
	// unblock (if set) is called to release it.
	get := func(t *testing.T, s FileKeyStore, unblock func()) error {
		t.Helper()
		done := make(chan error, 1)
		go func() {
			k, err := s.Get(ref)
			if k != nil {
				err = errors.Join(err, errors.New("returned a key"))
			}
			done <- err
		}()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			if unblock != nil {
				unblock()
			}
			t.Fatal("FileKeyStore.Get blocked")
			return nil
		}
	}

	t.Run("fifo", func(t *testing.T) {
		s, name := newStore(t)
		if err := syscall.Mkfifo(name, 0o600); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		// Opening the write end, non-blocking, releases a reader blocked
		// in open; it fails (ENXIO) if there is none.
		unblock := func() {
			if w, err := os.OpenFile(name, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				w.Close()
			}
		}
		if err := get(t, s, unblock); !errors.Is(err, ErrKeyFile) {
			t.Fatalf("FIFO: %v", err)
		}
		// Put does not write into it either.
		if err := s.Put(ref, testkeys.RSA(0)); !errors.Is(err, ErrKeyExists) {
			t.Fatalf("Put over a FIFO: %v", err)
		}
	})
	t.Run("fifo under an issuer", func(t *testing.T) {
		// The issuer takes the FIFO for a bad key file, not a missing one:
		// it neither blocks nor generates a key.
		s := FileKeyStore{Dir: t.TempDir()}
		start := uint32(testNow.Unix()) / 86400 * 86400
		name := filepath.Join(s.Dir, KeyRef{Status: 1, NotBefore: start, EpochLength: 86400}.String()+".pem")
		if err := syscall.Mkfifo(name, 0o600); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		is, err := NewIssuer(Config{
			RootKey:     ed25519.NewKeyFromSeed(fixedBytes("root", 32)),
			Seed:        fixedBytes("seed", SeedSize),
			EpochLength: 24 * time.Hour,
			Epochs:      1,
			Statuses:    testStatuses[:1],
			Suites:      []token.Suite{token.RSABSSA},
			RSAKeys:     s,
		})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { _, _, err := is.Directory(testNow, 1); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, ErrKeyFile) {
				t.Fatalf("Directory over a FIFO key file: %v", err)
			}
		case <-time.After(5 * time.Second):
			if w, err := os.OpenFile(name, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				w.Close()
			}
			t.Fatal("Issuer.Directory blocked on a FIFO key file")
		}
	})
	t.Run("symlink to a key file", func(t *testing.T) {
		s, name := newStore(t)
		// A valid key file, mode 0600, that Get reads under its own name.
		other := FileKeyStore{Dir: t.TempDir()}
		if err := other.Put(ref, testkeys.RSA(0)); err != nil {
			t.Fatal(err)
		}
		if _, err := other.Get(ref); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(other.Dir, ref.String()+".pem"), name); err != nil {
			t.Fatal(err)
		}
		if err := get(t, s, nil); !errors.Is(err, ErrKeyFile) {
			t.Fatalf("symbolic link to a valid key file: %v", err)
		}
	})
	t.Run("relative symlink", func(t *testing.T) {
		s, name := newStore(t)
		real := filepath.Join(s.Dir, "real.pem")
		if err := (FileKeyStore{Dir: s.Dir}).Put(KeyRef{Status: 9}, testkeys.RSA(1)); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(s.Dir, KeyRef{Status: 9}.String()+".pem"), real); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("real.pem", name); err != nil {
			t.Fatal(err)
		}
		if err := get(t, s, nil); !errors.Is(err, ErrKeyFile) {
			t.Fatalf("relative symbolic link: %v", err)
		}
	})
	t.Run("symlink to /dev/null", func(t *testing.T) {
		if _, err := os.Stat("/dev/null"); err != nil {
			t.Skip(err)
		}
		s, name := newStore(t)
		if err := os.Symlink("/dev/null", name); err != nil {
			t.Fatal(err)
		}
		if err := get(t, s, nil); !errors.Is(err, ErrKeyFile) {
			t.Fatalf("symbolic link to /dev/null: %v", err)
		}
	})
	t.Run("dangling symlink", func(t *testing.T) {
		s, name := newStore(t)
		target := filepath.Join(t.TempDir(), "absent.pem")
		if err := os.Symlink(target, name); err != nil {
			t.Fatal(err)
		}
		// Not a missing key (the issuer would generate one), but a bad
		// key file.
		if err := get(t, s, nil); !errors.Is(err, ErrKeyFile) {
			t.Fatalf("dangling symbolic link: %v", err)
		}
		// Put does not follow it.
		if err := s.Put(ref, testkeys.RSA(0)); !errors.Is(err, ErrKeyExists) {
			t.Fatalf("Put over a dangling symbolic link: %v", err)
		}
		if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Put wrote through the link: %v", err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		s, name := newStore(t)
		if err := os.Mkdir(name, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := get(t, s, nil); !errors.Is(err, ErrKeyFile) {
			t.Fatalf("directory: %v", err)
		}
	})
	t.Run("unreadable", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root reads any file")
		}
		s, name := newStore(t)
		if err := s.Put(ref, testkeys.RSA(0)); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(name, 0o000); err != nil {
			t.Fatal(err)
		}
		if err := get(t, s, nil); !errors.Is(err, ErrKeyFile) {
			t.Fatalf("unreadable key file: %v", err)
		}
	})
}
