package httpapi

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/swiperhq/swiper"
)

// MaxPathBytes and MaxQueryBytes bound a request's path and query string.
// Every route's path is short and no query needs more than a token and a
// few numbers; the listener's MaxHeaderBytes bounds the whole request line
// before this (and is answered by net/http itself, in plain text).
const (
	MaxPathBytes  = 1 << 10
	MaxQueryBytes = 4 << 10
)

// CheckURL refuses, before routing, a request whose path or query string
// is longer than its bound or whose query string is not well-formed
// (url.Values would drop a malformed pair without a word and the route
// would see a default instead of what was sent): 400 / 1100 naming "path"
// or "query".
func CheckURL(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case len(r.URL.EscapedPath()) > MaxPathBytes:
			WriteError(w, r, swiper.FieldError(swiper.EBadRequest, "path", "the path is longer than %d bytes", MaxPathBytes))
			return
		case len(r.URL.RawQuery) > MaxQueryBytes:
			WriteError(w, r, swiper.FieldError(swiper.EBadRequest, "query", "the query string is longer than %d bytes", MaxQueryBytes))
			return
		}
		if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
			WriteError(w, r, swiper.FieldError(swiper.EBadRequest, "query", "the query string is malformed"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// ParseID reads an id written as the API writes one: a positive int64 in
// plain decimal, with no sign, leading zeros, spaces or exponent, so that
// one id has one spelling ("+5", "05" and "5.0" are not ids).
func ParseID(s string) (int64, bool) {
	if s == "" || len(s) > 19 || s[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}

// parseCount reads a whole number in [lo, hi] written in plain decimal
// (no sign, no leading zeros).
func parseCount(s string, lo, hi int) (int, bool) {
	if s == "0" && lo <= 0 {
		return 0, true
	}
	n, ok := ParseID(s)
	if !ok || n < int64(lo) || n > int64(hi) {
		return 0, false
	}
	return int(n), true
}

// QueryInt reads the whole-number query parameter name: def when absent,
// EBadRequest naming it when it is given twice or is not a whole number
// in [lo, hi].
func QueryInt(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query()[name]
	if len(v) == 0 {
		return def, nil
	}
	n, ok := parseCount(v[0], lo, hi)
	if !ok || len(v) > 1 {
		return 0, swiper.FieldError(swiper.EBadRequest, name, "%s must be a whole number from %d to %d", name, lo, hi)
	}
	return n, nil
}

// IDParam reads a user id from the path (ParseID).
func IDParam(r *http.Request, name string) (int64, error) {
	id, ok := ParseID(r.PathValue(name))
	if !ok {
		return 0, swiper.FieldError(swiper.EBadRequest, name, "%s must be a user id", name)
	}
	return id, nil
}

// LimitParam reads the "limit" query parameter: def when absent, EBadRequest
// (field "limit") when it is not a whole number in [1, max].
func LimitParam(r *http.Request, def, max int) (int, error) {
	return QueryInt(r, "limit", def, 1, max)
}
