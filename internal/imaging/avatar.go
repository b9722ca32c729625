// Package imaging checks and normalises uploaded avatar images: whatever a
// file's name says, it must be a JPEG, PNG or WebP image that decodes, of
// sane dimensions (checked from the header, before any pixel is decoded,
// so a tiny file claiming 50000×50000 pixels costs nothing). The result is
// a new JPEG: orientation applied, metadata (EXIF, GPS) gone, the longest
// side at most MaxSide, named by the SHA-256 of its bytes.
//
// It depends on the root package and golang.org/x/image (WebP decoding,
// resampling); the orientation tag is read by a bounded parser of its own
// (exif.go), as hostile EXIF has made general EXIF libraries loop.
package imaging

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"

	"github.com/swiperhq/swiper"
)

// Limits on what is accepted.
const (
	MaxBytes  = 10 << 20   // the upload itself (API.md: 10 MiB)
	MaxSide   = 1080       // longest side of the stored image
	MaxPixels = 40_000_000 // of the uploaded image: a 40-megapixel photo decodes to 160 MB
	MaxDim    = 16384      // either side of the uploaded image
	Quality   = 85         // JPEG quality of the stored image
)

// Image is a processed avatar.
type Image struct {
	JPEG   []byte // the bytes to store
	SHA256 string // hex, of JPEG
	Width  int
	Height int
}

// Format names what the bytes are, by their magic numbers: "jpeg", "png",
// "webp", or "" for anything else.
func Format(b []byte) string {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return "jpeg"
	case len(b) >= 8 && bytes.Equal(b[:8], []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "webp"
	}
	return ""
}

// Header is what an image's header says, read before any pixel is
// decoded.
type Header struct {
	Format        string // "jpeg", "png" or "webp"
	Width, Height int
	BytesPerPixel int // of the decoded image, by its colour model
	// Cost is the most memory, in bytes, that decoding and re-encoding the
	// image takes: the decoded pixels, what the decoder needs beside them
	// (a progressive JPEG's coefficients, an interlaced PNG's passes), the
	// copy that scaling makes, and the output.
	Cost int64
}

// outputCost is what the re-encoded image takes at most: the scaled and
// the turned MaxSide×MaxSide RGBA copies and the JPEG bytes.
const outputCost = 2*MaxSide*MaxSide*4 + 1<<20

// Inspect checks an upload's size, format and dimensions from its header
// alone and says what decoding it will cost. Errors are as Process's.
func Inspect(b []byte) (Header, error) {
	if len(b) > MaxBytes {
		return Header{}, swiper.AvatarTooLarge("imaging.Inspect")
	}
	h := Header{Format: Format(b)}
	var cfg image.Config
	var err error
	switch h.Format {
	case "jpeg":
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(b))
	case "png":
		cfg, err = png.DecodeConfig(bytes.NewReader(b))
	case "webp":
		cfg, err = webp.DecodeConfig(bytes.NewReader(b))
	default:
		return Header{}, swiper.FieldError(swiper.EUnsupportedMedia, "avatar", "the file is not a JPEG, PNG or WebP image")
	}
	if err != nil {
		return Header{}, swiper.FieldError(swiper.EUnsupportedMedia, "avatar", "the %s image is damaged", h.Format)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > MaxDim || cfg.Height > MaxDim || cfg.Width*cfg.Height > MaxPixels {
		return Header{}, swiper.FieldError(swiper.EUnsupportedMedia, "avatar",
			"the image is %d×%d pixels; the limit is %d on a side and %d megapixels", cfg.Width, cfg.Height, MaxDim, MaxPixels/1_000_000)
	}
	h.Width, h.Height, h.BytesPerPixel = cfg.Width, cfg.Height, bytesPerPixel(cfg.ColorModel)
	px := int64(h.Width) * int64(h.Height)
	decoded := px * int64(h.BytesPerPixel)
	extra := int64(0)
	switch h.Format {
	case "jpeg":
		if progressive, comps := jpegFrame(b); progressive {
			extra = px * int64(max(comps, 1)) * 4 // an int32 per coefficient, per component
		}
	case "png":
		if len(b) > 28 && b[28] != 0 { // IHDR's interlace method: Adam7 decodes each pass apart
			extra = decoded
		}
	case "webp":
		extra = 2 * px * 4 // lossless keeps an ARGB buffer and transform data beside the image
	}
	scaled := int64(0)
	if h.Width > MaxSide || h.Height > MaxSide {
		scaled = px * 4 // fit's RGBA copy
	}
	h.Cost = decoded + extra + scaled + outputCost
	return h, nil
}

// Process checks an upload and returns the avatar to store. Errors are
// EUnsupportedMedia (not an image of an accepted type, does not decode, or
// dimensions beyond MaxDim / MaxPixels) and ETooLarge (over MaxBytes).
// What it may cost in memory is Inspect's Header.Cost: callers that bound
// memory take a Budget's share for it first.
func Process(b []byte) (*Image, error) {
	h, err := Inspect(b)
	if err != nil {
		return nil, err
	}
	format := h.Format
	var decode func([]byte) (image.Image, error)
	switch format {
	case "jpeg":
		decode = func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) }
	case "png":
		decode = func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) }
	case "webp":
		decode = func(b []byte) (image.Image, error) { return webp.Decode(bytes.NewReader(b)) }
	}
	img, err := decode(b)
	if err != nil {
		return nil, swiper.FieldError(swiper.EUnsupportedMedia, "avatar", "the %s image is damaged", format)
	}
	// Scale first: turning is a pixel-by-pixel copy, cheaper on the small
	// image, and the longest side is the same either way.
	img = fit(img, MaxSide)
	if format == "jpeg" {
		img = orient(img, orientation(b))
	}
	var out bytes.Buffer
	if err := jpeg.Encode(&out, img, &jpeg.Options{Quality: Quality}); err != nil {
		return nil, swiper.Internal("imaging.Process", err)
	}
	sum := sha256.Sum256(out.Bytes())
	bounds := img.Bounds()
	return &Image{JPEG: out.Bytes(), SHA256: hex.EncodeToString(sum[:]), Width: bounds.Dx(), Height: bounds.Dy()}, nil
}

// orient turns img upright according to an EXIF orientation: o says how
// the stored pixels relate to the picture (2: mirrored; 3: upside down;
// 6: needs a quarter turn clockwise; and so on).
func orient(img image.Image, o int) image.Image {
	if o == 1 {
		return img
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var dx, dy int
			switch o {
			case 2:
				dx, dy = w-1-x, y
			case 3:
				dx, dy = w-1-x, h-1-y
			case 4:
				dx, dy = x, h-1-y
			case 5:
				dx, dy = y, x
			case 6:
				dx, dy = h-1-y, x
			case 7:
				dx, dy = h-1-y, w-1-x
			case 8:
				dx, dy = y, w-1-x
			}
			dst.Set(dx, dy, img.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	return dst
}

// fit scales img down so that its longest side is at most side.
func fit(img image.Image, side int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= side && h <= side {
		return img
	}
	if w >= h {
		h, w = max(1, h*side/w), side
	} else {
		w, h = max(1, w*side/h), side
	}
	// Convert a decoded JPEG (YCbCr) to RGBA first, in one fast pass: the
	// scaler's YCbCr path converts each source pixel once per kernel tap,
	// and took two thirds of an upload's CPU.
	src, ok := img.(*image.RGBA)
	if !ok {
		src = image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(src, src.Bounds(), img, b.Min, draw.Src)
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
	return dst
}
