package imaging_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"testing"
	"time"

	"github.com/swiperhq/swiper/internal/imaging"
)

// processWithin runs Process(data) and fails the test if it has not
// returned after d: a hang (or a run-away loop) fails the test instead of
// hanging the suite. d is a guard against for ever, not a latency bound.
func processWithin(t *testing.T, data []byte, d time.Duration) (*imaging.Image, error) {
	t.Helper()
	type result struct {
		img *imaging.Image
		err error
	}
	done := make(chan result, 1)
	// Ends when Process returns; if it never does, the test binary's exit
	// ends it.
	go func() {
		img, err := imaging.Process(data)
		done <- result{img, err}
	}()
	select {
	case r := <-done:
		return r.img, r.err
	case <-time.After(d):
		t.Fatalf("Process has not returned after %v", d)
		return nil, nil
	}
}

// testdata/exif-cycle.jpg is an 8×8 JPEG whose EXIF segment holds a cycle
// of IFDs: IFD0 at offset 8 with no entries and next offset 14, an IFD at
// 14 with no entries and next offset 8. A parser that follows "next IFD"
// links without a bound never stops (goexif did, appending a directory
// each turn).
func TestProcessEXIFCycle(t *testing.T) {
	src, err := os.ReadFile("testdata/exif-cycle.jpg")
	if err != nil {
		t.Fatal(err)
	}
	img, err := processWithin(t, src, 20*time.Second)
	if err != nil {
		t.Fatalf("Process(exif-cycle.jpg) = %v; want the picture, upright as it is", err)
	}
	if img.Width != 8 || img.Height != 8 {
		t.Errorf("size %d×%d; want 8×8", img.Width, img.Height)
	}
}

// tiff builds a TIFF structure (offsets from its start) in byte order bo
// with IFD0 holding the given entries, each tag, type, count and a 4-byte
// value field, then next.
type entry struct {
	tag, typ uint16
	count    uint32
	value    [4]byte
}

func tiff(bo binary.ByteOrder, ifd0 uint32, entries []entry, next uint32) []byte {
	var b bytes.Buffer
	if bo == binary.LittleEndian {
		b.WriteString("II")
	} else {
		b.WriteString("MM")
	}
	binary.Write(&b, bo, uint16(42))
	binary.Write(&b, bo, ifd0)
	for uint32(b.Len()) < ifd0 {
		b.WriteByte(0)
	}
	binary.Write(&b, bo, uint16(len(entries)))
	for _, e := range entries {
		binary.Write(&b, bo, e.tag)
		binary.Write(&b, bo, e.typ)
		binary.Write(&b, bo, e.count)
		b.Write(e.value[:])
	}
	binary.Write(&b, bo, next)
	return b.Bytes()
}

func short(bo binary.ByteOrder, v uint16) [4]byte {
	var b [4]byte
	bo.PutUint16(b[:], v)
	return b
}

// withAPP1 puts payload in an APP1 segment right after a JPEG's SOI.
func withAPP1(jpg, payload []byte) []byte {
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, jpg[2:]...)
}

func exifJPEG(t *testing.T, tiff []byte) []byte {
	return withAPP1(encodeJPEG(t, picture(200, 100)), append([]byte("Exif\x00\x00"), tiff...))
}

// TestProcessReadsOrientationBounded reads orientation in both byte orders
// and ignores, without hanging or failing the upload, EXIF that lies
// about its offsets and counts.
func TestProcessReadsOrientationBounded(t *testing.T) {
	le, be := binary.ByteOrder(binary.LittleEndian), binary.ByteOrder(binary.BigEndian)
	orient := func(bo binary.ByteOrder, v uint16) entry { return entry{0x0112, 3, 1, short(bo, v)} }
	other := func(bo binary.ByteOrder) entry { return entry{0x010F, 2, 4, [4]byte{'A', 'B', 'C', 0}} }
	for _, c := range []struct {
		name    string
		data    []byte
		upright bool // turned a quarter clockwise: 100×200
	}{
		{"little endian, 6", exifJPEG(t, tiff(le, 8, []entry{other(le), orient(le, 6)}, 0)), true},
		{"big endian, 6", exifJPEG(t, tiff(be, 8, []entry{orient(be, 6)}, 0)), true},
		{"big endian, 1", exifJPEG(t, tiff(be, 8, []entry{orient(be, 1)}, 0)), false},
		{"orientation out of range", exifJPEG(t, tiff(be, 8, []entry{orient(be, 9)}, 0)), false},
		{"orientation of the wrong type", exifJPEG(t, tiff(be, 8, []entry{{0x0112, 2, 1, short(be, 6)}}, 0)), false},
		{"only in a later IFD", exifJPEG(t, append(tiff(le, 8, nil, 14), tiff(le, 8, []entry{orient(le, 6)}, 0)[8:]...)), false},
		{"IFD0 beyond the segment", exifJPEG(t, []byte("II\x2a\x00\xf0\xff\xff\xff\x00\x00")), false},
		{"IFD0 inside the header", exifJPEG(t, append(tiff(le, 8, nil, 0)[:4], 2, 0, 0, 0, 0xFF, 0xFF, 0, 0)), false},
		{"entry count beyond the segment", exifJPEG(t, append(tiff(le, 8, nil, 0)[:8], 0xFF, 0xFF, 0x12, 0x01, 3, 0)), false},
		{"IFD pointing at itself", exifJPEG(t, tiff(le, 8, nil, 8)), false},
		{"IFD cycle", exifJPEG(t, append(tiff(le, 8, nil, 14), tiff(le, 8, nil, 8)[8:]...)), false},
		{"bad byte order", exifJPEG(t, append([]byte("XX"), tiff(le, 8, []entry{orient(le, 6)}, 0)[2:]...)), false},
		{"empty EXIF", exifJPEG(t, nil), false},
		{"APP1 length past the end", append(encodeJPEG(t, picture(200, 100))[:2], 0xFF, 0xE1, 0xFF, 0xFF, 'E', 'x'), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			img, err := processWithin(t, c.data, 20*time.Second)
			if c.name == "APP1 length past the end" {
				if err == nil {
					t.Fatal("a JPEG cut off in its APP1 segment was accepted")
				}
				return
			}
			if err != nil {
				t.Fatalf("Process = %v; want the picture", err)
			}
			want := [2]int{200, 100}
			if c.upright {
				want = [2]int{100, 200}
			}
			if got := [2]int{img.Width, img.Height}; got != want {
				t.Errorf("size %v; want %v", got, want)
			}
		})
	}
}
