package demo

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
)

// logoPNG draws the vendor's logo, a sun over a horizon (ひだまり, a sunny
// spot), as the PNG an admin would upload.
func logoPNG() []byte {
	const size = 96
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	sun := color.NRGBA{0xf5, 0x9e, 0x0b, 0xff}
	ground := color.NRGBA{0xa3, 0x4a, 0x06, 0xff}
	c := float64(size) / 2
	for y := range size {
		for x := range size {
			dx, dy := float64(x)-c+0.5, float64(y)-c+8.5
			r := math.Hypot(dx, dy)
			switch {
			case y >= 70 && y < 78:
				img.SetNRGBA(x, y, ground)
			case y < 70 && r < 22:
				img.SetNRGBA(x, y, sun)
			case y < 66 && r >= 28 && r < 38 && int(math.Round((math.Atan2(dy, dx)+math.Pi)/(math.Pi/6)))%2 == 0 &&
				math.Mod(math.Atan2(dy, dx)+math.Pi, math.Pi/6) < 0.12:
				img.SetNRGBA(x, y, sun)
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err) // encoding an in-memory image cannot fail
	}
	return b.Bytes()
}
