package http_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/imaging"
	"github.com/swiperhq/swiper/internal/testkit"
	"github.com/swiperhq/swiper/internal/wire"
	"github.com/swiperhq/swiper/internal/wire/wiretest"
	"github.com/swiperhq/swiper/store/postgres"
	swhttp "github.com/swiperhq/swiper/transport/http"
)

// photo is a w×h JPEG, red on its left half and blue on its right, with an
// EXIF segment carrying orientation and a GPS latitude, as a phone writes.
func photo(t *testing.T, w, h int, orientation uint16) []byte {
	t.Helper()
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
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	jpg := b.Bytes()
	be := binary.BigEndian
	var tiff bytes.Buffer
	tiff.WriteString("MM\x00\x2a")
	binary.Write(&tiff, be, uint32(8))
	binary.Write(&tiff, be, uint16(2))
	binary.Write(&tiff, be, []uint16{0x0112, 3})
	binary.Write(&tiff, be, uint32(1))
	binary.Write(&tiff, be, []uint16{orientation, 0})
	binary.Write(&tiff, be, []uint16{0x8825, 4}) // GPS IFD
	binary.Write(&tiff, be, uint32(1))
	binary.Write(&tiff, be, uint32(8+2+2*12+4))
	binary.Write(&tiff, be, uint32(0))
	binary.Write(&tiff, be, uint16(1))
	binary.Write(&tiff, be, []uint16{0x0001, 2})
	binary.Write(&tiff, be, uint32(2))
	tiff.WriteString("N\x00\x00\x00") // GPSLatitudeRef
	binary.Write(&tiff, be, uint32(0))
	payload := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	be.PutUint16(seg[2:], uint16(len(payload)+2))
	out := append([]byte{}, jpg[:2]...)
	out = append(out, append(seg, payload...)...)
	return append(out, jpg[2:]...)
}

// pngBomb is a PNG header claiming w×h pixels, with no pixels at all.
func pngBomb(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.WriteString("IHDR")
	b.Write(ihdr)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte("IHDR"), ihdr...)))
	return b.Bytes()
}

// form returns a multipart body with one file field.
var form = testkit.Form

