package files

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	if err := EnsurePrivateDir(dir); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Fatalf("new directory mode %04o", fi.Mode().Perm())
	}
	name := filepath.Join(dir, "secret")
	if err := WriteNew(name, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := WriteNew(name, []byte("two")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("WriteNew over an existing file: %v", err)
	}
	if err := WriteAtomic(name, []byte("three"), 0o600); err != nil {
		t.Fatal(err)
	}
	data, err := ReadPrivate(name, 5)
	if err != nil || string(data) != "three" {
		t.Fatalf("ReadPrivate: %q %v", data, err)
	}
	if _, err := ReadPrivate(name, 4); err == nil || !strings.Contains(err.Error(), "larger than 4") {
		t.Fatalf("limit: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
	os.Chmod(name, 0o640)
	if _, err := ReadPrivate(name, 100); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("group-readable secret: %v", err)
	}
	if _, err := ReadLimited(name, 100); err != nil {
		t.Fatalf("ReadLimited: %v", err)
	}
	if _, err := ReadPrivate(filepath.Join(dir, "missing"), 1); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	os.Chmod(dir, 0o750)
	if err := EnsurePrivateDir(dir); err == nil || !strings.Contains(err.Error(), "chmod 700") {
		t.Fatalf("group-readable directory: %v", err)
	}
	if err := EnsurePrivateDir(name); err == nil {
		t.Fatal("a file accepted as a directory")
	}
	// WriteAtomic gives the file exactly the mode asked for.
	pub := filepath.Join(t.TempDir(), "public")
	if err := WriteAtomic(pub, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(pub); fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %04o", fi.Mode().Perm())
	}
}
