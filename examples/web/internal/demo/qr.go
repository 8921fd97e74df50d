package demo

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"

	"github.com/boombuler/barcode/qr"
)

// QuietZone is the light border around a QR code, in modules (ISO/IEC
// 18004 asks for 4).
const QuietZone = 4

// QRImage draws a token's text form as a QR code the way the deploy
// wallet does (error correction M, alphanumeric mode, a 4-module quiet
// zone), with scale pixels per module: black on white, in gray levels.
func QRImage(text string, scale int) (*image.Gray, error) {
	if scale < 1 {
		return nil, fmt.Errorf("QR scale %d: want 1 or more", scale)
	}
	code, err := qr.Encode(text, qr.M, qr.AlphaNumeric)
	if err != nil {
		return nil, fmt.Errorf("QR encoding: %v", err)
	}
	b := code.Bounds()
	side := (b.Dx() + 2*QuietZone) * scale
	img := image.NewGray(image.Rect(0, 0, side, side))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			if color.GrayModel.Convert(code.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y >= 128 {
				continue
			}
			x0, y0 := (x+QuietZone)*scale, (y+QuietZone)*scale
			for dy := range scale {
				row := img.Pix[(y0+dy)*img.Stride+x0:]
				for dx := range scale {
					row[dx] = 0
				}
			}
		}
	}
	return img, nil
}

// QRPNG returns QRImage encoded as PNG.
func QRPNG(text string, scale int) ([]byte, error) {
	img, err := QRImage(text, scale)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
