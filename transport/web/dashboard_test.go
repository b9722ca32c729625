package web_test

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/actors/upload"
	"github.com/swiperhq/swiper/internal/app/apptest"
	"github.com/swiperhq/swiper/internal/testkit"
	"github.com/swiperhq/swiper/internal/wire"
	"github.com/swiperhq/swiper/internal/wire/wiretest"
	"github.com/swiperhq/swiper/store/cos"
	"github.com/swiperhq/swiper/store/cos/costest"
	"github.com/swiperhq/swiper/transport/admin"
	"github.com/swiperhq/swiper/transport/web/webtest"
)

// xss is a nickname and a note that would run script if the page ever
// parsed what users write as HTML.
const xss = `<img src=x onerror=alert(1)>`

// TestDashboard: an operator opens the dashboard, is refused with a wrong
// token and let in with the right one, sees the users' actors, changes
// rewind_per_day, retries an upload that failed while COS was down, bans
// a reported user whose nickname is markup (shown as text), and watches
// the swipes chart move. The console stays clean throughout but for the
// wrong token's 401.
func TestDashboard(t *testing.T) {
	bucket := costest.New(t)
	objects, err := cos.New(cos.Options{BucketURL: bucket.URL, SecretID: "id", SecretKey: "key",
		CDNBase: "https://cdn.example", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	a := apptest.MustOpen(t, func(s *apptest.Setup) {
		s.Options.Objects = objects
		tune := s.Options.Upload
		s.Options.Upload = func(o *upload.Options) {
			if tune != nil {
				tune(o)
			}
			o.MaxAttempts = 2 // fail fast while the bucket is down
		}
	})
	alice := dashUser(t, a, "+8613800138101", "Alice")
	bob := dashUser(t, a, "+8613800138102", "Bob")
	carol := dashUser(t, a, "+8613800138103", "Carol")
	// Their actors come alive: Alice likes Bob, Bob and Carol pass on each other,
	// Alice and Carol keep a socket open.
	dashSwipe(t, a, alice, bob.id, "like")
	dashSwipe(t, a, bob, carol.id, "dislike")
	dashSwipe(t, a, carol, bob.id, "dislike")
	dashSocket(t, a, alice)
	dashSocket(t, a, carol)

	b := webtest.Start(t)
	p := b.NewPage("operator")
	p.Run(chromedp.Navigate(a.AdminURL + "/admin/"))
	p.WaitJS(`!document.getElementById("login").hidden && document.activeElement.id === "token"`, "the token form, focused")

	// A wrong token: refused in words, and asked again.
	p.Expect(`status of 401`)
	p.Run(chromedp.SendKeys("#token", "not-the-token", chromedp.ByQuery), chromedp.Click("#login-form button", chromedp.ByQuery))
	p.WaitText("#login-error", "The admin token was not accepted")
	var stored string
	p.Eval(`sessionStorage.getItem("swiper.admin.token") || ""`, &stored)
	if stored != "" || !p.Visible("#login") || p.Visible("#dashboard") {
		t.Fatalf("after a wrong token: stored %q, form shown %v; want nothing stored and the form", stored, p.Visible("#login"))
	}

	p.Run(chromedp.SendKeys("#token", apptest.AdminToken, chromedp.ByQuery), chromedp.Click("#login-form button", chromedp.ByQuery))
	p.WaitJS(`!document.getElementById("dashboard").hidden && document.getElementById("login").hidden`, "the dashboard")
	p.Eval(`sessionStorage.getItem("swiper.admin.token")`, &stored)
	if stored != apptest.AdminToken {
		t.Errorf("session storage holds %q; want the admin token", stored)
	}

	// Cluster: this node's row counts the users' actors and the sockets.
	p.WaitJS(`(() => { const c = document.querySelector("#cluster-rows tr.here [data-count=users]"); return !!c && Number(c.textContent) >= 3 })()`,
		"this node's row to count 3 user actors")
	p.WaitJS(`Number(document.querySelector("#cluster-rows tr.here [data-count=sessions]").textContent) >= 2`, "2 sessions")

	// Each user looked up shows its actor.
	for _, u := range []dashPerson{alice, bob, carol} {
		p.Run(chromedp.SetValue("#lookup-id", fmt.Sprint(u.id), chromedp.ByQuery), chromedp.Click("#lookup-form button", chromedp.ByQuery))
		p.WaitJS(fmt.Sprintf(`document.getElementById("lookup-result").dataset.user === "%d" && !document.getElementById("lookup-result").hidden`, u.id),
			fmt.Sprintf("the lookup of %s", u.name))
		p.WaitText("#lookup-name", u.name)
		p.WaitText(`#lookup-actor [data-field=active]`, "yes")
		p.WaitText(`#lookup-actor [data-field=node]`, "test")
	}
	p.WaitText(`#lookup-actor [data-field=sessions]`, "1") // Carol's socket

	// The VIP level and a support token, for the last one looked up.
	p.Run(chromedp.SetValue("#vip-level", "2", chromedp.ByQuery), chromedp.Click("#vip-form button", chromedp.ByQuery))
	p.WaitText("#lookup-status", "is now 2")
	p.Run(chromedp.Click("#mint", chromedp.ByQuery))
	p.WaitJS(`document.getElementById("minted-token").value.length > 10`, "a minted token")
	var minted string
	p.Eval(`document.getElementById("minted-token").value`, &minted)
	if r := dashCall(t, "GET", a.ClientURL+"/api/v1/me", minted, nil, 200); wiretest.Decode[wire.Me](t, r.Raw).User.VIPLevel != 2 {
		t.Errorf("GET /me with the minted token: %s; want Carol at VIP 2", r.Raw)
	}

	// Settings: rewind_per_day changed in the form is in force.
	p.WaitJS(`document.getElementById("rewind_per_day").value === "3"`, "the settings loaded")
	p.Run(chromedp.SetValue("#rewind_per_day", "7", chromedp.ByQuery), chromedp.Click("#settings-form button", chromedp.ByQuery))
	p.WaitText("#settings-saved", "rewind_per_day 7")
	cfg := wiretest.Decode[wire.Config](t, dashCall(t, "GET", a.AdminURL+"/admin/v1/config", apptest.AdminToken, nil, 200).Raw)
	if cfg.RewindPerDay != 7 || cfg.RewindWindowSeconds != 300 {
		t.Errorf("GET /admin/v1/config = %+v; want rewind_per_day 7, the window unchanged", cfg)
	}

	// A failed upload, retried once the bucket is back.
	bucket.SetFault(func(int) string { return costest.Fail })
	job := dashAvatar(t, a, alice)
	dashWaitJob(t, a, alice, job, "failed")
	p.Run(chromedp.Click(`[data-refresh=uploads]`, chromedp.ByQuery))
	row := fmt.Sprintf(`#uploads-rows tr[data-job="%d"]`, job)
	p.WaitJS(fmt.Sprintf(`!!document.querySelector(%q)`, row), "the failed job listed")
	bucket.SetFault(nil)
	p.Run(chromedp.Click(row+" button", chromedp.ByQuery))
	dashWaitJob(t, a, alice, job, "done")
	p.WaitJS(fmt.Sprintf(`!document.querySelector(%q)`, row), "the retried job gone from the list")
	p.WaitText("#uploads-status", fmt.Sprintf("Job %d", job))

	// Bob, nicknamed in markup, is reported by Alice and banned.
	dashCall(t, "PATCH", a.ClientURL+"/api/v1/me", bob.token, map[string]any{"nickname": xss}, 200)
	rep := wiretest.Decode[wire.ReportReply](t, dashCall(t, "POST", a.ClientURL+"/api/v1/reports", alice.token,
		map[string]any{"user_id": bob.id, "reason": "fake", "note": "says: " + xss}, 201).Raw).Report
	p.Run(chromedp.Click(`[data-refresh=reports]`, chromedp.ByQuery))
	item := fmt.Sprintf(`#reports-list li[data-report="%d"]`, rep.ID)
	p.WaitText(item+" .nickname", xss)
	p.WaitText(item+" .note", "says: "+xss)
	var injected int
	p.Eval(`document.querySelectorAll("#reports img, #lookup img").length`, &injected)
	if injected != 0 {
		t.Fatalf("the nickname was parsed as HTML (%d)", injected)
	}
	// Dismissing the dialog keeps the report; accepting bans.
	p.Eval(`window.confirm = (m) => { window.__asked = m; return false }; true`, nil)
	p.Run(chromedp.Click(item+" button.danger", chromedp.ByQuery))
	p.WaitJS(`typeof window.__asked === "string" && window.__asked.includes("Ban")`, "the ban to be confirmed first")
	if r := dashCall(t, "GET", a.ClientURL+"/api/v1/me", bob.token, nil, 0); r.Status != 200 {
		t.Fatalf("after a ban not confirmed: Bob's GET /me %d; want 200", r.Status)
	}
	p.Eval(`window.confirm = () => true; true`, nil)
	p.Run(chromedp.Click(item+" button.danger", chromedp.ByQuery))
	p.WaitJS(fmt.Sprintf(`!document.querySelector(%q)`, item), "the banned user's report gone")
	p.WaitText("#reports-status", "banned")
	resolved := wiretest.Decode[wire.ReportsReply](t, dashCall(t, "GET", a.AdminURL+"/admin/v1/reports?status=resolved", apptest.AdminToken, nil, 200).Raw).Reports
	if len(resolved) != 1 || resolved[0].ID != rep.ID || resolved[0].Action == nil || *resolved[0].Action != swiper.ReportBan {
		t.Errorf("resolved reports %s; want report %d with action ban", dashJSON(resolved), rep.ID)
	}
	if r := dashCall(t, "GET", a.ClientURL+"/api/v1/me", bob.token, nil, 0); r.Status != http.StatusUnauthorized {
		t.Errorf("Bob's token after the ban: %d %s; want 401", r.Status, r.Raw)
	}

	// Charts: swipes and a match while the page watches.
	dashSwipe(t, a, alice, carol.id, "like")
	dashSwipe(t, a, carol, alice.id, "like")
	p.WaitJSWithin(20*time.Second, `Number(document.getElementById("chart-swipes").dataset.max) > 0 && Number(document.getElementById("chart-matches").dataset.max) > 0`,
		"the swipes and matches charts to show the swipes")
	p.WaitJS(`/^M[\d.]+,[\d.]+(L[\d.]+,[\d.]+)+$/.test(document.querySelector("#chart-swipes path.line").getAttribute("d"))`, "a line drawn")
	p.WaitJS(`Number(document.getElementById("chart-sockets").dataset.max) >= 2`, "the open sockets charted")
	p.WaitJS(`document.querySelector("#chart-latency path.line").getAttribute("d").length > 0`, "push latency charted (the match was pushed)")

	// A phone's width scrolls down, never sideways.
	var overflow int
	p.Eval(`document.documentElement.scrollWidth - window.innerWidth`, &overflow)
	if overflow > 0 {
		t.Errorf("at 412 px the page is %d px too wide", overflow)
	}
	// The screenshot for the README, at a desk.
	p.Run(emulation.SetDeviceMetricsOverride(1280, 1500, 1, false), chromedp.Evaluate(`window.scrollTo(0, 0)`, nil))
	p.WaitJS(`window.innerWidth === 1280`, "the desktop width")
	t.Logf("screenshot: %s", p.Screenshot("dashboard"))
}

// dashPerson is a user the test logged in.
type dashPerson struct {
	id    int64
	name  string
	token string
}

// dashUser logs a new user in by phone code (dev mode gives the code) and
// names it.
func dashUser(tb testing.TB, a *apptest.App, phone, name string) dashPerson {
	tb.Helper()
	code := wiretest.Decode[wire.CodeReply](tb, dashCall(tb, "POST", a.ClientURL+"/api/v1/auth/code", "", map[string]any{"phone": phone}, 200).Raw)
	if code.DevCode == "" {
		tb.Fatal("POST /auth/code gave no dev_code; want one in dev mode")
	}
	login := wiretest.Decode[wire.LoginReply](tb, dashCall(tb, "POST", a.ClientURL+"/api/v1/auth/login", "",
		map[string]any{"phone": phone, "code": code.DevCode}, 200).Raw)
	dashCall(tb, "PATCH", a.ClientURL+"/api/v1/me", login.Token, map[string]any{"nickname": name, "birthday": "1995-05-05"}, 200)
	return dashPerson{id: login.User.ID, name: name, token: login.Token}
}

func dashSwipe(tb testing.TB, a *apptest.App, from dashPerson, sid int64, mark string) {
	tb.Helper()
	dashCall(tb, "POST", a.ClientURL+"/api/v1/swipes", from.token, map[string]any{"sid": sid, "mark": mark}, 200)
}

// dashSocket keeps a WebSocket of u's open until the test ends.
func dashSocket(tb testing.TB, a *apptest.App, u dashPerson) {
	tb.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(a.WSURL+"?token="+u.token, nil)
	if err != nil {
		tb.Fatalf("dial the socket of %s: %v", u.name, err)
	}
	resp.Body.Close()
	tb.Cleanup(func() { c.Close() })
	// Read (and drop) what is pushed, so that the socket stays healthy;
	// the read ends when the cleanup closes it.
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
}

// dashAvatar uploads docs/demo-avatar.jpg as u's avatar and returns the job.
func dashAvatar(tb testing.TB, a *apptest.App, u dashPerson) int64 {
	tb.Helper()
	data, err := os.ReadFile("../../docs/demo-avatar.jpg")
	if err != nil {
		tb.Fatal(err)
	}
	body, ctype := testkit.Form("avatar", "avatar.jpg", data)
	r, err := testkit.Send(nil, "POST", a.ClientURL+"/api/v1/me/avatar", u.token, ctype, body)
	if err != nil || r.Status != http.StatusAccepted {
		tb.Fatalf("POST /me/avatar: %d %s, %v; want 202", r.Status, r.Raw, err)
	}
	return wiretest.Decode[wire.JobReply](tb, r.Raw).Job.ID
}

// dashWaitJob polls u's job until it has status.
func dashWaitJob(tb testing.TB, a *apptest.App, u dashPerson, id int64, status string) {
	tb.Helper()
	var last wire.Job
	testkit.Eventually(tb, 20*time.Second, fmt.Sprintf("job %d %s (last %+v)", id, status, &last), func() bool {
		r, err := testkit.Do(nil, "GET", fmt.Sprintf("%s/api/v1/me/avatar/jobs/%d", a.ClientURL, id), u.token, nil)
		if err == nil && r.Status == 200 {
			last = wiretest.Decode[wire.JobReply](tb, r.Raw).Job
		}
		return last.Status == status
	})
	if status == "failed" {
		jobs := wiretest.Decode[admin.JobsReply](tb, dashCall(tb, "GET", a.AdminURL+"/admin/v1/uploads?status=failed", apptest.AdminToken, nil, 200).Raw).Jobs
		if len(jobs) != 1 || jobs[0].ID != id {
			tb.Fatalf("failed jobs %s; want job %d", dashJSON(jobs), id)
		}
	}
}

// dashCall sends a JSON call and fails tb unless the status is want (0:
// any); it returns the response.
func dashCall(tb testing.TB, method, url, token string, body any, want int) testkit.Response {
	tb.Helper()
	r, err := testkit.Do(nil, method, url, token, body)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	if want != 0 && r.Status != want {
		tb.Fatalf("%s %s: %d %s; want %d", method, url, r.Status, r.Raw, want)
	}
	return r
}

func dashJSON(v any) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%+v", v)
	return b.String()
}
