package kernels

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
)

// MakePNG returns a w×h RGB PNG of a gradient with noise, seeded by seed:
// noise keeps the file large (about 3 bytes a pixel), as photographs are.
func MakePNG(seed uint64, w, h int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			i := img.PixOffset(x, y)
			img.Pix[i+0] = uint8(x*255/w) ^ uint8(r.IntN(64))
			img.Pix[i+1] = uint8(y*255/h) ^ uint8(r.IntN(64))
			img.Pix[i+2] = uint8(r.IntN(256))
			img.Pix[i+3] = 255
		}
	}
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// GrayHalf decodes a PNG, turns it to grayscale, halves it in each
// dimension (each output pixel the mean of 2×2) and encodes it as a PNG:
// the images workload's job, with the standard library's codecs.
func GrayHalf(in []byte) ([]byte, error) {
	src, err := png.Decode(bytes.NewReader(in))
	if err != nil {
		return nil, err
	}
	b := src.Bounds()
	w, h := b.Dx()/2, b.Dy()/2
	dst := image.NewGray(image.Rect(0, 0, w, h))
	lum := func(x, y int) int {
		return int(color.GrayModel.Convert(src.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y)
	}
	if rgba, ok := src.(*image.RGBA); ok {
		lum = func(x, y int) int {
			i := rgba.PixOffset(b.Min.X+x, b.Min.Y+y)
			p := rgba.Pix[i : i+3 : i+3]
			// The weights of color.GrayModel, in 16.16 fixed point.
			return (19595*int(p[0]) + 38470*int(p[1]) + 7471*int(p[2]) + 1<<15) >> 16
		}
	}
	for y := range h {
		for x := range w {
			s := lum(2*x, 2*y) + lum(2*x+1, 2*y) + lum(2*x, 2*y+1) + lum(2*x+1, 2*y+1)
			dst.Pix[y*dst.Stride+x] = uint8((s + 2) / 4)
		}
	}
	var out bytes.Buffer
	if err := png.Encode(&out, dst); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
