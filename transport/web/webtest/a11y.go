package webtest

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// axeSource is axe-core (axe/README.md), injected into pages under test.
//
//go:embed axe/axe.min.js
var axeSource string

// Accessible runs axe-core's WCAG 2 A and AA rules (contrast, labels,
// names of buttons and links, image text, ARIA use…) on the page as it
// is now and fails the test on any violation, naming the rule and the
// elements. what says which view this is.
func (p *Page) Accessible(what string) {
	p.t.Helper()
	var loaded bool
	p.Eval(`typeof window.axe === "object"`, &loaded)
	if !loaded {
		// Evaluated over the DevTools protocol, so the page's CSP (no
		// inline or foreign scripts) does not stop it.
		p.Run(chromedp.Evaluate(axeSource, nil))
	}
	var out string
	p.Run(chromedp.Evaluate(`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
		.then(r => JSON.stringify(r.violations.map(v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.target.join(" ") + ": " + n.failureSummary)}))))`,
		&out, func(e *runtime.EvaluateParams) *runtime.EvaluateParams { return e.WithAwaitPromise(true) }))
	var violations []struct {
		ID, Help string
		Nodes    []string
	}
	if err := json.Unmarshal([]byte(out), &violations); err != nil {
		p.t.Fatalf("%s: axe result %q: %v", p.Name, out, err)
	}
	if len(violations) == 0 {
		return
	}
	var b strings.Builder
	for _, v := range violations {
		fmt.Fprintf(&b, "\n  %s (%s):", v.ID, v.Help)
		for _, n := range v.Nodes {
			fmt.Fprintf(&b, "\n    %s", strings.ReplaceAll(n, "\n", " "))
		}
	}
	p.t.Errorf("%s: %s is not accessible:%s", p.Name, what, b.String())
}
