package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/swiperhq/swiper/internal/app/apptest"
	"github.com/swiperhq/swiper/internal/testkit"
	"github.com/swiperhq/swiper/transport/web/webtest"
)

// person is one user of the app in a browser context of their own.
type person struct {
	t    *testing.T
	p    *webtest.Page
	base string // where their browser reaches the node
	id   int64
}

func demoAvatar(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "docs", "demo-avatar.jpg")
}

// js quotes s for a JavaScript expression.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// signUp logs a new phone in through the login screen, with the keyboard
// only, and fills its profile.
func signUp(t *testing.T, b *webtest.Browser, base, phone, name, sex, wants, birthday string) *person {
	t.Helper()
	u := &person{t: t, p: b.NewPage(name), base: base}
	p := u.p
	p.Run(chromedp.Navigate(base + "/"))
	p.WaitJS(`!!document.querySelector("input[name=phone]")`, "the login form")
	p.Accessible("the login screen")
	p.Run(chromedp.SendKeys(`input[name=phone]`, phone+"\r", chromedp.ByQuery))
	p.WaitText("#dev-note", "Dev mode")
	var code string
	p.Eval(`document.querySelector("input[name=code]").value`, &code)
	if len(code) != 6 {
		t.Fatalf("%s: the code field holds %q; want the 6-digit dev_code filled in", name, code)
	}
	p.Run(chromedp.SendKeys(`input[name=code]`, "\r", chromedp.ByQuery))
	p.WaitJS(`document.body.dataset.view === "profile"`, "a new user to land on the profile")
	p.WaitJS(`document.body.dataset.live === "open"`, "the socket to open")

	set := func(field, v string) {
		p.Run(chromedp.Evaluate(fmt.Sprintf(`(() => { const e = document.querySelector("[name=%s]"); e.value = %s; e.dispatchEvent(new Event("change", {bubbles: true})) })()`, field, js(v)), nil))
	}
	set("nickname", "") // a new user is given a placeholder name
	p.Run(chromedp.SendKeys(`input[name=nickname]`, name, chromedp.ByQuery))
	set("sex", sex)
	set("birthday", birthday)
	p.Run(chromedp.SendKeys(`input[name=location]`, "Beijing", chromedp.ByQuery))
	set("dating_sex", wants)
	p.Run(chromedp.Click(`form.stack-form button[type=submit]`, chromedp.ByQuery))
	p.WaitText("#notes", "Profile saved.")
	var tok string
	p.Eval(`localStorage.getItem("swiper.token")`, &tok)
	var me struct {
		User struct {
			ID       int64  `json:"id"`
			Nickname string `json:"nickname"`
			Sex      string `json:"sex"`
			Location string `json:"location"`
		} `json:"user"`
		Profile struct {
			DatingSex string `json:"dating_sex"`
		} `json:"profile"`
	}
	apiGet(t, base, tok, "/api/v1/me", &me)
	if me.User.Nickname != name || me.User.Sex != sex || me.User.Location != "Beijing" || me.Profile.DatingSex != wants {
		t.Fatalf("%s: the profile stored is %+v; want what the form said", name, me)
	}
	u.id = me.User.ID
	return u
}

func (u *person) token() string {
	var tok string
	u.p.Eval(`localStorage.getItem("swiper.token")`, &tok)
	return tok
}

func apiGet(t *testing.T, base, token, path string, out any) {
	t.Helper()
	if s := call(t, "GET", base+path, token, nil, out); s != 200 {
		t.Fatalf("GET %s: %d", path, s)
	}
}

// uploadAvatar picks the demo photo in the profile and waits for the
// picture to be swapped in (the avatar.ready event).
func (u *person) uploadAvatar() {
	p := u.p
	p.Run(chromedp.SetUploadFiles(`#avatar-file`, []string{demoAvatar(u.t)}, chromedp.ByQuery))
	p.WaitJS(`(() => { const i = document.querySelector("#avatar-box img"); return !!i && i.src.includes("/media/") && i.complete && i.naturalWidth > 0 })()`,
		"the uploaded photo to show")
	p.WaitText("#avatar-status", "Your new photo is live.")
}

