package web_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/swiperhq/swiper/internal/app/apptest"
	"github.com/swiperhq/swiper/internal/testkit"
	"github.com/swiperhq/swiper/transport/web/webtest"
)

// call makes one API request as token (testkit.Do) and decodes a 2xx
// reply into out; it returns the status.
func call(t *testing.T, method, url, token string, body, out any) int {
	t.Helper()
	r, err := testkit.Do(nil, method, url, token, body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && r.Status/100 == 2 {
		if err := json.Unmarshal(r.Raw, out); err != nil {
			t.Fatal(err)
		}
	}
	return r.Status
}

// register makes a user over the API (dev_code login) with this profile
// and returns its id and token.
func register(t *testing.T, a *apptest.App, phone string, profile map[string]any) (int64, string) {
	t.Helper()
	var code struct {
		DevCode string `json:"dev_code"`
	}
	if s := call(t, "POST", a.ClientURL+"/api/v1/auth/code", "", map[string]string{"phone": phone}, &code); s != 200 {
		t.Fatalf("code for %s: %d", phone, s)
	}
	var login struct {
		Token string `json:"token"`
		User  struct {
			ID int64 `json:"id"`
		} `json:"user"`
	}
	if s := call(t, "POST", a.ClientURL+"/api/v1/auth/login", "", map[string]string{"phone": phone, "code": code.DevCode}, &login); s != 200 {
		t.Fatalf("login %s: %d", phone, s)
	}
	if s := call(t, "PATCH", a.ClientURL+"/api/v1/me", login.Token, profile, nil); s != 200 {
		t.Fatalf("profile of %s: %d", phone, s)
	}
	return login.User.ID, login.Token
}

func setVIP(t *testing.T, a *apptest.App, id int64, level int) {
	t.Helper()
	if s := call(t, "PUT", fmt.Sprintf("%s/admin/v1/users/%d/vip", a.AdminURL, id), apptest.AdminToken, map[string]int{"level": level}, nil); s != 200 {
		t.Fatalf("vip of %d: %d", id, s)
	}
}

// TestAppDeck: the deck puts who superliked you first with a badge,
// rewinds (VIP 2) put the card back, a refused rewind is told in words,
// and the next cards are fetched before the deck runs out, so a person
// swipes through everyone once, never a card twice.
func TestAppDeck(t *testing.T) {
	a := apptest.MustOpen(t, func(s *apptest.Setup) {
		s.Config.Abuse.CodesPerAddress, s.Config.Abuse.LoginsPerAddress = 1000, 1000
	})
	const others = 24 // more than one page of 20
	b := webtest.Start(t)
	carl := signUp(t, b, a.ClientURL, "+8613900000000", "Carl", "male", "female", "1992-03-03")
	ids := map[int64]bool{}
	var fan int64
	var fanToken string
	for i := 1; i <= others; i++ {
		id, tok := register(t, a, fmt.Sprintf("+86139000000%02d", i), map[string]any{
			"nickname": fmt.Sprintf("P%02d", i), "sex": "female", "birthday": "1995-01-01", "location": "Beijing", "dating_sex": "male",
		})
		ids[id] = true
		fan, fanToken = id, tok
	}
	setVIP(t, a, fan, 1)
	if s := call(t, "POST", a.ClientURL+"/api/v1/swipes", fanToken, map[string]any{"sid": carl.id, "mark": "superlike"}, nil); s != 200 {
		t.Fatalf("superlike: %d", s)
	}
	setVIP(t, a, carl.id, 2)
	if s := call(t, "PUT", a.AdminURL+"/admin/v1/config", apptest.AdminToken, map[string]int{"rewind_per_day": 1}, nil); s != 200 {
		t.Fatalf("config: %d", s)
	}

	p := carl.p
	p.Run(chromedp.Reload()) // the app learns the new VIP level
	p.WaitJS(`document.body.dataset.live === "open"`, "the app to sign in again")
	p.Run(chromedp.Click(`nav a[data-nav=deck]`, chromedp.ByQuery))
	top := `(document.querySelector(".card.top") || {dataset: {}}).dataset.id`
	p.WaitJS(fmt.Sprintf(`%s === "%d"`, top, fan), "the superliker first")
	p.WaitText(".card.top .badge", "Superliked you")

	// Nope, then rewind: the same card is back.
	p.Run(chromedp.KeyEvent(kb.ArrowLeft))
	p.WaitJS(fmt.Sprintf(`%s !== "%d"`, top, fan), "the card to go")
	p.Run(chromedp.Click(`#rewind`, chromedp.ByQuery))
	p.WaitJS(fmt.Sprintf(`%s === "%d"`, top, fan), "the rewound card back on top")
	p.WaitText("#notes", "0 rewinds left today")
	// The quota is used up: a second rewind is refused, in words.
	p.Run(chromedp.KeyEvent(kb.ArrowLeft))
	p.WaitJS(fmt.Sprintf(`%s !== "%d"`, top, fan), "the card to go again")
	p.Run(chromedp.Click(`#rewind`, chromedp.ByQuery))
	p.WaitJS(`!!document.querySelector("#alerts .toast")`, "the refusal")
	if msg := p.Text("#alerts .toast"); !strings.Contains(msg, "rewind") || strings.ContainsAny(msg, "{}") {
		t.Fatalf("a refused rewind says %q; want the API's message in words", msg)
	}

	// Swipe through the rest by the keyboard: each person once.
	seen := map[string]bool{fmt.Sprint(fan): true}
	for len(seen) < others {
		var id string
		p.WaitJS(`!!document.querySelector(".card.top")`, fmt.Sprintf("a card (after %d people)", len(seen)))
		p.Eval(top, &id)
		if seen[id] {
			t.Fatalf("card %s shown twice", id)
		}
		seen[id] = true
		p.Run(chromedp.KeyEvent(kb.ArrowLeft))
		p.WaitJS(fmt.Sprintf(`%s !== %q`, top, id), "the next card")
	}
	p.WaitText(".stack .empty", "No one new around")
	for id := range ids {
		if !seen[fmt.Sprint(id)] {
			t.Errorf("user %d was never shown", id)
		}
	}
	// The last swipe's reply may still be on its way; then nobody is left.
	tok := carl.token()
	testkit.Eventually(t, 5*time.Second, "every swipe to be stored", func() bool {
		var recs struct {
			Users []json.RawMessage `json:"users"`
		}
		call(t, "GET", a.ClientURL+"/api/v1/recommendations", tok, nil, &recs)
		return len(recs.Users) == 0
	})
}

// TestAppAccount: a wrong code is told in words and uses nothing up;
// deleting the account asks first, then signs out and erases it.
func TestAppAccount(t *testing.T) {
	a := apptest.MustOpen(t)
	b := webtest.Start(t)
	p := b.NewPage("Dee")
	p.Run(chromedp.Navigate(a.ClientURL + "/"))
	p.WaitJS(`!!document.querySelector("input[name=phone]")`, "the login form")
	p.Run(chromedp.SendKeys(`input[name=phone]`, "12345\r", chromedp.ByQuery))
	p.WaitText(".form-error", "country code")
	p.Run(chromedp.Evaluate(`document.querySelector("input[name=phone]").value = ""`, nil))
	p.Run(chromedp.SendKeys(`input[name=phone]`, "+8613700000009\r", chromedp.ByQuery))
	p.WaitText("#dev-note", "Dev mode")
	var code string
	p.Eval(`document.querySelector("input[name=code]").value`, &code)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	p.Expect(`status of 400`) // the wrong code's reply, which Chromium logs
	p.Run(chromedp.Evaluate(`document.querySelector("input[name=code]").value = "`+wrong+`"`, nil),
		chromedp.SendKeys(`input[name=code]`, "\r", chromedp.ByQuery))
	p.WaitJS(`document.querySelector(".form-error").textContent !== ""`, "the refusal")
	if msg := p.Text(".form-error"); strings.ContainsAny(msg, "{}") || !strings.Contains(strings.ToLower(msg), "code") {
		t.Fatalf("a wrong code says %q; want the API's message in words", msg)
	}
	p.Run(chromedp.Evaluate(`document.querySelector("input[name=code]").value = "`+code+`"`, nil),
		chromedp.SendKeys(`input[name=code]`, "\r", chromedp.ByQuery))
	p.WaitJS(`document.body.dataset.view === "profile"`, "the right code to log in")
	var tok string
	p.Eval(`localStorage.getItem("swiper.token")`, &tok)

	// (chromedp clicks where the element is: were it under the phone
	// layout's bottom navigation, as once, the click would miss.)
	deleteButton := `//button[text()="Delete account"]`
	p.Run(chromedp.Click(deleteButton, chromedp.BySearch))
	p.WaitJS(`!!document.querySelector("dialog[open] button[value=cancel]")`, "the confirmation")
	p.Run(chromedp.Click(`dialog[open] button[value=cancel]`, chromedp.ByQuery))
	p.WaitJS(`!document.querySelector("dialog[open]")`, "the dialog to close")
	if s := call(t, "GET", a.ClientURL+"/api/v1/me", tok, nil, nil); s != 200 {
		t.Fatalf("after cancelling, GET /me: %d; want the account kept", s)
	}
	// Again, by the keyboard this time.
	p.Run(chromedp.Focus(deleteButton, chromedp.BySearch), chromedp.KeyEvent("\r"))
	p.WaitJS(`!!document.querySelector("dialog[open] button[value=ok]")`, "the confirmation")
	p.Run(chromedp.Focus(`dialog[open] button[value=ok]`, chromedp.ByQuery), chromedp.KeyEvent("\r"))
	p.WaitJS(`!!document.querySelector("input[name=phone]")`, "the login screen")
	p.WaitText("#notes", "Your account was deleted.")
	if s := call(t, "GET", a.ClientURL+"/api/v1/me", tok, nil, nil); s != 401 {
		t.Fatalf("after deleting, GET /me with the old token: %d; want 401", s)
	}
}
