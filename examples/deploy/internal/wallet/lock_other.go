//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package wallet

import (
	"errors"
	"os"
)

// lockFile refuses: without a file lock, wallet commands run at the
// same time could show a token twice or lose one.
func lockFile(*os.File, func()) error {
	return errors.New("locking the wallet state is not supported on this system")
}