// dragCard drags the top card dx pixels across with the mouse (pointer
// events, as a finger would).
func (u *person) dragCard(dx float64) {
	var r struct{ X, Y float64 }
	u.p.Eval(`(() => { const b = document.querySelector(".card.top").getBoundingClientRect(); return {X: b.x + b.width/2, Y: b.y + b.height/2} })()`, &r)
	u.p.Run(chromedp.ActionFunc(func(ctx context.Context) error {
		if err := input.DispatchMouseEvent(input.MousePressed, r.X, r.Y).WithButton(input.Left).WithButtons(1).WithClickCount(1).Do(ctx); err != nil {
			return err
		}
		for i := 1; i <= 8; i++ {
			if err := input.DispatchMouseEvent(input.MouseMoved, r.X+dx*float64(i)/8, r.Y).WithButton(input.Left).WithButtons(1).Do(ctx); err != nil {
				return err
			}
		}
		return input.DispatchMouseEvent(input.MouseReleased, r.X+dx, r.Y).WithButton(input.Left).WithButtons(0).WithClickCount(1).Do(ctx)
	}))
}

// shot saves a screenshot for the README, without the passing notices.
func shot(p *webtest.Page, name string) {
	p.Run(chromedp.Evaluate(`document.querySelectorAll(".toast").forEach(e => e.remove())`, nil))
	p.Screenshot(name)
}

