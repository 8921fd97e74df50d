package wallet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// disk makes room for the state's files and writes them: the operating
// system's, or in tests one that runs out of space.
type disk interface {
	// allocate makes room on the disk for the first size bytes of f, so
	// that writing them needs no more space.
	allocate(f *os.File, size int64) error
	// write writes b at the start of f.
	write(f *os.File, b []byte) error
}

// osDisk is the operating system's disk.
type osDisk struct{}

func (osDisk) allocate(f *os.File, size int64) error {
	if size == 0 {
		return nil
	}
	err := fallocate(f, size)
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) || errors.Is(err, errors.ErrUnsupported) {
		// Zeros take the room where the file system cannot reserve it.
		_, err = f.WriteAt(make([]byte, size), 0)
	}
	if err != nil {
		return &os.PathError{Op: "allocate", Path: f.Name(), Err: err}
	}
	return nil
}

func (osDisk) write(f *os.File, b []byte) error {
	_, err := f.WriteAt(b, 0)
	return err
}

// reserved is a temporary file in the state directory with room for a
// file of up to size bytes: committing at most that much needs no more
// space on the disk.
type reserved struct {
	f    *os.File
	size int64
	d    disk
}

// reserve creates a temporary file (mode 0600) in the state directory
// for the file name, with room for size bytes, synced.
func (s *Store) reserve(name string, size int64) (*reserved, error) {
	f, err := os.CreateTemp(s.dir, "."+name+".tmp*")
	if err != nil {
		return nil, err
	}
	if err = f.Chmod(0o600); err == nil {
		if err = s.disk.allocate(f, size); err == nil {
			err = f.Sync()
		}
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &reserved{f: f, size: size, d: s.disk}, nil
}

// commit writes data to the reserved file and renames it over name in
// the state directory, then syncs the directory. The reservation is
// used up either way.
func (r *reserved) commit(dir, name string, data []byte) error {
	defer r.discard()
	if int64(len(data)) > r.size {
		// More than was reserved: only for files written without a
		// reservation made ahead.
		if err := r.d.allocate(r.f, int64(len(data))); err != nil {
			return err
		}
	}
	if err := r.d.write(r.f, data); err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Join(dir, name), err)
	}
	if err := r.f.Truncate(int64(len(data))); err != nil {
		return err
	}
	if err := r.f.Sync(); err != nil {
		return err
	}
	if err := r.f.Close(); err != nil {
		return err
	}
	if err := os.Rename(r.f.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}

// discard closes and removes the reserved file, unless it was committed.
func (r *reserved) discard() {
	r.f.Close()
	os.Remove(r.f.Name())
}

// writeAtomic replaces name in the state directory with data.
func (s *Store) writeAtomic(name string, data []byte) error {
	r, err := s.reserve(name, int64(len(data)))
	if err != nil {
		return err
	}
	return r.commit(s.dir, name, data)
}

// syncDir syncs a directory, so that a rename in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
