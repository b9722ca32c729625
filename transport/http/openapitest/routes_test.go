package openapitest_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/swiperhq/swiper/transport/http/openapitest"
)

// TestRoutesDocumented: every route that transport/http and
// transport/admin register (mux.Handle with a pattern, and the methods of
// its httpapi.Methods) is an operation of the OpenAPI description, so a
// new route cannot go undocumented. Handlers that route methods
// themselves (the WebSocket, media, metrics) need only their path
// documented. The web app, the dashboard and pprof are not the API.
func TestRoutesDocumented(t *testing.T) {
	v := openapitest.Must(t)
	ops := v.Operations()
	paths := map[string]bool{}
	for _, op := range ops {
		_, p, _ := strings.Cut(op, " ")
		paths[p] = true
	}
	notAPI := func(pattern string) bool {
		return pattern == "/" || strings.HasPrefix(pattern, "/debug/pprof/") || pattern == "/{$}" ||
			strings.HasPrefix(pattern, "/assets/") || strings.HasPrefix(pattern, "/admin/{$}") ||
			strings.HasPrefix(pattern, "/admin/assets/") || pattern == "/admin"
	}
	n := 0
	for _, file := range []string{"../http.go", "../../admin/admin.go"} {
		for _, r := range registrations(t, file) {
			if notAPI(r.path) {
				continue
			}
			n++
			path := r.path
			if path == "/media/" {
				path = "/media/{path}"
			}
			if len(r.methods) == 0 {
				if !paths[path] {
					t.Errorf("%s registers %s; the OpenAPI description has no such path", file, r.path)
				}
				continue
			}
			for _, m := range r.methods {
				if !slices.Contains(ops, m+" "+path) {
					t.Errorf("%s registers %s %s; the OpenAPI description has no such operation", file, m, r.path)
				}
			}
		}
	}
	if n < 30 {
		t.Errorf("found %d routes in http.go and admin.go; want them all (has their registration changed form?)", n)
	}
}

type registration struct {
	path    string
	methods []string // nil: the handler routes methods itself
}

// registrations reads the mux.Handle and mux.HandleFunc calls of a Go
// file: their patterns ("[METHOD ]path") and, for an httpapi.Methods
// handler (a literal, a conversion of one, or a variable holding one and
// given more methods by index), its methods.
func registrations(t *testing.T, file string) []registration {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	methodsOf := func(e ast.Expr) []string {
		if c, ok := e.(*ast.CallExpr); ok && len(c.Args) == 1 { // httpapi.Methods(map[…]…{…})
			e = c.Args[0]
		}
		lit, ok := e.(*ast.CompositeLit)
		if !ok {
			return nil
		}
		var out []string
		for _, el := range lit.Elts {
			if kv, ok := el.(*ast.KeyValueExpr); ok {
				out = append(out, methodName(kv.Key))
			}
		}
		return out
	}
	vars := map[string][]string{}
	var out []registration
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			for i, lhs := range n.Lhs {
				switch l := lhs.(type) {
				case *ast.Ident: // me := httpapi.Methods{…}
					if i < len(n.Rhs) {
						if ms := methodsOf(n.Rhs[i]); ms != nil {
							vars[l.Name] = ms
						}
					}
				case *ast.IndexExpr: // me[http.MethodDelete] = …
					if id, ok := l.X.(*ast.Ident); ok && vars[id.Name] != nil {
						vars[id.Name] = append(vars[id.Name], methodName(l.Index))
					}
				}
			}
		case *ast.CallExpr:
			sel, ok := n.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") || len(n.Args) != 2 {
				return true
			}
			lit, ok := n.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			pattern, _ := strconv.Unquote(lit.Value)
			r := registration{path: pattern}
			if m, p, ok := strings.Cut(pattern, " "); ok {
				r.path, r.methods = p, []string{m}
			} else if id, ok := n.Args[1].(*ast.Ident); ok {
				r.methods = vars[id.Name]
			} else {
				r.methods = methodsOf(n.Args[1])
			}
			out = append(out, r)
		}
		return true
	})
	return out
}

// methodName reads http.MethodGet as GET.
func methodName(e ast.Expr) string {
	if sel, ok := e.(*ast.SelectorExpr); ok {
		return strings.ToUpper(strings.TrimPrefix(sel.Sel.Name, "Method"))
	}
	if lit, ok := e.(*ast.BasicLit); ok {
		s, _ := strconv.Unquote(lit.Value)
		return s
	}
	return "?"
}