func (h *harness) postAvatar(token string, body io.Reader, contentType string) response {
	h.t.Helper()
	r, err := testkit.Send(h.client, "POST", h.url+"/api/v1/me/avatar", token, contentType, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if r.Body == nil {
		h.t.Fatalf("body is not a JSON object: %q", r.Raw)
	}
	return r
}

func newAvatarHarness(t *testing.T) (*harness, *atomic.Int64) {
	kicks := &atomic.Int64{}
	h := newHarness(t, func(s *swhttp.Server) {
		s.KickUploads = func() { kicks.Add(1) }
		s.AvatarBudget = imaging.NewBudget(256<<20, 5*time.Second)
	})
	// Handlers read the server's fields per request.
	h.srv.Uploads = postgres.NewUploadStore(h.db)
	return h, kicks
}

func (h *harness) upload(token, field, filename string, data []byte) response {
	h.t.Helper()
	body, ct := form(field, filename, data)
	return h.postAvatar(token, body, ct)
}

func TestUploadAvatarAccepted(t *testing.T) {
	h, kicks := newAvatarHarness(t)
	token, uid := h.login("+8613800000001")
	src := photo(t, 1200, 600, 6) // stored sideways: to be turned clockwise
	r := h.upload(token, "avatar", "me.png", src)
	if r.Status != http.StatusAccepted {
		t.Fatalf("POST /me/avatar: %d %s; want 202", r.Status, r.Raw)
	}
	job := wiretest.Decode[wire.JobReply](t, r.Raw).Job
	if job.Status != "pending" || job.Attempts != 0 || job.URL != nil || job.Error != nil {
		t.Errorf("job %+v; want pending, 0 attempts, url and error null", job)
	}
	if kicks.Load() != 1 {
		t.Errorf("upload manager kicked %d times; want 1", kicks.Load())
	}
	id := job.ID

	var row struct {
		UID  int64  `db:"uid"`
		Key  string `db:"key"`
		Data []byte `db:"data"`
	}
	if err := h.db.Get(&row, `SELECT uid, key, data FROM uploads WHERE id = $1`, id); err != nil {
		t.Fatalf("the job is not committed: %v", err)
	}
	sum := sha256.Sum256(row.Data)
	if want := fmt.Sprintf("avatars/%d/%s.jpg", uid, hex.EncodeToString(sum[:])); row.Key != want || row.UID != uid {
		t.Errorf("job key %q of user %d; want %q of %d", row.Key, row.UID, want, uid)
	}
	if bytes.Contains(row.Data, []byte("Exif")) || bytes.Contains(row.Data, []byte{0xFF, 0xE1}) || bytes.Contains(row.Data, []byte("N\x00\x00\x00")) {
		t.Error("the stored image still carries EXIF or GPS bytes")
	}
	img, err := jpeg.Decode(bytes.NewReader(row.Data))
	if err != nil {
		t.Fatalf("the stored image is not a JPEG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 540 || b.Dy() != 1080 {
		t.Errorf("stored image is %v; want 540×1080 (scaled to 1080 and turned upright)", b.Size())
	}
	// Turned clockwise, the red left half is on top.
	if rTop, _, _, _ := img.At(270, 20).RGBA(); rTop < 0x8000 {
		t.Error("the top of the stored image is not red: orientation not applied")
	}
	if rBottom, _, _, _ := img.At(270, 1060).RGBA(); rBottom > 0x8000 {
		t.Error("the bottom of the stored image is red: orientation not applied")
	}

	// The same image again: the same key, so the same URL.
	r2 := h.upload(token, "avatar", "again.jpg", src)
	if r2.Status != http.StatusAccepted {
		t.Fatalf("second upload: %d %s", r2.Status, r2.Raw)
	}
	var key2 string
	h.db.Get(&key2, `SELECT key FROM uploads WHERE id = $1`, wiretest.Decode[wire.JobReply](t, r2.Raw).Job.ID)
	if key2 != row.Key {
		t.Errorf("the same image got key %q then %q; want one key", row.Key, key2)
	}

	got := h.do("GET", fmt.Sprintf("/api/v1/me/avatar/jobs/%d", id), token, nil)
	if got.Status != 200 || wiretest.Decode[wire.JobReply](t, got.Raw).Job.ID != id {
		t.Errorf("GET job: %d %s", got.Status, got.Raw)
	}
	other, _ := h.login("+8613800000002")
	wantError(t, h.do("GET", fmt.Sprintf("/api/v1/me/avatar/jobs/%d", id), other, nil), 404, swiper.ENotFound)
	wantError(t, h.do("GET", "/api/v1/me/avatar/jobs/999999", token, nil), 404, swiper.ENotFound)
	wantError(t, h.do("GET", "/api/v1/me/avatar/jobs/abc", token, nil), 404, swiper.ENotFound)
	// An id has one spelling (API.md): no sign, no leading zero.
	for _, alias := range []string{"+%d", "0%d"} {
		wantError(t, h.do("GET", "/api/v1/me/avatar/jobs/"+fmt.Sprintf(alias, id), token, nil), 404, swiper.ENotFound)
	}
	wantError(t, h.do("GET", fmt.Sprintf("/api/v1/me/avatar/jobs/%d", id), "", nil), 401, swiper.ELoginRequired)
}

// chunked hides a body's length, so the server cannot refuse it from
// Content-Length and must stop reading at the limit.
type chunked struct{ io.Reader }

func TestUploadAvatarRefused(t *testing.T) {
	h, kicks := newAvatarHarness(t)
	token, _ := h.login("+8613800000003")
	jpg := photo(t, 400, 300, 1)
	big := append(append([]byte{}, jpg...), make([]byte, 11<<20-len(jpg))...)
	tests := []struct {
		name   string
		token  string
		body   func() (io.Reader, string)
		status int
		code   swiper.Code
	}{
		{"text renamed .jpg", token, func() (io.Reader, string) { return form("avatar", "me.jpg", []byte("just some text\n")) }, 415, swiper.EUnsupportedMedia},
		{"truncated JPEG", token, func() (io.Reader, string) { return form("avatar", "me.jpg", jpg[:len(jpg)/2]) }, 415, swiper.EUnsupportedMedia},
		{"11 MiB", token, func() (io.Reader, string) { return form("avatar", "big.jpg", big) }, 413, swiper.ETooLarge},
		{"11 MiB of unknown length", token, func() (io.Reader, string) {
			b, ct := form("avatar", "big.jpg", big)
			return chunked{b}, ct
		}, 413, swiper.ETooLarge},
		{"decompression bomb", token, func() (io.Reader, string) { return form("avatar", "bomb.png", pngBomb(50000, 50000)) }, 415, swiper.EUnsupportedMedia},
		{"missing field", token, func() (io.Reader, string) { return form("picture", "me.jpg", jpg) }, 400, swiper.EBadRequest},
		{"not multipart", token, func() (io.Reader, string) { return bytes.NewReader(jpg), "image/jpeg" }, 400, swiper.EBadRequest},
		{"no token", "", func() (io.Reader, string) { return form("avatar", "me.jpg", jpg) }, 401, swiper.ELoginRequired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// No wall-clock bound: a busy machine under -race is slow, and
			// the code says whether it was refused before decoding.
			body, ct := tt.body()
			r := h.postAvatar(tt.token, body, ct)
			wantError(t, r, tt.status, tt.code)
		})
	}
	var jobs int
	h.db.Get(&jobs, `SELECT count(*) FROM uploads`)
	if jobs != 0 || kicks.Load() != 0 {
		t.Errorf("%d jobs and %d kicks after refused uploads; want none", jobs, kicks.Load())
	}
	if n := h.srv.AvatarBudget.InUse(); n != 0 {
		t.Errorf("the avatar budget holds %d bytes after refused uploads; want 0", n)
	}
}

func TestMediaServesImmutableFiles(t *testing.T) {
	dir := t.TempDir()
	hash := fmt.Sprintf("%064x", 42)
	name := "avatars/7/" + hash + ".jpg"
	if err := os.MkdirAll(filepath.Join(dir, "avatars/7"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, name), []byte("jpeg bytes"), 0o644)
	os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("no"), 0o644)
	h := newHarness(t, func(s *swhttp.Server) { s.Media = swhttp.MediaHandler(dir) })

	resp, err := h.client.Get(h.url + "/media/" + name)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "jpeg bytes" {
		t.Fatalf("GET media: %d %q", resp.StatusCode, body)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
		t.Errorf("Cache-Control = %q", cc)
	}
	if et := resp.Header.Get("ETag"); et != `"`+hash+`"` || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("ETag = %q, Content-Type %q; want the hash, image/jpeg", et, resp.Header.Get("Content-Type"))
	}
	req, _ := http.NewRequest("GET", h.url+"/media/"+name, nil)
	req.Header.Set("If-None-Match", `"`+hash+`"`)
	resp, err = h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("GET with If-None-Match: %d; want 304", resp.StatusCode)
	}
	for _, p := range []string{"/media/secret.txt", "/media/avatars/7/", "/media/avatars/7/" + fmt.Sprintf("%064x", 43) + ".jpg", "/media/avatars/../secret.txt"} {
		resp, err := h.client.Get(h.url + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("GET %s: %d; want 404", p, resp.StatusCode)
		}
	}
}
