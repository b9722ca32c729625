package imaging_test

import (
	"bytes"
	"image/jpeg"
	"os"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/imaging"
)

// FuzzProcess feeds the whole upload path arbitrary bytes. Whatever they
// are, Process returns (the bound is a guard against loops, far above any
// real image's time), never panics, and either refuses them as an
// unsupported or too large image or returns a JPEG within MaxSide.
//
// Seeds: small real JPEG, PNG and WebP files and the EXIF cycle that hung
// goexif; what the fuzzer found worth keeping is in testdata/fuzz.
func FuzzProcess(f *testing.F) {
	for _, name := range []string{"small.jpg", "small.png", "avatar.webp", "exif-cycle.jpg"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := processWithin(t, data, 30*time.Second)
		if err != nil {
			if c := swiper.ErrorCode(err); c != swiper.EUnsupportedMedia && c != swiper.ETooLarge {
				t.Fatalf("Process = %v; want unsupported media or too large", err)
			}
			return
		}
		if img.Width < 1 || img.Height < 1 || img.Width > imaging.MaxSide || img.Height > imaging.MaxSide {
			t.Fatalf("Process made a %d×%d image", img.Width, img.Height)
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(img.JPEG))
		if err != nil || cfg.Width != img.Width || cfg.Height != img.Height {
			t.Fatalf("Process made %d×%d but its JPEG says %v (%v)", img.Width, img.Height, cfg, err)
		}
	})
}
