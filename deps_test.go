package swiper_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/swiperhq/swiper"

// TestDependenciesPointInward keeps the layering of STYLE.md true: the root
// package needs only the standard library; stores, actors and transports
// know the root package but not each other; internal/ helpers (such as
// image processing) know only the root package, the standard library and
// the image libraries; only the wiring (cmd/ and internal/'s config, node
// and app, which swiperd and the tests share) puts them together.
//
// Within a layer, packages do not import each other either: transport/ws
// does not import transport/http, store/redis not store/postgres, one
// actor kind not another, one internal/ helper not another; what two of
// them share moves inward (to the root package or an internal/ helper).
// The exceptions are a test helper importing the package it helps
// (store/postgres/pgtest imports store/postgres) and the actors' shared
// messages, actors/actorpb. The wiring is exempt.
func TestDependenciesPointInward(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	type pkg struct {
		ImportPath string
		Deps       []string
		Standard   bool
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkg
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 5 {
		t.Fatalf("go list found %d packages; want the whole module", len(pkgs))
	}
	// forbidden[layer] lists the layers a package in layer must not import.
	forbidden := map[string][]string{
		"store":     {"transport", "actors", "cmd", "wiring"},
		"transport": {"store", "actors", "cmd", "wiring"},
		"actors":    {"transport", "store", "cmd", "wiring"},
		"internal":  {"transport", "store", "actors", "cmd", "wiring"},
	}
	// internalMay lists the modules outside the standard library that a
	// package under internal/ may import.
	internalMay := []string{"golang.org/x/image/", "golang.org/x/sync/"}
	// wiring lists the packages under internal/ that assemble the others,
	// as cmd/ does: the node's configuration, its cluster member and the
	// assembly itself.
	wiring := []string{"internal/config", "internal/node", "internal/app"}
	// within lists the layers whose packages must not import each other;
	// sameLayerMay says which imports inside one are allowed all the same.
	within := []string{"store", "actors", "transport", "internal"}
	sameLayerMay := func(p, d string) bool {
		if strings.HasSuffix(path.Base(p), "test") && path.Dir(p) == d {
			return true // a test helper (pgtest, redistest, costest) and its parent
		}
		return d == module+"/actors/actorpb"
	}
	layer := func(ip string) string {
		rel := strings.TrimPrefix(strings.TrimPrefix(ip, module), "/")
		for _, w := range wiring {
			if rel == w || strings.HasPrefix(rel, w+"/") {
				return "wiring"
			}
		}
		return strings.SplitN(rel, "/", 2)[0]
	}
	for _, p := range pkgs {
		own := layer(p.ImportPath)
		for _, d := range p.Deps {
			if !strings.HasPrefix(d, module) {
				external := strings.Contains(strings.SplitN(d, "/", 2)[0], ".")
				if p.ImportPath == module && external {
					t.Errorf("the root package imports %s; want the standard library only", d)
				}
				if own == "internal" && external && !slices.ContainsFunc(internalMay, func(m string) bool { return strings.HasPrefix(d+"/", m) }) {
					t.Errorf("%s imports %s; internal/ may import only the root package, the standard library and %v", p.ImportPath, d, internalMay)
				}
				continue
			}
			if p.ImportPath == module && d != module {
				t.Errorf("the root package imports %s", d)
			}
			if slices.Contains(within, own) && layer(d) == own && !sameLayerMay(p.ImportPath, d) {
				t.Errorf("%s imports %s: packages within %s/ must not import each other; move what they share inward", p.ImportPath, d, own)
			}
			for _, bad := range forbidden[own] {
				if layer(d) == bad {
					t.Errorf("%s imports %s: %s/ must not depend on %s/", p.ImportPath, d, own, bad)
				}
			}
		}
	}
}
