package http

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/httpapi"
	"github.com/swiperhq/swiper/internal/imaging"
	"github.com/swiperhq/swiper/internal/wire"
)

// maxParts is how many multipart parts an upload may send before its
// "avatar" field: a form has one field, maybe a few more; a thousand tiny
// parts are an attack on the parser, not an avatar.
const maxParts = 8

// maxPartHeader bounds a part's header: a name, a file name and a type
// take a few hundred bytes.
const maxPartHeader = 8 << 10

// headerSize is the bytes of h as sent, near enough.
func headerSize(h textproto.MIMEHeader) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// defaultAvatarReadTimeout is the avatar body's read deadline when the
// server does not set one: 10 MiB at ~700 kbit/s.
const defaultAvatarReadTimeout = 2 * time.Minute

// uploadAvatar accepts an avatar: it reads the "avatar" part (never more
// than 10 MiB of it), checks and re-encodes it, and commits the job with
// the processed bytes before answering 202.
//
// Memory is taken before it is used: one upload per user at a time (a
// second gets 429), then a share of the avatar budget for the body before
// a byte of it is read, then a share for decoding weighed by what the
// image's header says it will cost. Waiting for a share is bounded (then
// 503 with a Retry-After); every share is given back when the image is
// processed, whatever happened.
func (s *Server) uploadAvatar(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > imaging.MaxBytes+imaging.BodySlack {
		httpapi.WriteError(w, r, swiper.AvatarTooLarge("http.uploadAvatar"))
		return
	}
	uid := callerID(r)
	if !s.startAvatar(uid) {
		httpapi.WriteError(w, r, &swiper.Error{Code: swiper.ERateLimited, Op: "http.uploadAvatar", Field: "avatar",
			Message: "another avatar upload of yours is in progress; wait for it to finish", RetryAfterSeconds: 2})
		return
	}
	defer s.endAvatar(uid)
	img, err := s.readAvatar(w, r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	job, err := s.Uploads.CreateUpload(r.Context(), uid, swiper.AvatarKey(uid, img.SHA256), img.JPEG, s.Clock.Now())
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if s.KickUploads != nil {
		s.KickUploads()
	}
	httpapi.WriteJSON(w, http.StatusAccepted, wire.JobReply{Job: wire.JobOf(job)})
}

// startAvatar claims uid's one upload in flight; false if it has one.
func (s *Server) startAvatar(uid int64) bool {
	s.avatarMu.Lock()
	defer s.avatarMu.Unlock()
	if s.avatarUsers[uid] {
		return false
	}
	if s.avatarUsers == nil {
		s.avatarUsers = map[int64]bool{}
	}
	s.avatarUsers[uid] = true
	return true
}

func (s *Server) endAvatar(uid int64) {
	s.avatarMu.Lock()
	defer s.avatarMu.Unlock()
	delete(s.avatarUsers, uid)
}

// readAvatar reads, checks and re-encodes the avatar of r, holding its
// budget shares only as long as the image's bytes are in memory.
func (s *Server) readAvatar(w http.ResponseWriter, r *http.Request) (*imaging.Image, error) {
	limit := int64(imaging.MaxBytes + imaging.BodySlack)
	bodySize := limit
	if r.ContentLength > 0 {
		bodySize = r.ContentLength
	}
	if s.AvatarBudget != nil {
		release, err := s.AvatarBudget.Body(r.Context(), bodySize)
		if err != nil {
			return nil, err
		}
		defer release()
	}
	// The body has its own deadline, counted from when it may be read: the
	// listener's read timeout is for small requests, and 10 MiB over a
	// slow link takes longer. A client that stalls is still cut off.
	timeout := s.AvatarReadTimeout
	if timeout <= 0 {
		timeout = defaultAvatarReadTimeout
	}
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(timeout)
	if err := rc.SetReadDeadline(deadline); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return nil, swiper.Internal("http.readAvatar", err)
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	data, err := avatarPart(r, int(min(bodySize, imaging.MaxBytes)))
	if err != nil {
		if time.Now().After(deadline) {
			return nil, swiper.FieldError(swiper.EBadRequest, "avatar", "the image did not arrive within %v", timeout)
		}
		return nil, err
	}
	if s.AvatarBudget == nil {
		return imaging.Process(data)
	}
	h, err := imaging.Inspect(data)
	if err != nil {
		return nil, err
	}
	release, err := s.AvatarBudget.Decode(r.Context(), h)
	if err != nil {
		return nil, err
	}
	defer release()
	return imaging.Process(data)
}

// avatarPart returns the bytes of the multipart field "avatar", reading
// into a buffer of sizeHint bytes.
func avatarPart(r *http.Request, sizeHint int) ([]byte, error) {
	missing := swiper.FieldError(swiper.EBadRequest, "avatar", "send the image as the multipart/form-data field \"avatar\"")
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "multipart/form-data" {
		return nil, missing
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, missing
	}
	for parts := 0; ; parts++ {
		if parts == maxParts {
			return nil, swiper.FieldError(swiper.EBadRequest, "avatar",
				"the form has more than %d parts before the \"avatar\" field; send the image alone", maxParts)
		}
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, missing
		}
		if err != nil {
			return nil, bodyError(err)
		}
		if headerSize(part.Header) > maxPartHeader {
			return nil, swiper.FieldError(swiper.EBadRequest, "avatar", "a part's header is over %d KiB", maxPartHeader>>10)
		}
		if part.FormName() != "avatar" {
			continue // other fields are skipped, read through the body's limit
		}
		buf := bytes.NewBuffer(make([]byte, 0, sizeHint))
		if _, err := buf.ReadFrom(io.LimitReader(part, imaging.MaxBytes+1)); err != nil {
			return nil, bodyError(err)
		}
		if buf.Len() > imaging.MaxBytes {
			return nil, swiper.AvatarTooLarge("http.readAvatar")
		}
		return buf.Bytes(), nil
	}
}

func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return swiper.AvatarTooLarge("http.readAvatar")
	}
	return swiper.FieldError(swiper.EBadRequest, "avatar", "the multipart body could not be read")
}

func (s *Server) getAvatarJob(w http.ResponseWriter, r *http.Request) {
	notFound := swiper.NoSuchUploadJob("http.getAvatarJob")
	id, ok := httpapi.ParseID(r.PathValue("id"))
	if !ok {
		httpapi.WriteError(w, r, notFound)
		return
	}
	j, err := s.Uploads.UploadJob(r.Context(), id)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if j.UID != callerID(r) {
		httpapi.WriteError(w, r, notFound) // another user's job does not exist for the caller
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, wire.JobReply{Job: wire.JobOf(j)})
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
			httpapi.WriteError(w, r, swiper.Errorf(swiper.EBadRequest, "method not allowed; use GET"))
			return
		}
		name := r.URL.Path[len("/media/"):]
		if !mediaName.MatchString(name) {
			httpapi.NotFound(w, r)
			return
		}
		f, err := os.Open(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			httpapi.NotFound(w, r)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil || !st.Mode().IsRegular() {
			httpapi.NotFound(w, r)
			return
		}
		base := filepath.Base(name)
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		w.Header().Set("ETag", `"`+base[:len(base)-len(".jpg")]+`"`)
		http.ServeContent(w, r, "", time.Time{}, f)
	})
}
