package http

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/imaging"
)

// Job is the wire form of an avatar upload job (API.md, "Me"). url is null
// until the job is done; error is null unless it failed, and then says
// what a person needs to know, never the cause.
type Job struct {
	ID       int64   `json:"id"`
	Status   string  `json:"status"`
	Attempts int     `json:"attempts"`
	URL      *string `json:"url"`
	Error    *string `json:"error"`
}

// JobOf returns the wire form of j.
func JobOf(j *swiper.UploadJob) Job {
	w := Job{ID: j.ID, Status: string(j.Status), Attempts: j.Attempts}
	if j.Status == swiper.UploadDone {
		u := j.URL
		w.URL = &u
	}
	if j.Status == swiper.UploadFailed {
		e := swiper.UploadFailedMessage
		w.Error = &e
	}
	return w
}

// multipartSlack is what the multipart framing around the image may add
// to the body: boundaries, part headers, other small fields.
const multipartSlack = 64 << 10

// uploadAvatar accepts an avatar: it reads the "avatar" part (never more
// than 10 MiB of it), checks and re-encodes it, and commits the job with
// the processed bytes before answering 202.
func (s *Server) uploadAvatar(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > imaging.MaxBytes+multipartSlack {
		WriteError(w, r, swiper.FieldError(swiper.ETooLarge, "avatar", "the image is over 10 MiB"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, imaging.MaxBytes+multipartSlack)
	data, err := avatarPart(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	img, err := s.processAvatar(r, data)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	uid := callerID(r)
	job, err := s.Uploads.CreateUpload(r.Context(), uid, swiper.AvatarKey(uid, img.SHA256), img.JPEG, s.Clock.Now())
	if err != nil {
		WriteError(w, r, err)
		return
	}
	if s.KickUploads != nil {
		s.KickUploads()
	}
	WriteJSON(w, http.StatusAccepted, map[string]Job{"job": JobOf(job)})
}

// avatarPart returns the bytes of the multipart field "avatar".
func avatarPart(r *http.Request) ([]byte, error) {
	missing := swiper.FieldError(swiper.EBadRequest, "avatar", "send the image as the multipart/form-data field \"avatar\"")
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "multipart/form-data" {
		return nil, missing
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, missing
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, missing
		}
		if err != nil {
			return nil, bodyError(err)
		}
		if part.FormName() != "avatar" {
			continue // other fields are skipped, read through the body's limit
		}
		data, err := io.ReadAll(io.LimitReader(part, imaging.MaxBytes+1))
		if err != nil {
			return nil, bodyError(err)
		}
		if len(data) > imaging.MaxBytes {
			return nil, swiper.FieldError(swiper.ETooLarge, "avatar", "the image is over 10 MiB")
		}
		return data, nil
	}
}

func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return swiper.FieldError(swiper.ETooLarge, "avatar", "the image is over 10 MiB")
	}
	return swiper.FieldError(swiper.EBadRequest, "avatar", "the multipart body could not be read")
}

// processAvatar re-encodes the image, a few at a time: decoding may take
// up to 160 MB for a large photo, so concurrency, not the number of
// clients, bounds the memory.
func (s *Server) processAvatar(r *http.Request, data []byte) (*imaging.Image, error) {
	if s.AvatarSlots != nil {
		select {
		case s.AvatarSlots <- struct{}{}:
			defer func() { <-s.AvatarSlots }()
		case <-r.Context().Done():
			return nil, swiper.Unavailable("http.processAvatar", r.Context().Err())
		}
	}
	return imaging.Process(data)
}

func (s *Server) getAvatarJob(w http.ResponseWriter, r *http.Request) {
	notFound := swiper.Errorf(swiper.ENotFound, "no such upload job")
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		WriteError(w, r, notFound)
		return
	}
	j, err := s.Uploads.UploadJob(r.Context(), id)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	if j.UID != callerID(r) {
		WriteError(w, r, notFound) // another user's job does not exist for the caller
		return
	}
	WriteJSON(w, http.StatusOK, map[string]Job{"job": JobOf(j)})
}

// mediaName is what /media/ serves: avatars by user and content hash.
var mediaName = regexp.MustCompile(`^avatars/[0-9]+/[0-9a-f]{64}\.jpg$`)

// MediaHandler serves the local object store's files under dir at /media/.
// A name holds its content's hash, so the content never changes: clients
// and CDNs may keep it for a year, and the hash is its ETag.
func MediaHandler(dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			WriteError(w, r, swiper.Errorf(swiper.EBadRequest, "method not allowed; use GET"))
			return
		}
		name := r.URL.Path[len("/media/"):]
		if !mediaName.MatchString(name) {
			NotFound(w, r)
			return
		}
		f, err := os.Open(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			NotFound(w, r)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil || !st.Mode().IsRegular() {
			NotFound(w, r)
			return
		}
		base := filepath.Base(name)
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		w.Header().Set("ETag", `"`+base[:len(base)-len(".jpg")]+`"`)
		http.ServeContent(w, r, "", time.Time{}, f)
	})
}
