package imaging_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/png"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/imaging"
)

// pngHeader is a PNG header claiming w×h pixels of the given bit depth and
// colour type, with no pixels.
func pngHeader(w, h uint32, depth, colorType byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = depth, colorType
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.WriteString("IHDR")
	b.Write(ihdr)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte("IHDR"), ihdr...)))
	return b.Bytes()
}

func TestInspectWeighsByHeader(t *testing.T) {
	for _, c := range []struct {
		name    string
		data    []byte
		bpp     int
		minCost int64
	}{
		{"40 MP 16-bit RGBA PNG", pngHeader(8000, 5000, 16, 6), 8, 40_000_000 * (8 + 4)},
		{"40 MP 8-bit RGBA PNG", pngHeader(8000, 5000, 8, 6), 4, 40_000_000 * (4 + 4)},
		{"40 MP 8-bit grey PNG", pngHeader(8000, 5000, 8, 0), 1, 40_000_000 * (1 + 4)},
		{"1 MP 16-bit grey PNG", pngHeader(1000, 1000, 16, 0), 2, 1_000_000 * 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, err := imaging.Inspect(c.data)
			if err != nil {
				t.Fatal(err)
			}
			if h.BytesPerPixel != c.bpp || h.Cost < c.minCost {
				t.Errorf("Inspect = %d bytes a pixel, cost %d; want %d, at least %d", h.BytesPerPixel, h.Cost, c.bpp, c.minCost)
			}
		})
	}
	small, _ := imaging.Inspect(pngHeader(1000, 1000, 8, 0))
	big, _ := imaging.Inspect(pngHeader(8000, 5000, 16, 6))
	if big.Cost < 20*small.Cost {
		t.Errorf("a 40 MP 16-bit PNG costs %d, a 1 MP grey one %d: not in proportion", big.Cost, small.Cost)
	}
}

func TestBudgetDecode(t *testing.T) {
	b := imaging.NewBudget(400<<20, 50*time.Millisecond) // 300 MiB for decoding
	ctx := context.Background()
	huge, _ := imaging.Inspect(pngHeader(8000, 5000, 16, 6)) // ~480 MB
	if _, err := b.Decode(ctx, huge); swiper.ErrorCode(err) != swiper.EUnsupportedMedia {
		t.Fatalf("Decode(40 MP 16-bit) = %v; want unsupported media: it can never fit", err)
	}
	mid, _ := imaging.Inspect(pngHeader(8000, 5000, 8, 0)) // ~210 MB
	release, err := b.Decode(ctx, mid)
	if err != nil {
		t.Fatal(err)
	}
	if b.InUse() != mid.Cost {
		t.Errorf("InUse = %d; want %d", b.InUse(), mid.Cost)
	}
	_, err = b.Decode(ctx, mid)
	var e *swiper.Error
	if swiper.ErrorCode(err) != swiper.EUnavailable || !asError(err, &e) || e.RetryAfterSeconds < 1 {
		t.Fatalf("Decode with the budget taken = %v; want unavailable with a retry-after", err)
	}
	release()
	release() // a second call changes nothing
	if b.InUse() != 0 {
		t.Errorf("InUse = %d after release; want 0", b.InUse())
	}
	r2, err := b.Decode(ctx, mid)
	if err != nil {
		t.Fatalf("Decode after release: %v", err)
	}
	r2()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := b.Decode(cancelled, mid); swiper.ErrorCode(err) != swiper.EUnavailable {
		t.Errorf("Decode on a cancelled context = %v; want unavailable", err)
	}
}

// TestBudgetComesBackAfterPanic: a share taken with a deferred release is
// given back when what ran under it panicked.
func TestBudgetComesBackAfterPanic(t *testing.T) {
	b := imaging.NewBudget(400<<20, 50*time.Millisecond)
	h, _ := imaging.Inspect(pngHeader(100, 100, 8, 2))
	func() {
		defer func() { recover() }()
		rb, err := b.Body(context.Background(), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		defer rb()
		rd, err := b.Decode(context.Background(), h)
		if err != nil {
			t.Fatal(err)
		}
		defer rd()
		panic("decoder bug")
	}()
	if b.InUse() != 0 {
		t.Errorf("InUse = %d after a panic; want 0", b.InUse())
	}
}

// TestInspectCostCoversDecoding: a real 16-bit PNG (not just a header)
// costs at least what it decodes to.
func TestInspectCostCoversDecoding(t *testing.T) {
	src := encodePNG(t, image.NewNRGBA64(image.Rect(0, 0, 2000, 1500)))
	h, err := imaging.Inspect(src)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(2000*1500) * 8; h.Cost < want {
		t.Errorf("Cost %d for a 16-bit 2000×1500 PNG; want at least its decoded %d", h.Cost, want)
	}
	img, err := png.Decode(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if got := int64(len(img.(*image.NRGBA64).Pix)); h.Cost < got {
		t.Errorf("Cost %d; the decoded image alone holds %d", h.Cost, got)
	}
}

func asError(err error, e **swiper.Error) bool {
	x, ok := err.(*swiper.Error)
	*e = x
	return ok
}
