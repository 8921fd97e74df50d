//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package wallet

import "os"

// terminalSize reports no terminal: the wallet draws for the default
// 80x24 without colours.
func terminalSize(f *os.File) (width, height int, ok bool) { return 0, 0, false }
