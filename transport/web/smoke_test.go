package web_test

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/swiperhq/swiper/internal/app/apptest"
	"github.com/swiperhq/swiper/transport/web/webtest"
)

// TestBrowserStarts: the browser kit drives Chromium against a real node
// and would see a console error (so the other tests' silence means
// something).
func TestBrowserStarts(t *testing.T) {
	a := apptest.MustOpen(t)
	b := webtest.Start(t)
	p := b.NewPage("visitor")
	p.Run(chromedp.Navigate(a.ClientURL + "/"))
	p.WaitJS(`document.readyState === "complete"`, "the page to load")
	p.Run(chromedp.Evaluate(`console.error("planted")`, nil))
	p.WaitJS(`true`, "a round trip")
	found := false
	for _, m := range p.Problems() {
		if m == `console.error: "planted"` {
			found = true
		}
	}
	if !found {
		t.Fatalf("console errors seen: %q; want the planted one", p.Problems())
	}
	p.Expect(`planted`)
}
