package wallet

import (
	"os"

	"golang.org/x/sys/unix"
)

// fallocate reserves the first size bytes of f on the disk.
func fallocate(f *os.File, size int64) error {
	return unix.Fallocate(int(f.Fd()), 0, 0, size)
}
