package wallet

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"strings"

	"github.com/boombuler/barcode/qr"
)

// Quiet zones, the light border around a QR code, in modules. ISO/IEC
// 18004 asks for 4, which the PNG has; on a terminal, whose every module
// is a character cell, 2 is what lets an ed25519 token's code fit an
// 80x24 terminal, and phone cameras read it.
const (
	PNGQuietZone      = 4
	TerminalQuietZone = 2
)

// Modules encodes text, a token's text form, as a QR code at the error
// correction level ("L" or "M") in alphanumeric mode (the token text form
// uses only QR alphanumeric characters), and returns its modules, dark =
// true, with a quiet zone of quiet modules around them.
func Modules(text string, level string, quiet int) ([][]bool, error) {
	var l qr.ErrorCorrectionLevel
	switch level {
	case "L":
		l = qr.L
	case "M":
		l = qr.M
	default:
		return nil, fmt.Errorf("QR level %q: want L or M", level)
	}
	code, err := qr.Encode(text, l, qr.AlphaNumeric)
	if err != nil {
		return nil, fmt.Errorf("QR encoding: %v", err)
	}
	b := code.Bounds()
	n := b.Dx() + 2*quiet
	m := make([][]bool, n)
	for y := range m {
		m[y] = make([]bool, n)
	}
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			g := color.GrayModel.Convert(code.At(b.Min.X+x, b.Min.Y+y)).(color.Gray)
			m[y+quiet][x+quiet] = g.Y < 128
		}
	}
	return m, nil
}

// TerminalSize returns the columns and lines that modules take drawn
// with half blocks, two module rows per line.
func TerminalSize(m [][]bool) (cols, lines int) {
	return len(m), (len(m) + 1) / 2
}

// terminalQR returns the QR code of text to draw on a terminal of w
// columns and h lines, with its quiet zone: at level M if it fits, else
// at level L (7% of error correction is ample for a code on a screen);
// nil when neither fits. A code fits in w columns and h-1 lines: the last
// line is the one the cursor (and the shell's prompt) is on after it, so
// the top line is not scrolled away.
func terminalQR(text string, w, h int) ([][]bool, string, error) {
	for _, level := range []string{"M", "L"} {
		m, err := Modules(text, level, TerminalQuietZone)
		if err != nil {
			return nil, "", err
		}
		if cols, lines := TerminalSize(m); cols <= w && lines <= h-1 {
			return m, level, nil
		}
	}
	return nil, "", nil
}

// Half-block characters: two modules, top and bottom, per character cell.
const (
	blockBoth   = '█'
	blockTop    = '▀'
	blockBottom = '▄'
)

// Colours of a QR code on a terminal: black on bright white, so that it
// scans on dark and light terminals alike.
const (
	ansiQR    = "\x1b[30;107m"
	ansiReset = "\x1b[0m"
)

// writeTerminalQR draws the modules with half-block characters, two rows
// per line. With ansi set, each line is drawn black on bright white, so
// the code scans on dark and light terminals alike; without it, dark
// modules are drawn as blocks (for a light background or paper). The
// lines of side, if any, are written to the right of the code, from its
// second line on, gap columns from it.
func writeTerminalQR(w io.Writer, m [][]bool, ansi bool, side []string, gap int) error {
	var b strings.Builder
	for y, line := 0, 0; y < len(m); y, line = y+2, line+1 {
		if ansi {
			b.WriteString(ansiQR)
		}
		for x := range m[y] {
			top := m[y][x]
			bottom := y+1 < len(m) && m[y+1][x]
			switch {
			case top && bottom:
				b.WriteRune(blockBoth)
			case top:
				b.WriteRune(blockTop)
			case bottom:
				b.WriteRune(blockBottom)
			default:
				b.WriteByte(' ')
			}
		}
		if ansi {
			b.WriteString(ansiReset)
		}
		if i := line - 1; i >= 0 && i < len(side) {
			b.WriteString(strings.Repeat(" ", gap))
			b.WriteString(side[i])
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// PNG renders the modules as a black-and-white PNG with scale pixels per
// module.
func PNG(m [][]bool, scale int) ([]byte, error) {
	n := len(m) * scale
	img := image.NewPaletted(image.Rect(0, 0, n, n), color.Palette{color.White, color.Black})
	for y, row := range m {
		for x, dark := range row {
			if !dark {
				continue
			}
			for dy := range scale {
				off := img.PixOffset(x*scale, y*scale+dy)
				for dx := range scale {
					img.Pix[off+dx] = 1
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
