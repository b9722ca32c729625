package imaging_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"testing"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/imaging"
)

// picture is w×h, red on its left half and blue on its right, so a turn
// shows in where the red is.
func picture(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{0, 0, 255, 255}
			if x < w/2 {
				c = color.RGBA{255, 0, 0, 255}
			}
			img.Set(x, y, c)
		}
	}
	return img
}

func encodeJPEG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withEXIF puts an EXIF segment (APP1) with an orientation and a GPS
// latitude into a JPEG, as a phone camera would.
func withEXIF(jpg []byte, orientation uint16) []byte {
	be := binary.BigEndian
	var t bytes.Buffer // the TIFF structure, offsets from its start
	t.WriteString("MM\x00\x2a")
	binary.Write(&t, be, uint32(8)) // IFD0 at 8
	binary.Write(&t, be, uint16(2)) // two entries
	binary.Write(&t, be, []uint16{0x0112, 3})
	binary.Write(&t, be, uint32(1))
	binary.Write(&t, be, []uint16{orientation, 0})
	binary.Write(&t, be, []uint16{0x8825, 4}) // GPS IFD pointer
	binary.Write(&t, be, uint32(1))
	binary.Write(&t, be, uint32(8+2+2*12+4)) // right after IFD0
	binary.Write(&t, be, uint32(0))          // no next IFD
	binary.Write(&t, be, uint16(1))          // GPS IFD: one entry
	binary.Write(&t, be, []uint16{0x0001, 2})
	binary.Write(&t, be, uint32(2))
	t.WriteString("N\x00\x00\x00") // GPSLatitudeRef "N"
	binary.Write(&t, be, uint32(0))
	payload := append([]byte("Exif\x00\x00"), t.Bytes()...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	be.PutUint16(seg[2:], uint16(len(payload)+2))
	seg = append(seg, payload...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

func redOnLeft(t *testing.T, jpg []byte) (bool, image.Rectangle) {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(jpg))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	r, _, _, _ := img.At(b.Min.X+2, b.Min.Y+b.Dy()/2).RGBA()
	return r > 0x8000, b
}

func TestProcessAppliesOrientationAndStripsMetadata(t *testing.T) {
	src := withEXIF(encodeJPEG(t, picture(200, 100)), 6) // stored sideways: turn clockwise
	if !bytes.Contains(src, []byte("Exif")) {
		t.Fatal("test image has no EXIF")
	}
	img, err := imaging.Process(src)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(img.JPEG, []byte("Exif")) || bytes.Contains(img.JPEG, []byte{0xFF, 0xE1}) {
		t.Error("the stored image still carries an EXIF segment")
	}
	red, b := redOnLeft(t, img.JPEG)
	if b.Dx() != 100 || b.Dy() != 200 {
		t.Errorf("size = %v; want 100×200 (turned upright)", b.Size())
	}
	// Turned clockwise, the red left half is on top: the left edge's
	// middle is where red and blue meet; check the top instead.
	dec, _ := jpeg.Decode(bytes.NewReader(img.JPEG))
	rTop, _, _, _ := dec.At(50, 10).RGBA()
	rBottom, _, _, _ := dec.At(50, 190).RGBA()
	if rTop < 0x8000 || rBottom > 0x8000 {
		t.Errorf("after a clockwise turn the red half should be on top (red %v)", red)
	}
}

func TestProcessScalesDown(t *testing.T) {
	for _, c := range []struct {
		name        string
		w, h        int
		wantW, want int
	}{
		{"landscape", 3000, 1500, 1080, 540},
		{"portrait", 1200, 2400, 540, 1080},
		{"small stays", 640, 480, 640, 480},
	} {
		t.Run(c.name, func(t *testing.T) {
			img, err := imaging.Process(encodePNG(t, picture(c.w, c.h)))
			if err != nil {
				t.Fatal(err)
			}
			if img.Width != c.wantW || img.Height != c.want {
				t.Errorf("Process(%d×%d) = %d×%d; want %d×%d", c.w, c.h, img.Width, img.Height, c.wantW, c.want)
			}
			if imaging.Format(img.JPEG) != "jpeg" {
				t.Error("the stored image is not a JPEG")
			}
		})
	}
}

func TestProcessIsContentAddressed(t *testing.T) {
	src := encodePNG(t, picture(300, 300))
	a, err := imaging.Process(src)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := imaging.Process(src)
	c, _ := imaging.Process(encodePNG(t, picture(301, 300)))
	if a.SHA256 != b.SHA256 || len(a.SHA256) != 64 {
		t.Errorf("the same image gave %s and %s", a.SHA256, b.SHA256)
	}
	if a.SHA256 == c.SHA256 {
		t.Error("different images gave the same name")
	}
}

// testdata/avatar.webp is a 64×48 gradient, made from a PNG with cwebp
// (Debian's webp package): the standard library cannot write WebP.
func TestProcessWebP(t *testing.T) {
	src, err := os.ReadFile("testdata/avatar.webp")
	if err != nil {
		t.Fatal(err)
	}
	img, err := imaging.Process(src)
	if err != nil {
		t.Fatal(err)
	}
	if img.Width != 64 || img.Height != 48 {
		t.Errorf("webp: %d×%d; want 64×48", img.Width, img.Height)
	}
}

// bomb is a PNG header claiming w×h pixels with a tiny body.
func bomb(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.WriteString("IHDR")
	b.Write(ihdr)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte("IHDR"), ihdr...)))
	return b.Bytes()
}

func TestProcessRefuses(t *testing.T) {
	jpg := encodeJPEG(t, picture(400, 300))
	for _, c := range []struct {
		name string
		data []byte
		code swiper.Code
	}{
		{"text named .jpg", []byte("hello, I am not a picture\n"), swiper.EUnsupportedMedia},
		{"empty", nil, swiper.EUnsupportedMedia},
		{"truncated JPEG", jpg[:len(jpg)/2], swiper.EUnsupportedMedia},
		{"JPEG header only", jpg[:20], swiper.EUnsupportedMedia},
		{"GIF", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), swiper.EUnsupportedMedia},
		{"decompression bomb 50000×50000", bomb(50000, 50000), swiper.EUnsupportedMedia},
		{"too many pixels 10000×10000", bomb(10000, 10000), swiper.EUnsupportedMedia},
		{"over 10 MiB", append(jpg, make([]byte, imaging.MaxBytes)...), swiper.ETooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := imaging.Process(c.data)
			if got := swiper.ErrorCode(err); got != c.code {
				t.Fatalf("Process = %v; want code %d", err, c.code)
			}
		})
	}
}

// BenchmarkProcess re-encodes a 2000×1500 photo-like JPEG of about 1 MB,
// the size of the upload benchmark's.
func BenchmarkProcess(b *testing.B) {
	img := image.NewRGBA(image.Rect(0, 0, 2000, 1500))
	for y := range 1500 {
		for x := range 2000 {
			n := uint8((x*7 + y*13) % 48)
			img.Set(x, y, color.RGBA{uint8(x*255/2000) ^ n, uint8(y*255/1500) + n, 128 + n, 255})
		}
	}
	var src bytes.Buffer
	jpeg.Encode(&src, img, &jpeg.Options{Quality: 85})
	b.SetBytes(int64(src.Len()))
	for b.Loop() {
		if _, err := imaging.Process(src.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
}
