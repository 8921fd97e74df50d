//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package wallet

import (
	"errors"
	"os"
	"syscall"
)

// lockFile takes an exclusive lock on f (flock), calling wait first if
// another process holds it. The lock goes with f's file description: it
// is released when f is closed, or when the process ends.
func lockFile(f *os.File, wait func()) error {
	err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB)
	if !errors.Is(err, syscall.EWOULDBLOCK) {
		return err
	}
	if wait != nil {
		wait()
	}
	return flock(f, syscall.LOCK_EX)
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
