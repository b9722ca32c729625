package admin_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/actors/upload"
	"github.com/swiperhq/swiper/internal/app/apptest"
	"github.com/swiperhq/swiper/internal/testkit"
	"github.com/swiperhq/swiper/store/postgres"
	"github.com/swiperhq/swiper/store/redis"
	"github.com/swiperhq/swiper/transport/admin"
	"github.com/swiperhq/swiper/transport/http/openapitest"
)

const adminToken = apptest.AdminToken

// harness is the admin API of a node, the assembly swiperd runs
// (internal/app), on real PostgreSQL and Redis; kicks counts the upload
// kicks it would have given the node's upload manager.
type harness struct {
	t        *testing.T
	url      string
	db       *postgres.DB
	users    *postgres.UserStore
	tokens   *redis.Store
	settings *postgres.SettingsStore
	notices  *redis.Notices
	feed     *swiper.SettingsFeed
	uploads  *postgres.UploadStore
	kicks    atomic.Int64
	// client checks every exchange against the OpenAPI description.
	client *http.Client
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t}
	a := apptest.MustOpen(t, func(s *apptest.Setup) {
		s.Options.Admin = func(srv *admin.Server) { srv.KickUploads = func() { h.kicks.Add(1) } }
		// The tests claim and fail upload jobs themselves: the node's own
		// manager must not claim them first (its poll raced them on a
		// loaded machine). Kicks never reach it either.
		s.Options.Upload = func(o *upload.Options) { o.Poll = time.Hour }
	})
	h.url, h.db, h.users, h.tokens = a.AdminURL, a.DB, a.Users, a.Tokens
	h.settings, h.notices, h.feed, h.uploads = a.Settings, a.Notices, a.Feed, a.Uploads
	h.client = openapitest.Must(t).HTTPClient(t, nil, map[string]openapitest.Listener{h.url: openapitest.Admin})
	return h
}

// response is a response read whole.
type response = testkit.Response

func (h *harness) do(method, path, token, body string) response {
	h.t.Helper()
	r, err := testkit.Do(h.client, method, h.url+path, token, body)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (h *harness) newUser(phone string) int64 {
	h.t.Helper()
	u, _, err := h.users.LoginPhone(context.Background(), phone)
	if err != nil {
		h.t.Fatal(err)
	}
	return u.ID
}
