package node_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/wire"
	"github.com/swiperhq/swiper/internal/wire/wiretest"
	"github.com/swiperhq/swiper/transport/ws"
)

// TestReportOverTheAPI: a report is stored for the operators' queue and
// blocks its subject; the same report again (a retry) is the same report,
// updated; bad reports are refused naming their field, with nothing
// stored and nothing blocked.
func TestReportOverTheAPI(t *testing.T) {
	h := newHarness(t)
	a, ta := h.user(person{})
	b, tb := h.user(person{sex: swiper.Male})
	h.mustSwipe(tb, a, swiper.Like)

	for _, bad := range []struct {
		name   string
		body   any
		status int
		code   swiper.Code
		field  string
	}{
		{"self", map[string]any{"user_id": a, "reason": "spam"}, 400, swiper.EBadRequest, "user_id"},
		{"no such user", map[string]any{"user_id": 999999999, "reason": "spam"}, 404, swiper.EInvalidSID, "user_id"},
		{"no reason", map[string]any{"user_id": b}, 400, swiper.EBadRequest, "reason"},
		{"unknown reason", map[string]any{"user_id": b, "reason": "rude"}, 400, swiper.EBadRequest, "reason"},
		{"note too long", map[string]any{"user_id": b, "reason": "other", "note": strings.Repeat("é", 501)}, 400, swiper.EBadRequest, "note"},
		{"control character in the note", map[string]any{"user_id": b, "reason": "other", "note": "a\u202eb"}, 400, swiper.EBadRequest, "note"},
		{"unknown field", map[string]any{"user_id": b, "reason": "spam", "block": false}, 400, swiper.EBadRequest, "block"},
	} {
		r := h.do("POST", "/api/v1/reports", ta, bad.body)
		wantError(t, r, bad.status, bad.code)
		if got := errorBody(t, r).Field; got != bad.field {
			t.Errorf("%s: field %q; want %q (%s)", bad.name, got, bad.field, r.Raw)
		}
	}
	if n := h.count(`SELECT count(*) FROM reports`) + h.count(`SELECT count(*) FROM blocks`); n != 0 {
		t.Fatalf("%d reports and blocks after only bad requests", n)
	}

	note := "line one\nline two: <b>as sent</b> 😀"
	r := h.do("POST", "/api/v1/reports", ta, map[string]any{"user_id": b, "reason": "abuse", "note": "first note"})
	if r.Status != 201 {
		t.Fatalf("report: %d %s", r.Status, r.Raw)
	}
	first := wiretest.Decode[wire.ReportReply](t, r.Raw).Report
	r = h.do("POST", "/api/v1/reports", ta, map[string]any{"user_id": b, "reason": "fake", "note": note})
	if r.Status != 201 {
		t.Fatalf("report again: %d %s", r.Status, r.Raw)
	}
	again := wiretest.Decode[wire.ReportReply](t, r.Raw).Report
	if again.ID != first.ID || again.UserID != b || again.Reason != "fake" || again.Note != note {
		t.Errorf("the report again = %+v; want report %d updated to fake with the note as sent", again, first.ID)
	}
	if n := h.count(`SELECT count(*) FROM reports`); n != 1 {
		t.Errorf("%d reports; want the one", n)
	}
	// Reporting also blocks: b's like of a is gone, and b cannot swipe a.
	if n := h.count(`SELECT count(*) FROM blocks WHERE uid = $1 AND blocked = $2`, a, b); n != 1 {
		t.Errorf("report did not block (%d block rows)", n)
	}
	if n := h.count(`SELECT count(*) FROM swipes WHERE uid = $1 AND sid = $2`, b, a); n != 0 {
		t.Errorf("b's like of a survived the report's block")
	}
	wantError(t, h.swipe(tb, a, swiper.Like), 404, swiper.EInvalidSID)

	q := h.admin("GET", "/admin/v1/reports?status=open", nil)
	if q.Status != 200 {
		t.Fatalf("queue: %d %s", q.Status, q.Raw)
	}
	queue := wiretest.Decode[wire.ReportsReply](t, q.Raw).Reports
	if len(queue) != 1 || queue[0].ID != first.ID || queue[0].ReporterID != a || queue[0].Status != "open" || queue[0].Action != nil || queue[0].Note != note {
		t.Errorf("open queue = %s; want a's report of b, open, no action", q.Raw)
	}
	if q := h.admin("GET", "/admin/v1/reports?status=resolved", nil); len(wiretest.Decode[wire.ReportsReply](t, q.Raw).Reports) != 0 {
		t.Errorf("resolved queue = %s; want none", q.Raw)
	}
	if q := h.admin("GET", fmt.Sprintf("/admin/v1/reports?after=%d", first.ID), nil); len(wiretest.Decode[wire.ReportsReply](t, q.Raw).Reports) != 0 {
		t.Errorf("queue after the last = %s; want none", q.Raw)
	}
	for _, bad := range []string{"?status=closed", "?status=open&status=resolved", "?limit=0", "?limit=101", "?after=-1", "?after=01", "?after=x"} {
		wantError(t, h.admin("GET", "/admin/v1/reports"+bad, nil), 400, swiper.EBadRequest)
	}
	if r, err := h.try(h.adm, "GET", "/admin/v1/reports", "", nil); err != nil || r.Status != 401 {
		t.Errorf("queue without the admin token: %d %v; want 401", r.Status, err)
	}
}

