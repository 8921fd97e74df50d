package web_test

import (
	"bufio"
	"fmt"
	"image"
	"os"
)

// Chromium's fake camera (--use-file-for-fake-video-capture) plays a
// YUV4MPEG2 file in a loop, at the file's frame rate.
const (
	camWidth  = 640
	camHeight = 480
	camFPS    = 5
)

// clip is a stretch of the fake camera's video: img (nil for an empty
// white view) centred on a white frame, for frames frames.
type clip struct {
	img    *image.Gray
	frames int
}

// writeY4M writes the clips, one after another, as a YUV4MPEG2 file of
// 4:2:0 frames (C420): the full-resolution luma plane, then the two
// quarter-resolution chroma planes, all neutral (128) since the pictures
// are black and white.
func writeY4M(name string, clips []clip) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintf(w, "YUV4MPEG2 W%d H%d F%d:1 Ip A1:1 C420\n", camWidth, camHeight, camFPS)
	luma := make([]byte, camWidth*camHeight)
	chroma := make([]byte, camWidth*camHeight/2) // U then V, each a quarter
	for i := range chroma {
		chroma[i] = 128
	}
	for _, c := range clips {
		for i := range luma {
			luma[i] = 255
		}
		if c.img != nil {
			b := c.img.Bounds()
			if b.Dx() > camWidth || b.Dy() > camHeight {
				f.Close()
				return fmt.Errorf("a %dx%d picture does not fit a %dx%d frame", b.Dx(), b.Dy(), camWidth, camHeight)
			}
			x0, y0 := (camWidth-b.Dx())/2, (camHeight-b.Dy())/2
			for y := 0; y < b.Dy(); y++ {
				src := c.img.Pix[(y)*c.img.Stride : y*c.img.Stride+b.Dx()]
				copy(luma[(y0+y)*camWidth+x0:], src)
			}
		}
		for range c.frames {
			w.WriteString("FRAME\n")
			w.Write(luma)
			w.Write(chroma)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
