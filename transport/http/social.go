package http

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/httpapi"
	"github.com/swiperhq/swiper/internal/wire"
)

// Social is what the client API asks of users' actors (actors/user.Client
// in swiperd). Errors are *swiper.Error with API.md's codes.
type Social interface {
	Swipe(ctx context.Context, uid, sid int64, mark swiper.Mark) (*swiper.SwipeResult, error)
	Rewind(ctx context.Context, uid int64) (*swiper.Rewound, error)
	Recommendations(ctx context.Context, uid int64, limit int) ([]swiper.Candidate, error)
	LikedMe(ctx context.Context, uid int64, page swiper.Page) ([]swiper.Liker, *swiper.PageKey, error)
	Friends(ctx context.Context, uid int64, page swiper.Page) ([]swiper.Friend, *swiper.PageKey, error)
	Friend(ctx context.Context, uid, fid int64) (*swiper.User, error)
	Unmatch(ctx context.Context, uid, fid int64) error
	Block(ctx context.Context, uid, bid int64) error
}

// SwipeRequest is the body of POST /api/v1/swipes.
type SwipeRequest struct {
	SID  *int64  `json:"sid"`
	Mark *string `json:"mark"`
}

// Check validates the request and returns its swipe.
func (q *SwipeRequest) Check() (int64, swiper.Mark, error) {
	if q.SID == nil {
		return 0, "", swiper.FieldError(swiper.EBadRequest, "sid", "sid is required")
	}
	if q.Mark == nil {
		return 0, "", swiper.FieldError(swiper.EBadRequest, "mark", "mark is required")
	}
	if *q.SID <= 0 {
		return 0, "", swiper.BadSID("")
	}
	mark, err := swiper.ParseMark(*q.Mark)
	return *q.SID, mark, err
}

// PageParams reads the "limit" (1 to swiper.MaxPageLimit, default
// swiper.DefaultPageLimit) and "cursor" query parameters of a paged list.
func PageParams(r *http.Request) (swiper.Page, error) {
	limit, err := httpapi.LimitParam(r, swiper.DefaultPageLimit, swiper.MaxPageLimit)
	if err != nil {
		return swiper.Page{}, err
	}
	page := swiper.Page{Limit: limit}
	if v := r.URL.Query()["cursor"]; len(v) > 1 {
		return swiper.Page{}, badCursor()
	} else if len(v) == 1 {
		if page.After, err = ParseCursor(v[0]); err != nil {
			return swiper.Page{}, err
		}
	}
	return page, nil
}

// A cursor is opaque to clients: the base64url form of the page key's
// microseconds and user id. maxCursor bounds what is worth decoding.
const maxCursor = 64

// Cursor returns the wire form of a page key: nil (JSON null) for none.
func Cursor(k *swiper.PageKey) *string {
	if k == nil {
		return nil
	}
	c := base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(k.At.UnixMicro(), 10) + "." + strconv.FormatInt(k.ID, 10)))
	return &c
}