// TestAppTwoPeople is the app as two people use it: sign up, fill the
// profile, upload a photo, swipe until they like each other (one by the
// keyboard, one by dragging), both see the match within a second, talk
// both ways live with read markers, lose the connection and get every
// message on return, and one blocks the other, which closes the chat.
func TestAppTwoPeople(t *testing.T) {
	a := apptest.MustOpen(t)
	// Ann's browser reaches the node through a proxy the test can cut.
	proxy := testkit.NewProxy(t, strings.TrimPrefix(a.ClientURL, "http://"))
	annURL := "http://" + proxy.Addr()
	b := webtest.Start(t)

	ann := signUp(t, b, annURL, "+8613800000001", "Ann", "female", "male", "1996-05-01")
	ann.p.Accessible("the profile screen")
	ann.uploadAvatar()
	bob := signUp(t, b, a.ClientURL, "+8613800000002", "Bob", "male", "female", "1994-09-12")
	bob.uploadAvatar()

	// Ann likes Bob with the right arrow key.
	ann.p.Run(chromedp.Click(`nav a[data-nav=deck]`, chromedp.ByQuery))
	ann.p.WaitJS(fmt.Sprintf(`(() => { const c = document.querySelector(".card.top"); return !!c && c.dataset.id === "%d" && !!c.querySelector("img") })()`, bob.id), "Bob's card with his photo on top")
	ann.p.WaitText(".card.top h2", "Bob")
	ann.p.Accessible("the deck")
	shot(ann.p, "deck")
	ann.p.Run(chromedp.KeyEvent(kb.ArrowRight))
	ann.p.WaitJS(`!document.querySelector(".card.top")`, "Bob's card to go")
	if ann.p.Count("dialog.match[open]") != 0 {
		t.Fatal("a match popped up after one like")
	}

	// Bob drags Ann's card to the right: a match, seen by both at once.
	bob.p.Run(chromedp.Click(`nav a[data-nav=deck]`, chromedp.ByQuery))
	bob.p.WaitJS(fmt.Sprintf(`(() => { const c = document.querySelector(".card.top"); return !!c && c.dataset.id === "%d" })()`, ann.id), "Ann's card on top")
	start := time.Now()
	bob.dragCard(180)
	open := `!!document.querySelector("dialog.match[open]")`
	bob.p.WaitJSWithin(time.Second, open, "the match to pop up for the one who liked last")
	ann.p.WaitJSWithin(time.Second-time.Since(start), open, "the match to pop up for the other side")
	t.Logf("match on both screens %v after the drag ended", time.Since(start).Round(time.Millisecond))
	ann.p.WaitText("dialog.match[open]", "You and Bob like each other.")
	bob.p.Accessible("the match dialog")
	shot(bob.p, "match")

	// Both start talking.
	for _, u := range []*person{ann, bob} {
		u.p.Run(chromedp.Click(`dialog.match[open] button.primary`, chromedp.ByQuery))
		u.p.WaitJS(`document.body.dataset.view === "chat" && !document.querySelector("#compose").disabled`, "the chat to open")
	}
	say := func(u *person, text string) {
		t.Helper()
		u.p.Run(chromedp.SendKeys(`#compose`, text+"\r", chromedp.ByQuery))
	}
	shows := func(u *person, text, who string) string {
		return fmt.Sprintf(`[...document.querySelectorAll("#messages li.msg.%s[data-id] .text")].some(e => e.textContent === %s)`, who, js(text))
	}
	say(bob, "Hi Ann!")
	ann.p.WaitJS(shows(ann, "Hi Ann!", "theirs"), "Bob's message live")
	bob.p.WaitJS(shows(bob, "Hi Ann!", "mine"), "Bob's own message confirmed")
	// Ann has it on screen: Bob sees it read.
	bob.p.WaitText("#messages li.msg.mine .seen", "Seen")
	say(ann, "Hello Bob <b>not bold</b>")
	bob.p.WaitJS(shows(bob, "Hello Bob <b>not bold</b>", "theirs"), "Ann's message live, as text")
	if n := bob.p.Count("#messages b"); n != 0 {
		t.Fatalf("a message's text became markup (%d <b> elements)", n)
	}
	bob.p.Accessible("the chat")

	// Ann's connection drops. Bob writes meanwhile; Ann gets it all back.
	// Reconnects tried while it is down fail, and Chromium logs each
	// (how many depends on the machine's speed: once a flaky failure).
	ann.p.Expect(`WebSocket connection to .* failed`)
	proxy.Down()
	ann.p.WaitJS(`document.body.dataset.live === "reconnecting"`, "Ann's app to notice the dropped socket")
	ann.p.WaitText("#conn", "Reconnecting")
	for _, text := range []string{"Are you there?", "I'll wait."} {
		say(bob, text)
		bob.p.WaitJS(shows(bob, text, "mine"), "Bob's message stored")
	}
	proxy.Up()
	ann.p.WaitJS(`document.body.dataset.live === "open"`, "Ann's app to reconnect")
	ann.p.WaitJS(shows(ann, "I'll wait.", "theirs"), "the messages sent while away")
	var texts []string
	ann.p.Eval(`[...document.querySelectorAll("#messages li.msg[data-id] .text")].map(e => e.textContent)`, &texts)
	want := []string{"Hi Ann!", "Hello Bob <b>not bold</b>", "Are you there?", "I'll wait."}
	if strings.Join(texts, "|") != strings.Join(want, "|") {
		t.Fatalf("Ann's chat after the reconnect shows %q; want %q in order, once each", texts, want)
	}
	shot(ann.p, "chat")

	// Away from the chat, a new message shows as unread; opening the chat
	// reads it.
	ann.p.Run(chromedp.Click(`nav a[data-nav=matches]`, chromedp.ByQuery))
	ann.p.WaitText(fmt.Sprintf(`a.friend[data-id="%d"] .preview`, bob.id), "I'll wait.")
	say(bob, "Still here?")
	ann.p.WaitText(fmt.Sprintf(`a.friend[data-id="%d"] .count`, bob.id), "1")
	ann.p.WaitJS(`!document.querySelector("#unread-total").hidden && document.querySelector("#unread-total").textContent === "1"`, "the unread badge in the navigation")
	ann.p.Accessible("the matches list")
	ann.p.Run(chromedp.Click(fmt.Sprintf(`a.friend[data-id="%d"]`, bob.id), chromedp.ByQuery))
	ann.p.WaitJS(shows(ann, "Still here?", "theirs"), "the new message in the chat")
	ann.p.WaitJS(`document.querySelector("#unread-total").hidden`, "the unread badge to clear")
	var after struct {
		Friends []struct {
			Unread int `json:"unread"`
		} `json:"friends"`
	}
	testkit.Eventually(t, 5*time.Second, "Bob's messages to be marked read on the server", func() bool {
		apiGet(t, a.ClientURL, ann.token(), "/api/v1/friends", &after)
		return len(after.Friends) == 1 && after.Friends[0].Unread == 0
	})

	// Ann blocks Bob from the chat: her chat goes, and Bob's closes.
	ann.p.Run(chromedp.Click(`//button[text()="Block"]`, chromedp.BySearch))
	ann.p.WaitJS(`!!document.querySelector("dialog[open] button[value=ok]")`, "the block confirmation")
	ann.p.Run(chromedp.Click(`dialog[open] button[value=ok]`, chromedp.ByQuery))
	ann.p.WaitJS(`document.body.dataset.view === "matches"`, "Ann back on her matches")
	ann.p.WaitText("main", "No matches yet")
	bob.p.WaitJS(`document.body.dataset.chat === "closed" && document.querySelector("#compose").disabled`, "Bob's chat to close")
	bob.p.WaitText("#chat-closed", "ended")
	var friends struct {
		Friends []json.RawMessage `json:"friends"`
	}
	apiGet(t, a.ClientURL, bob.token(), "/api/v1/friends", &friends)
	if len(friends.Friends) != 0 {
		t.Fatalf("Bob still has friends after the block: %s", friends.Friends)
	}
}
