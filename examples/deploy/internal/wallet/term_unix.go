//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package wallet

import (
	"os"
	"syscall"
	"unsafe"
)

// terminalSize returns the size of the terminal f is, and whether it is
// one (a character device such as /dev/null is not).
func terminalSize(f *os.File) (width, height int, ok bool) {
	var ws struct{ Row, Col, Xpixel, Ypixel uint16 }
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), uintptr(syscall.TIOCGWINSZ), uintptr(unsafe.Pointer(&ws)))
	if errno != 0 {
		return 0, 0, false
	}
	return int(ws.Col), int(ws.Row), true
}
