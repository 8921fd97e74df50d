//go:build unix

package scanner

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive lock of f, waiting for other processes to
// release theirs.
func lockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			return err
		}
	}
}

func unlockFile(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