// TestBanOverTheAPI: two reports of b; an operator dismisses one and bans
// on the other. The ban resolves both, closes b's socket with 4001,
// revokes its tokens, refuses its login with 1109 (after the right code),
// takes it off the ranking and out of everyone's recommendations, and
// makes it no one's to swipe. A retried resolve changes nothing.
func TestBanOverTheAPI(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	_, ta := h.user(person{})
	bPhone := fmt.Sprintf("+1555%07d", nextPhone())
	b, tb := h.user(person{sex: swiper.Male, phone: bPhone})
	_, tc := h.user(person{})
	_, td := h.user(person{})                       // sees b in recommendations, then not
	e, te := h.user(person{vip: swiper.VIPLikedMe}) // sees b's like in liked-me, then not
	wb := h.dial(tb)
	h.online(b, 1)
	h.mustSwipe(tc, b, swiper.Like) // b is ranked
	h.mustSwipe(tb, e, swiper.Like)
	likers := func() []int64 {
		t.Helper()
		r := h.do("GET", "/api/v1/liked-me", te, nil)
		if r.Status != 200 {
			t.Fatalf("liked-me: %d %s", r.Status, r.Raw)
		}
		return idsOf(wiretest.Decode[wire.LikedMeReply](t, r.Raw).Users, ofLiker)
	}
	if got := likers(); !slices.Contains(got, b) {
		t.Fatalf("liked-me %v lacks b before the ban", got)
	}
	eventually(t, settle, "b in the ranking", func() bool {
		r := h.do("GET", "/api/v1/ranking?limit=100", td, nil)
		return slices.Contains(idsOf(wiretest.Decode[wire.UsersReply[wire.Ranked]](t, r.Raw).Users, ofRanked), b)
	})
	if got := recommended(t, h.do("GET", "/api/v1/recommendations?limit=50", td, nil)); !slices.Contains(got, b) {
		t.Fatalf("d's recommendations %v lack b before the ban: the test's premise", got)
	}
	report := func(token string) wire.Report {
		t.Helper()
		r := h.do("POST", "/api/v1/reports", token, map[string]any{"user_id": b, "reason": "abuse"})
		if r.Status != 201 {
			t.Fatalf("report: %d %s", r.Status, r.Raw)
		}
		return wiretest.Decode[wire.ReportReply](t, r.Raw).Report
	}
	ra, rc := report(ta), report(tc)
	if got := h.metric("swiper_reports_open"); got != 2 {
		t.Errorf("swiper_reports_open = %v; want 2", got)
	}
	resolve := func(id int64, action string) wire.QueuedReport {
		t.Helper()
		r := h.admin("POST", fmt.Sprintf("/admin/v1/reports/%d/resolve", id), map[string]any{"action": action})
		if r.Status != 200 {
			t.Fatalf("resolve %d %s: %d %s", id, action, r.Status, r.Raw)
		}
		return wiretest.Decode[struct {
			Report wire.QueuedReport `json:"report"`
		}](t, r.Raw).Report
	}
	for _, bad := range []any{map[string]any{}, map[string]any{"action": "warn"}, map[string]any{"action": "ban", "why": "x"}} {
		wantError(t, h.admin("POST", fmt.Sprintf("/admin/v1/reports/%d/resolve", ra.ID), bad), 400, swiper.EBadRequest)
	}
	wantError(t, h.admin("POST", "/admin/v1/reports/999999999/resolve", map[string]any{"action": "ban"}), 404, swiper.ENotFound)
	if n := h.count(`SELECT count(*) FROM reports WHERE status = 'open'`); n != 2 {
		t.Fatalf("%d open reports after bad resolves; want 2", n)
	}

	if got := resolve(rc.ID, "dismiss"); got.Status != "resolved" || got.Action == nil || *got.Action != "dismiss" {
		t.Errorf("dismissed = %+v", got)
	}
	if r := h.do("GET", "/api/v1/me", tb, nil); r.Status != 200 {
		t.Fatalf("b after a dismissal: %d %s; want still logged in", r.Status, r.Raw)
	}
	if got := resolve(ra.ID, "ban"); got.Status != "resolved" || got.Action == nil || *got.Action != "ban" {
		t.Errorf("banned = %+v", got)
	}
	if code := wb.closed(settle); code != ws.CloseTokenRevoked {
		t.Errorf("b's socket closed with %d; want %d", code, ws.CloseTokenRevoked)
	}
	wantError(t, h.do("GET", "/api/v1/me", tb, nil), 401, swiper.ELoginRequired)
	if err := h.direct.IssueCode(ctx, bPhone, "424242", time.Minute, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	wantError(t, h.do("POST", "/api/v1/auth/login", "", map[string]any{"phone": bPhone, "code": "424242"}), 403, swiper.EBanned)
	if got := recommended(t, h.do("GET", "/api/v1/recommendations?limit=50", td, nil)); slices.Contains(got, b) {
		t.Errorf("d's recommendations %v show banned b", got)
	}
	r := h.do("GET", "/api/v1/ranking?limit=100", td, nil)
	if got := idsOf(wiretest.Decode[wire.UsersReply[wire.Ranked]](t, r.Raw).Users, ofRanked); slices.Contains(got, b) {
		t.Errorf("ranking %v shows banned b", got)
	}
	// A score in flight when the ban came puts b back in Redis: still not
	// shown.
	if err := h.ranking.AddScore(context.Background(), b, 5); err != nil {
		t.Fatal(err)
	}
	r = h.do("GET", "/api/v1/ranking?limit=100", td, nil)
	if got := idsOf(wiretest.Decode[wire.UsersReply[wire.Ranked]](t, r.Raw).Users, ofRanked); slices.Contains(got, b) {
		t.Errorf("ranking %v shows banned b, re-added by a late score", got)
	}
	wantError(t, h.swipe(td, b, swiper.Like), 404, swiper.EInvalidSID)
	if got := likers(); slices.Contains(got, b) {
		t.Errorf("liked-me %v still shows banned b", got)
	}
	// The other report was resolved already (dismissed); a resolve again
	// returns the ban as it is.
	if got := resolve(ra.ID, "dismiss"); got.Action == nil || *got.Action != "ban" {
		t.Errorf("resolving the ban again as dismiss = %+v; want it unchanged", got)
	}
	if got := h.metric("swiper_reports_open"); got != 0 {
		t.Errorf("swiper_reports_open after both resolved = %v; want 0", got)
	}
	q := h.admin("GET", "/admin/v1/reports?status=resolved", nil)
	if got := wiretest.Decode[wire.ReportsReply](t, q.Raw).Reports; len(got) != 2 {
		t.Errorf("resolved queue = %s; want both", q.Raw)
	}
}
