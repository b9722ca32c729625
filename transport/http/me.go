package http

import (
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/httpapi"
	"github.com/swiperhq/swiper/internal/wire"
)

func (s *Server) getMe(w http.ResponseWriter, r *http.Request) {
	u, err := s.Users.User(r.Context(), callerID(r))
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, wire.MeOf(u, s.today()))
}

func (s *Server) patchMe(w http.ResponseWriter, r *http.Request) {
	obj, err := httpapi.DecodeObject(w, r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	patch, err := userPatchOf(obj)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	u, err := s.Users.UpdateUser(r.Context(), callerID(r), patch, s.today())
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, wire.MeOf(u, s.today()))
}

// userPatchOf reads a PATCH /me body. Unknown fields and wrong types are
// EBadRequest; values out of range are left to UserPatch.Apply (EInvalidProfile),
// but for a birthday that is not a date, which is EInvalidProfile here.
func userPatchOf(obj map[string]json.RawMessage) (*swiper.UserPatch, error) {
	p := &swiper.UserPatch{}
	str := func(dst **string) func(string, json.RawMessage) error {
		return func(name string, raw json.RawMessage) error {
			*dst = new(string)
			return httpapi.Field(name, raw, *dst)
		}
	}
	sex := func(dst **swiper.Sex) func(string, json.RawMessage) error {
		return func(name string, raw json.RawMessage) error {
			*dst = new(swiper.Sex)
			return httpapi.Field(name, raw, (*string)(*dst))
		}
	}
	num := func(dst **int) func(string, json.RawMessage) error {
		return func(name string, raw json.RawMessage) error {
			*dst = new(int)
			return httpapi.Field(name, raw, *dst)
		}
	}
	flag := func(dst **bool) func(string, json.RawMessage) error {
		return func(name string, raw json.RawMessage) error {
			*dst = new(bool)
			return httpapi.Field(name, raw, *dst)
		}
	}
	fields := map[string]func(string, json.RawMessage) error{
		"nickname": str(&p.Nickname),
		"sex":      sex(&p.Sex),
		"birthday": func(name string, raw json.RawMessage) error {
			var s string
			if err := httpapi.Field(name, raw, &s); err != nil {
				return err
			}
			b, err := time.Parse(time.DateOnly, s)
			if err != nil {
				return swiper.FieldError(swiper.EInvalidProfile, name, "birthday must be a date written YYYY-MM-DD")
			}
			p.Birthday = &b
			return nil
		},
		"location":        str(&p.Location),
		"dating_sex":      sex(&p.DatingSex),
		"dating_location": str(&p.DatingLocation),
		"min_dating_age":  num(&p.MinDatingAge),
		"max_dating_age":  num(&p.MaxDatingAge),
		"vibration":       flag(&p.Vibration),
		"only_matched":    flag(&p.OnlyMatched),
		"auto_play":       flag(&p.AutoPlay),
	}
	names := make([]string, 0, len(obj))
	for name := range obj {
		names = append(names, name)
	}
	sort.Strings(names) // the same body always reports the same field
	for _, name := range names {
		f, ok := fields[name]
		if !ok {
			return nil, swiper.FieldError(swiper.EBadRequest, name, "unknown field %q", name)
		}
		if err := f(name, obj[name]); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// deleteMe erases the caller's account. A retry after a failure part way
// (PostgreSQL erased, Redis not yet) finds no user and erases the rest.
func (s *Server) deleteMe(w http.ResponseWriter, r *http.Request) {
	var q struct{}
	if err := httpapi.DecodeJSON(w, r, &q, true); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if err := s.Erase(r.Context(), callerID(r)); err != nil && swiper.ErrorCode(err) != swiper.ENotFound {
		httpapi.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
