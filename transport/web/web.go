// Package web serves Swiper's two faces, embedded in the binary: the web
// app at / on the client listener and the operators' dashboard at /admin/
// on the admin listener (API.md, "Web app"). Both are plain HTML, CSS and
// JavaScript modules with no build step; they talk to the APIs like any
// other client.
//
// The pages are served with a strict Content-Security-Policy: scripts and
// styles only from this origin, no inline script, no framing. What users
// write (nicknames, messages, report notes) reaches the page only as text
// nodes, so the policy is a second wall, not the first.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/swiperhq/swiper/internal/httpapi"
)

//go:embed app
var appFiles embed.FS

//go:embed admin
var adminFiles embed.FS

// policy is the pages' Content-Security-Policy. Avatars may come from a
// CDN or a media host other than this origin (SWIPER_MEDIA_BASE_URL), so
// images alone may load from anywhere; the socket is same-origin ('self'
// covers ws: and wss: of this host).
const policy = "default-src 'self'; img-src 'self' data: blob: https: http:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// file is one embedded file, ready to serve.
type file struct {
	name  string
	body  []byte
	etag  string
	ctype string
}

// site serves one embedded tree: index for its root, files under assets/.
type site struct {
	prefix string // the URL path the tree is mounted at, with a trailing slash
	files  map[string]file
}

func load(fsys fs.FS, root, prefix string) *site {
	s := &site{prefix: prefix, files: map[string]file{}}
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ctype := mime.TypeByExtension(path.Ext(p))
		if path.Ext(p) == ".js" {
			ctype = "text/javascript; charset=utf-8" // whatever the host's mime.types says
		}
		rel := strings.TrimPrefix(p, root+"/")
		s.files[rel] = file{name: rel, body: body, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, ctype: ctype}
		return nil
	})
	if err != nil {
		panic("web: embedded files: " + err.Error()) // the build embeds them; unreadable is a broken binary
	}
	return s
}

var (
	appSite   = load(appFiles, "app", "/")
	adminSite = load(adminFiles, "admin", "/admin/")
)

// App serves the web app: GET / and GET /assets/... (mount it at both).
func App() http.Handler { return appSite }

// Dashboard serves the operators' dashboard: GET /admin/ and
// GET /admin/assets/... (mount it at both). The page itself needs no
// token; every call it makes does.
func Dashboard() http.Handler { return adminSite }

// ServeHTTP serves the tree's index at its prefix and its assets below,
// anything else as the JSON 404 of the APIs beside it.
func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rel := strings.TrimPrefix(r.URL.Path, s.prefix)
	if rel == "" {
		rel = "index.html"
	} else if !strings.HasPrefix(rel, "assets/") {
		rel = "" // index.html is not served under a second name
	}
	f, ok := s.files[rel]
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		httpapi.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("Content-Security-Policy", policy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	// Revalidate every time: a new binary serves new files under the same
	// names, and the ETag makes the check a 304.
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.etag)
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(f.body))
}
