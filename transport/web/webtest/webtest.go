// Package webtest drives a real headless Chromium (Debian's chromium, over
// the DevTools protocol with chromedp) for the web app's and dashboard's
// tests: one browser per test, a fresh browser context per simulated
// person (its own cookies and storage), every console error and uncaught
// exception collected and failing the test unless declared expected, and
// screenshots on demand.
package webtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// Timeout bounds each step a test runs in the page.
const Timeout = 15 * time.Second

// Chromium finds the browser: $SWIPER_CHROMIUM, else chromium on the
// PATH (make test installs Debian's when it is missing).
func Chromium() (string, error) {
	if p := os.Getenv("SWIPER_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no Chromium found: install Debian's chromium (make test does) or set SWIPER_CHROMIUM")
}

// Browser is one headless Chromium process.
type Browser struct {
	t     testing.TB
	alloc context.Context
	root  context.Context // the browser's first tab, which keeps it running
}

// Start launches Chromium for t and stops it when t ends. Without a
// Chromium the test fails, unless SWIPER_SKIP_BROWSER=1 says to skip it.
func Start(t testing.TB) *Browser {
	t.Helper()
	exe, err := Chromium()
	if err != nil {
		if os.Getenv("SWIPER_SKIP_BROWSER") == "1" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	// Not t.TempDir: Chromium may still be writing there as the test's
	// cleanups run, which TempDir reports as a failure.
	profile, err := os.MkdirTemp("", "swiper-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox, // root in CI's container has no user namespace
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(412, 915), // a phone
		// The machine's network is closed: without these Chromium keeps
		// dialling Google's hosts.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("mute-audio", true),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	root, cancelRoot := chromedp.NewContext(alloc, chromedp.WithErrorf(quiet(t)))
	if err := chromedp.Run(root); err != nil {
		cancelRoot()
		cancelAlloc()
		t.Fatalf("starting %s: %v", exe, err)
	}
	t.Cleanup(func() {
		_ = chromedp.Cancel(root) // closes the browser and waits for it
		cancelRoot()
		cancelAlloc()
		_ = os.RemoveAll(profile)
	})
	return &Browser{t: t, alloc: alloc, root: root}
}

// Page is one tab in its own browser context: a person with a phone.
type Page struct {
	t    testing.TB
	Name string
	Ctx  context.Context

	mu       sync.Mutex
	problems []string
	expected []*regexp.Regexp
}

// NewPage opens a tab in a fresh browser context (no cookies, no storage
// shared with the other pages) and checks, when the test ends, that its
// console saw no error the test did not declare expected.
func (b *Browser) NewPage(name string) *Page {
	b.t.Helper()
	// chromedp's WithNewBrowserContext opens its tab with newWindow
	// false, which headless Chromium refuses in a context with no window
	// ("no browser is open"): make the context and a window by hand.
	var bctx cdp.BrowserContextID
	var tid target.ID
	err := chromedp.Run(b.root, chromedp.ActionFunc(func(ctx context.Context) error {
		browser := cdp.WithExecutor(ctx, chromedp.FromContext(ctx).Browser)
		var err error
		if bctx, err = target.CreateBrowserContext().WithDisposeOnDetach(true).Do(browser); err != nil {
			return err
		}
		tid, err = target.CreateTarget("about:blank").WithBrowserContextID(bctx).WithNewWindow(true).Do(browser)
		return err
	}))
	if err != nil {
		b.t.Fatalf("%s: opening a browser context: %v", name, err)
	}
	ctx, cancel := chromedp.NewContext(b.root, chromedp.WithTargetID(tid))
	p := &Page{t: b.t, Name: name, Ctx: ctx}
	chromedp.ListenTarget(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError || ev.Type == runtime.APITypeAssert {
				var parts []string
				for _, a := range ev.Args {
					if a.Value != nil {
						parts = append(parts, string(a.Value))
					} else {
						parts = append(parts, a.Description)
					}
				}
				p.problem("console." + string(ev.Type) + ": " + strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg += " " + d.Exception.Description
			}
			p.problem(fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber, msg))
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.LevelError {
				p.problem(fmt.Sprintf("log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		}
	})
	if err := chromedp.Run(ctx, log.Enable(), runtime.Enable()); err != nil {
		b.t.Fatalf("%s: opening a tab: %v", name, err)
	}
	b.t.Cleanup(func() {
		p.mu.Lock()
		problems := p.problems
		p.mu.Unlock()
		for _, m := range problems {
			b.t.Errorf("%s: browser console: %s", name, m)
		}
		cancel()
		_ = chromedp.Run(b.root, chromedp.ActionFunc(func(ctx context.Context) error {
			return target.DisposeBrowserContext(bctx).Do(cdp.WithExecutor(ctx, chromedp.FromContext(ctx).Browser))
		}))
	})
	return p
}

func (p *Page) problem(m string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, re := range p.expected {
		if re.MatchString(m) {
			return
		}
	}
	p.problems = append(p.problems, m)
}

// Expect declares console messages matching re expected (a status the
// test provokes on purpose, which Chromium logs as an error): those seen
// already and those to come.
func (p *Page) Expect(re string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	x := regexp.MustCompile(re)
	p.expected = append(p.expected, x)
	p.problems = slices.DeleteFunc(p.problems, x.MatchString)
}

// Problems returns the console errors seen so far.
func (p *Page) Problems() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.problems...)
}

// Run runs actions in the page, each run bounded by Timeout; a failure
// fails the test, with a screenshot of the page saved beside its log.
func (p *Page) Run(actions ...chromedp.Action) {
	p.t.Helper()
	if err := p.Try(actions...); err != nil {
		p.t.Fatalf("%s: %v (page: %s)", p.Name, err, p.shotOnFailure())
	}
}

// Try runs actions like Run and returns their error.
func (p *Page) Try(actions ...chromedp.Action) error {
	ctx, cancel := context.WithTimeout(p.Ctx, Timeout)
	defer cancel()
	return chromedp.Run(ctx, actions...)
}

// shotOnFailure saves the page as it is for a failing test to show.
func (p *Page) shotOnFailure() string {
	ctx, cancel := context.WithTimeout(p.Ctx, 5*time.Second)
	defer cancel()
	var buf []byte
	if err := chromedp.Run(ctx, chromedp.CaptureScreenshot(&buf)); err != nil {
		return "no screenshot: " + err.Error()
	}
	dir := os.Getenv("SWIPER_SCREENSHOTS")
	if dir == "" {
		dir = os.TempDir()
	}
	name := filepath.Join(dir, "failed-"+sanitize(p.t.Name()+"-"+p.Name)+".png")
	if err := os.WriteFile(name, buf, 0o644); err != nil {
		return err.Error()
	}
	var text string
	_ = chromedp.Run(ctx, chromedp.Text("body", &text, chromedp.ByQuery))
	if len(text) > 600 {
		text = text[:600] + "…"
	}
	return name + "; text: " + strings.Join(strings.Fields(text), " ")
}

// Screenshot saves the viewport as PNG under $SWIPER_SCREENSHOTS (make
// screenshots sets it to docs/screenshots, for the README), or in the
// test's temporary directory, and returns the file's path.
func (p *Page) Screenshot(name string) string {
	p.t.Helper()
	var buf []byte
	p.Run(chromedp.CaptureScreenshot(&buf))
	if len(buf) < 1000 {
		p.t.Fatalf("%s: screenshot %s is %d bytes", p.Name, name, len(buf))
	}
	dir := os.Getenv("SWIPER_SCREENSHOTS")
	if dir == "" {
		dir = p.t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	file := filepath.Join(dir, name+".png")
	if err := os.WriteFile(file, buf, 0o644); err != nil {
		p.t.Fatal(err)
	}
	return file
}

// WaitText waits until the first element matching the CSS selector sel
// holds text containing want.
func (p *Page) WaitText(sel, want string) {
	p.t.Helper()
	p.WaitJS(fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.textContent.includes(%q) })()`, sel, want),
		fmt.Sprintf("%s to contain %q", sel, want))
}

// WaitJS polls the boolean JavaScript expression cond until it holds,
// for at most Timeout.
func (p *Page) WaitJS(cond, what string) {
	p.t.Helper()
	p.WaitJSWithin(Timeout, cond, what)
}

// WaitJSWithin polls cond for at most d.
func (p *Page) WaitJSWithin(d time.Duration, cond, what string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.Ctx, d)
	defer cancel()
	err := chromedp.Run(ctx, chromedp.Poll(cond, nil, chromedp.WithPollingInterval(20*time.Millisecond)))
	if err != nil {
		p.t.Fatalf("%s: waiting %s for %s: %v (page: %s)", p.Name, d, what, err, p.shotOnFailure())
	}
}

// Eval evaluates a JavaScript expression and stores its JSON value in out.
func (p *Page) Eval(expr string, out any) {
	p.t.Helper()
	p.Run(chromedp.Evaluate(expr, out))
}

// Text returns the text of the first element matching sel.
func (p *Page) Text(sel string) string {
	p.t.Helper()
	var s string
	p.Run(chromedp.Text(sel, &s, chromedp.ByQuery, chromedp.NodeVisible))
	return s
}

// Visible reports whether the first element matching sel is rendered
// (present, not hidden, taking up room).
func (p *Page) Visible(sel string) bool {
	p.t.Helper()
	var ok bool
	p.Eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.getClientRects().length > 0 })()`, sel), &ok)
	return ok
}

// Count returns how many elements match sel.
func (p *Page) Count(sel string) int {
	p.t.Helper()
	var n int
	p.Eval(fmt.Sprintf(`document.querySelectorAll(%q).length`, sel), &n)
	return n
}

// Nodes returns the nodes matching sel, waiting for at least one.
func (p *Page) Nodes(sel string) []*cdp.Node {
	p.t.Helper()
	var nodes []*cdp.Node
	p.Run(chromedp.Nodes(sel, &nodes, chromedp.ByQueryAll))
	return nodes
}

// quiet logs chromedp's own errors to the test, leaving out its notices
// of DevTools events newer than it knows (Chromium's top layer, for
// <dialog>), which say nothing about the page.
func quiet(t testing.TB) func(string, ...any) {
	return func(format string, args ...any) {
		m := fmt.Sprintf(format, args...)
		if strings.Contains(m, "unhandled node event") || strings.Contains(m, "unhandled page event") {
			return
		}
		t.Logf("chromedp: %s", m)
	}
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == ':' {
			return '_'
		}
		return r
	}, s)
}
