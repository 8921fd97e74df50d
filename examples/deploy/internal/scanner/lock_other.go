//go:build !unix

package scanner

import (
	"errors"
	"os"
)

// lockFile reports that this system has no file lock the scanner uses:
// without one, two scanner processes could accept one token each.
func lockFile(*os.File) error {
	return errors.New("no file locks on this system: give -redis instead of a spent-token file")
}

func unlockFile(*os.File) error { return nil }
