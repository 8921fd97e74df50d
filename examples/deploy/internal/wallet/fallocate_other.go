//go:build !linux

package wallet

import (
	"errors"
	"os"
)

// fallocate is Linux's: elsewhere, allocate writes zeros.
func fallocate(*os.File, int64) error { return errors.ErrUnsupported }