// ParseCursor reads a cursor that Cursor made: nil for "" (the first
// page), EBadRequest (field "cursor") for anything else it did not make.
func ParseCursor(c string) (*swiper.PageKey, error) {
	if c == "" {
		return nil, nil
	}
	if len(c) > maxCursor {
		return nil, badCursor()
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(c)
	if err != nil {
		return nil, badCursor()
	}
	at, id, ok := strings.Cut(string(raw), ".")
	if !ok {
		return nil, badCursor()
	}
	micros, err1 := strconv.ParseInt(at, 10, 64)
	uid, err2 := strconv.ParseInt(id, 10, 64)
	if err1 != nil || err2 != nil || uid <= 0 || micros < 0 {
		return nil, badCursor()
	}
	return &swiper.PageKey{At: time.UnixMicro(micros).UTC(), ID: uid}, nil
}

func badCursor() error {
	return swiper.FieldError(swiper.EBadRequest, "cursor", "cursor must be a next_cursor this API returned")
}

func (s *Server) swipe(w http.ResponseWriter, r *http.Request) {
	var q SwipeRequest
	if err := httpapi.DecodeJSON(w, r, &q, false); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	reply(w, r)(s.doSwipe(r.Context(), callerID(r), q))
}

func (s *Server) rewind(w http.ResponseWriter, r *http.Request) {
	var q struct{}
	if err := httpapi.DecodeJSON(w, r, &q, true); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	reply(w, r)(s.doRewind(r.Context(), callerID(r)))
}

func (s *Server) recommendations(w http.ResponseWriter, r *http.Request) {
	limit, err := httpapi.LimitParam(r, 20, 50)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	reply(w, r)(s.doRecommendations(r.Context(), callerID(r), limit))
}

func (s *Server) likedMe(w http.ResponseWriter, r *http.Request) {
	page, err := PageParams(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	reply(w, r)(s.doLikedMe(r.Context(), callerID(r), page))
}

func (s *Server) friends(w http.ResponseWriter, r *http.Request) {
	page, err := PageParams(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	reply(w, r)(s.doFriends(r.Context(), callerID(r), page))
}

// reply writes what a call returned: its result with 200, or its error.
func reply(w http.ResponseWriter, r *http.Request) func(any, error) {
	return func(v any, err error) {
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, v)
	}
}

// The social calls that HTTP and the WebSocket share: each returns the
// wire form of its result.

func (s *Server) doSwipe(ctx context.Context, uid int64, q SwipeRequest) (any, error) {
	sid, mark, err := q.Check()
	if err != nil {
		return nil, err
	}
	res, err := s.Social.Swipe(ctx, uid, sid, mark)
	if err != nil {
		return nil, err
	}
	return wire.SwipeReplyOf(res, s.today()), nil
}

func (s *Server) doRewind(ctx context.Context, uid int64) (any, error) {
	res, err := s.Social.Rewind(ctx, uid)
	if err != nil {
		return nil, err
	}
	return wire.RewindReplyOf(res), nil
}

func (s *Server) doRecommendations(ctx context.Context, uid int64, limit int) (any, error) {
	cs, err := s.Social.Recommendations(ctx, uid, limit)
	if err != nil {
		return nil, err
	}
	return wire.UsersReply[wire.Candidate]{Users: wire.CandidatesOf(cs, s.today())}, nil
}

func (s *Server) doLikedMe(ctx context.Context, uid int64, page swiper.Page) (any, error) {
	ls, next, err := s.Social.LikedMe(ctx, uid, page)
	if err != nil {
		return nil, err
	}
	return wire.LikedMeReply{Users: wire.LikersOf(ls, s.today()), NextCursor: Cursor(next)}, nil
}

func (s *Server) doFriends(ctx context.Context, uid int64, page swiper.Page) (any, error) {
	fs, next, err := s.Social.Friends(ctx, uid, page)
	if err != nil {
		return nil, err
	}
	return wire.FriendsReply{Friends: wire.FriendsOf(fs, s.today()), NextCursor: Cursor(next)}, nil
}

// Call serves a social call made over the WebSocket, by its name there
// (API.md: swipe, rewind, recommendations, liked_me, friends,
// send_message, messages, read), with the
// same params as its HTTP route (a JSON object; absent or {} where the
// route takes none; recommendations takes {"limit": n}, liked_me and
// friends {"limit": n, "cursor": c}) and the same result and errors.
func (s *Server) Call(ctx context.Context, uid int64, method string, params json.RawMessage) (any, error) {
	switch method {
	case "swipe":
		var q SwipeRequest
		if err := httpapi.DecodeBytes(params, &q, false); err != nil {
			return nil, err
		}
		return s.doSwipe(ctx, uid, q)
	case "recommendations":
		var q struct {
			Limit *int `json:"limit"`
		}
		if err := httpapi.DecodeBytes(params, &q, true); err != nil {
			return nil, err
		}
		limit := 20
		if q.Limit != nil {
			if *q.Limit < 1 || *q.Limit > 50 {
				return nil, swiper.FieldError(swiper.EBadRequest, "limit", "limit must be a whole number from 1 to 50")
			}
			limit = *q.Limit
		}
		return s.doRecommendations(ctx, uid, limit)
	case "liked_me", "friends":
		var q struct {
			Limit  *int    `json:"limit"`
			Cursor *string `json:"cursor"`
		}
		if err := httpapi.DecodeBytes(params, &q, true); err != nil {
			return nil, err
		}
		page := swiper.Page{Limit: swiper.DefaultPageLimit}
		if q.Limit != nil {
			if *q.Limit < 1 || *q.Limit > swiper.MaxPageLimit {
				return nil, swiper.FieldError(swiper.EBadRequest, "limit", "limit must be a whole number from 1 to %d", swiper.MaxPageLimit)
			}
			page.Limit = *q.Limit
		}
		if q.Cursor != nil {
			var err error
			if page.After, err = ParseCursor(*q.Cursor); err != nil {
				return nil, err
			}
		}
		if method == "liked_me" {
			return s.doLikedMe(ctx, uid, page)
		}
		return s.doFriends(ctx, uid, page)
	case "send_message", "messages", "read":
		if s.Messages != nil {
			return s.callMessages(ctx, uid, method, params)
		}
	case "rewind":
		var q struct{}
		if err := httpapi.DecodeBytes(params, &q, true); err != nil {
			return nil, err
		}
		return s.doRewind(ctx, uid)
	case "":
		return nil, swiper.FieldError(swiper.EBadRequest, "method", "method is required")
	}
	return nil, swiper.FieldError(swiper.EBadRequest, "method", "unknown method %q: use swipe, rewind, recommendations, liked_me, friends, send_message, messages or read", method)
}

func (s *Server) friend(w http.ResponseWriter, r *http.Request) {
	fid, err := httpapi.IDParam(r, "id")
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	u, err := s.Social.Friend(r.Context(), callerID(r), fid)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	out := wire.FriendUser{User: wire.UserOf(u, s.today())}
	if !u.Birthday.IsZero() {
		b := u.Birthday.Format(time.DateOnly)
		out.Birthday = &b
	}
	httpapi.WriteJSON(w, http.StatusOK, wire.FriendReply{User: out})
}

func (s *Server) unmatch(w http.ResponseWriter, r *http.Request) {
	fid, err := httpapi.IDParam(r, "id")
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if err := s.Social.Unmatch(r.Context(), callerID(r), fid); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// maxHiddenSkipped bounds how far past its limit a ranking page reads to
// make up for the users it leaves out.
const maxHiddenSkipped = 1000

func (s *Server) ranking(w http.ResponseWriter, r *http.Request) {
	limit, err := httpapi.LimitParam(r, 10, 100)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	// Those the caller blocked or was blocked by are left out, and the
	// ranks counted without them, so that no gap shows where they were.
	hidden, err := s.hidden(r.Context(), callerID(r))
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	// At most maxHiddenSkipped are made up for: past that, the page may
	// come out short rather than read a ranking as long as a block list.
	ids, scores, err := s.Ranking.Top(r.Context(), limit+min(len(hidden), maxHiddenSkipped))
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if len(hidden) > 0 {
		keep := 0
		for i, id := range ids {
			if !hidden[id] && keep < limit {
				ids[keep], scores[keep] = id, scores[i]
				keep++
			}
		}
		ids, scores = ids[:keep], scores[:keep]
	}
	users, err := s.Users.Users(r.Context(), ids)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	byID := make(map[int64]*swiper.User, len(users))
	for _, u := range users {
		byID[u.ID] = u
	}
	today := s.today()
	out := make([]wire.Ranked, 0, len(ids))
	for i, id := range ids {
		if u, ok := byID[id]; ok {
			out = append(out, wire.Ranked{User: wire.UserOf(u, today), Score: scores[i], Rank: i + 1})
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, wire.UsersReply[wire.Ranked]{Users: out})
}
