package main

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

// quietZone is the light border around a QR code, in modules (ISO/IEC
// 18004 asks for 4).
const quietZone = 4

// qrModules encodes text, a token's text form, as a QR code at
// error-correction level M in alphanumeric mode (the token text form uses
// only QR alphanumeric characters), and returns its modules, dark = true,
// with the quiet zone around them.
func qrModules(text string) ([][]bool, error) {
	code, err := qr.Encode(text, qr.M, qr.AlphaNumeric)
	if err != nil {
		return nil, fmt.Errorf("QR encoding: %v", err)
	}
	b := code.Bounds()
	n := b.Dx() + 2*quietZone
	m := make([][]bool, n)
	for y := range m {
		m[y] = make([]bool, n)
	}
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			g := color.GrayModel.Convert(code.At(b.Min.X+x, b.Min.Y+y)).(color.Gray)
			m[y+quietZone][x+quietZone] = g.Y < 128
		}
	}
	return m, nil
}

// writeTerminalQR draws the modules with half-block characters, two rows
// per line. With ansi set, each line is drawn black on bright white, so the
// code scans on dark and light terminals alike; without it, dark modules
// are drawn as blocks (for a light background or paper).
func writeTerminalQR(w io.Writer, m [][]bool, ansi bool) error {
	var b strings.Builder
	for y := 0; y < len(m); y += 2 {
		if ansi {
			b.WriteString("\x1b[30;107m")
		}
		for x := range m[y] {
			top := m[y][x]
			bottom := y+1 < len(m) && m[y+1][x]
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteByte(' ')
			}
		}
		if ansi {
			b.WriteString("\x1b[0m")
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// qrPNG renders the modules as a black-and-white PNG with scale pixels
// per module.
func qrPNG(m [][]bool, scale int) ([]byte, error) {
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
