// Package httpapi is the HTTP plumbing that Swiper's listeners share: the
// client API (transport/http), the admin API (transport/admin) and the
// WebSocket upgrade (transport/ws). It decodes request bodies strictly,
// reads path and query parameters, writes JSON responses and the error
// object of API.md (swiper.ErrorBody, with the status of swiper.StatusOf),
// routes by method, answers unknown paths and recovers from panics.
//
// It lives under internal/ so that the transports need not import each
// other for it; like every internal/ helper it depends only on the root
// package and the standard library.
package httpapi

import (
	"log/slog"
	"net/http"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/swiperhq/swiper"
)

// Methods routes one path by method, answering others with a JSON 405
// whose Allow header lists the allowed ones.
type Methods map[string]http.HandlerFunc

func (m Methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := m[r.Method]; ok {
		h(w, r)
		return
	}
	allowed := make([]string, 0, len(m))
	for k := range m {
		allowed = append(allowed, k)
	}
	sort.Strings(allowed)
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	WriteJSON(w, http.StatusMethodNotAllowed, swiper.ErrorReply{Error: swiper.ErrorBody{Code: swiper.EBadRequest, Name: swiper.EBadRequest.Name(), Message: "method not allowed; use " + strings.Join(allowed, " or ")}})
}

// NotFound answers any unknown path with a JSON 404.
func NotFound(w http.ResponseWriter, r *http.Request) {
	WriteError(w, r, swiper.Errorf(swiper.ENotFound, "no such endpoint"))
}

// Recover turns a panic in a handler into a logged 500 with code 1107.
func Recover(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				slog.ErrorContext(r.Context(), "handler panicked", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				WriteError(w, r, swiper.Errorf(swiper.EInternal, "internal error"))
			}
		}()
		h.ServeHTTP(w, r)
	})
}

// BearerToken returns the token of an "Authorization: Bearer" header, or "".
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}
