// Package openapitest checks the real server against its OpenAPI
// description (transport/http's OpenAPI): a validating http.RoundTripper
// for the integration tests' HTTP clients, and a check of WebSocket frames
// against the frame schemas, so that the description cannot drift from the
// code.
//
// It validates with github.com/getkin/kin-openapi, which loads OpenAPI 3.1
// documents and validates them as JSON Schema 2020-12 (through
// santhosh-tekuri/jsonschema). Routes are found here, by the spec's path
// templates and the listener a client talks to, rather than by kin's
// routers, which match servers' hosts and cannot take /media/{path}'s
// slashes.
//
// It is a test helper: it depends on transport/http (for the document), the
// validator and the standard library.
package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	swhttp "github.com/swiperhq/swiper/transport/http"
)

// Listener says which of a node's two listeners a client talks to.
type Listener int

const (
	Client Listener = iota // the client API: /api/v1/..., /healthz, /readyz, /media/
	Admin                  // the admin API: /admin/v1/..., /metrics
)

// Validator checks requests, responses and frames against the document,
// and records which operations it saw. It is safe for concurrent use.
type Validator struct {
	Doc    *openapi3.T // the document, loaded and validated
	routes []route     // literal segments first

	mu   sync.Mutex
	seen map[string]bool // "METHOD /template" of operations answered 2xx
}

type route struct {
	tmpl     string
	segs     []string
	listener Listener
	item     *openapi3.PathItem
}

// Load loads and validates the document transport/http serves.
func Load() (*Validator, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(swhttp.OpenAPI())
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		return nil, fmt.Errorf("the OpenAPI document is version %q; want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("the OpenAPI document is not valid: %w", err)
	}
	v := &Validator{Doc: doc, seen: map[string]bool{}}
	for tmpl, item := range doc.Paths.Map() {
		r := route{tmpl: tmpl, segs: strings.Split(tmpl, "/"), item: item}
		if strings.HasPrefix(tmpl, "/admin/") || tmpl == "/metrics" {
			r.listener = Admin
		}
		v.routes = append(v.routes, r)
	}
	// Literal segments before parameters: /a/b before /a/{id}.
	sort.Slice(v.routes, func(i, j int) bool { return literals(v.routes[i].segs) > literals(v.routes[j].segs) })
	return v, nil
}

func literals(segs []string) int {
	n := 0
	for _, s := range segs {
		if !strings.HasPrefix(s, "{") {
			n++
		}
	}
	return n
}

var shared = sync.OnceValues(Load)

// Shared returns the validator every test of the process shares: the
// document is loaded once, and its record of the operations seen is the
// whole process's.
func Shared() (*Validator, error) { return shared() }

// Must returns Shared's validator, failing tb if the document does not
// load.
func Must(tb testing.TB) *Validator {
	tb.Helper()
	v, err := shared()
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// find returns the route a path of listener l is served by, and its path
// parameters. A template's last parameter named "path" takes the rest of
// the path, slashes and all (/media/{path}).
func (v *Validator) find(l Listener, path string) (*route, map[string]string) {
	segs := strings.Split(path, "/")
	for i := range v.routes {
		r := &v.routes[i]
		if r.listener != l {
			continue
		}
		if params, ok := match(r.segs, segs); ok {
			return r, params
		}
	}
	return nil, nil
}

func match(tmpl, segs []string) (map[string]string, bool) {
	params := map[string]string{}
	for i, t := range tmpl {
		if i >= len(segs) {
			return nil, false
		}
		if !strings.HasPrefix(t, "{") {
			if t != segs[i] {
				return nil, false
			}
			continue
		}
		name := strings.Trim(t, "{}")
		if name == "path" && i == len(tmpl)-1 {
			rest := strings.Join(segs[i:], "/")
			if rest == "" {
				return nil, false
			}
			params[name] = rest
			return params, true
		}
		if segs[i] == "" {
			return nil, false
		}
		params[name] = segs[i]
	}
	return params, len(tmpl) == len(segs)
}

// Transport returns a RoundTripper that sends each request with base (nil:
// http.DefaultTransport) and, when it goes to one of listeners (base URLs
// such as "http://127.0.0.1:8080", by their host), checks the exchange
// against the document, reporting every mismatch with tb.Errorf (never
// stopping the test, so any goroutine may use it; once tb's test is over,
// nothing is reported):
//   - the route and method must be documented, unless the server answers
//     that they do not exist (404 for a path, 405 for a method) or refuses
//     the request before routing (400 for the URL, 401 for the admin
//     token), with the JSON error body;
//   - the status must be documented for the operation, and the response
//     body, errors included, must match its schema (bodies that are not
//     JSON are not read: media, metrics);
//   - when the response is 2xx, the request (parameters and a JSON body
//     that can be read again, req.GetBody) must match too: a request the
//     server refused may be wrong on purpose.
func (v *Validator) Transport(tb testing.TB, base http.RoundTripper, listeners map[string]Listener) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	t := &transport{v: v, tb: tb, base: base, hosts: map[string]Listener{}}
	for raw, l := range listeners {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			tb.Fatalf("openapitest: listener %q is not a base URL", raw)
		}
		t.hosts[u.Host] = l
	}
	tb.Cleanup(func() { t.over.Store(true) })
	return t
}

// HTTPClient returns a copy of base (nil: a new client) whose transport is
// v.Transport of base's.
func (v *Validator) HTTPClient(tb testing.TB, base *http.Client, listeners map[string]Listener) *http.Client {
	c := &http.Client{}
	if base != nil {
		*c = *base
	}
	c.Transport = v.Transport(tb, c.Transport, listeners)
	return c
}

type transport struct {
	v     *Validator
	tb    testing.TB
	base  http.RoundTripper
	hosts map[string]Listener
	over  atomic.Bool // tb's test has ended
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	l, ok := t.hosts[req.URL.Host]
	if err != nil || !ok {
		return resp, err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil { // the caller gets what came, then the same failure
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(raw), failing{err}))
		return resp, nil
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	if msg := t.v.check(req, resp.StatusCode, resp.Header, raw, l); msg != "" && !t.over.Load() {
		t.tb.Errorf("openapi: %s %.200s → %d: %s\n\tbody: %.300s", req.Method, req.URL.RequestURI(), resp.StatusCode, msg, raw)
	}
	return resp, nil
}

// Exchange checks, as Transport does, an exchange with listener l made
// without a Transport (a WebSocket handshake, say), reading resp's body
// and leaving it to be read again.
func (v *Validator) Exchange(tb testing.TB, l Listener, req *http.Request, resp *http.Response) {
	tb.Helper()
	var raw []byte
	if resp.Body != nil {
		var err error
		raw, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(raw))
		if err != nil {
			return
		}
	}
	if msg := v.check(req, resp.StatusCode, resp.Header, raw, l); msg != "" {
		tb.Errorf("openapi: %s %.200s → %d: %s\n\tbody: %.300s", req.Method, req.URL.RequestURI(), resp.StatusCode, msg, raw)
	}
}

// failing is a reader that fails with err.
type failing struct{ err error }

func (f failing) Read([]byte) (int, error) { return 0, f.err }

// check returns what is wrong with one exchange, or "".
func (v *Validator) check(req *http.Request, status int, header http.Header, body []byte, l Listener) string {
	r, params := v.find(l, req.URL.Path)
	method := req.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	var op *openapi3.Operation
	if r != nil {
		op = r.item.GetOperation(method)
	}
	if op == nil {
		return v.checkUnrouted(l, r != nil, status, header, body)
	}
	if status/100 == 2 || status == http.StatusSwitchingProtocols {
		v.mu.Lock()
		v.seen[method+" "+r.tmpl] = true
		v.mu.Unlock()
	}
	ctx := context.Background()
	in := &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      &routers.Route{Spec: v.Doc, Path: r.tmpl, PathItem: r.item, Method: method, Operation: op},
		Options:    &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	var problems []string
	if status/100 == 2 {
		rq := req.Clone(ctx)
		rq.Body = http.NoBody
		if req.GetBody != nil {
			if b, err := req.GetBody(); err == nil {
				rq.Body = b
			}
		} else if req.Body != nil && req.Body != http.NoBody {
			in.Options.ExcludeRequestBody = true // streamed: gone
		}
		if rq.Header.Get("Content-Type") == "" && rq.Body != http.NoBody {
			rq.Header.Set("Content-Type", "application/json") // as the server reads it
		}
		if !isJSON(rq.Header.Get("Content-Type")) {
			in.Options.ExcludeRequestBody = true // multipart: the route is enough
		}
		in.Request = rq
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			problems = append(problems, "request: "+err.Error())
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if ct := header.Get("Content-Type"); !isJSON(ct) && (len(body) > 0 || req.Method == http.MethodHead) {
		// Media and metrics are not read; but a reply documented as JSON
		// only must be JSON.
		out.Options.ExcludeResponseBody = true
		if doc := op.Responses.Status(status); doc != nil && doc.Value != nil && len(body) > 0 &&
			len(doc.Value.Content) == 1 && doc.Value.Content.Get("application/json") != nil {
			problems = append(problems, fmt.Sprintf("response: documented as JSON, answered with Content-Type %q", ct))
		}
	}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		problems = append(problems, "response: "+err.Error())
	}
	return strings.Join(problems, "; ")
}

// checkUnrouted checks the answer to a request the document does not
// describe: only the server saying so is right, or refusing it before
// routing (a bad URL; on the admin listener, a missing admin token).
func (v *Validator) checkUnrouted(l Listener, pathKnown bool, status int, header http.Header, body []byte) string {
	what := "undocumented route"
	if pathKnown {
		what = "undocumented method"
	}
	switch {
	case status == http.StatusNotFound, status == http.StatusMethodNotAllowed, status == http.StatusBadRequest:
	case status == http.StatusUnauthorized && l == Admin:
	default:
		return what + " (answered other than 400, 404 or 405, or 401 by the admin listener)"
	}
	if !isJSON(header.Get("Content-Type")) {
		return what + ": an error without the JSON error body"
	}
	if err := v.Schema("ErrorReply", body); err != nil {
		return what + ": " + err.Error()
	}
	return ""
}

func isJSON(contentType string) bool {
	if contentType == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// Schema checks a JSON document against the named schema of the
// document's components.
func (v *Validator) Schema(name string, data []byte) error {
	ref := v.Doc.Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("no schema %q in the document", name)
	}
	var val any
	if err := json.Unmarshal(data, &val); err != nil {
		return fmt.Errorf("not JSON: %v", err)
	}
	if err := ref.Value.VisitJSON(val, openapi3.EnableJSONSchema2020(), openapi3.MultiErrors()); err != nil {
		return fmt.Errorf("does not match %s: %v", name, err)
	}
	return nil
}

// ServerFrame checks a frame the server sent on the WebSocket.
func (v *Validator) ServerFrame(tb testing.TB, data []byte) {
	tb.Helper()
	if err := v.Schema("WsServerFrame", data); err != nil {
		tb.Errorf("openapi: server frame %.300s: %v", data, err)
	}
}

// Call checks a request frame that the server answered without an error,
// and the result of its response against the method's result schema (the
// request schema's x-result).
func (v *Validator) Call(tb testing.TB, method string, request, response []byte) {
	tb.Helper()
	if err := v.Schema("WsClientFrame", request); err != nil {
		tb.Errorf("openapi: client frame %.300s (answered %.300s): %v", request, response, err)
	}
	var resp struct {
		Result json.RawMessage `json:"result"`
	}
	if json.Unmarshal(response, &resp) != nil || resp.Result == nil {
		tb.Errorf("openapi: response %.300s to %s has no result", response, method)
		return
	}
	name, err := v.resultSchema(method)
	if err != nil {
		tb.Errorf("openapi: %v", err)
		return
	}
	if err := v.Schema(name, resp.Result); err != nil {
		tb.Errorf("openapi: result of %s: %.300s: %v", method, resp.Result, err)
	}
}

// resultSchema returns the name of the schema of method's result, which
// the WsRequest alternative for method names in x-result.
func (v *Validator) resultSchema(method string) (string, error) {
	req := v.Doc.Components.Schemas["WsRequest"]
	for _, alt := range req.Value.OneOf {
		m := alt.Value.Properties["method"]
		if m == nil || m.Value.Const != method {
			continue
		}
		if name, ok := alt.Value.Extensions["x-result"].(string); ok {
			return name, nil
		}
		return "", fmt.Errorf("%s has no x-result", alt.Ref)
	}
	return "", fmt.Errorf("no WsRequest alternative for method %q", method)
}

// Operations returns every operation of the document as "METHOD /path",
// sorted.
func (v *Validator) Operations() []string {
	var out []string
	for _, r := range v.routes {
		for m := range r.item.Operations() {
			out = append(out, m+" "+r.tmpl)
		}
	}
	slices.Sort(out)
	return out
}

// Unseen returns the operations of listeners ls (none: both) that no
// exchange checked by v has answered 2xx (or 101) yet.
func (v *Validator) Unseen(ls ...Listener) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for _, r := range v.routes {
		if len(ls) > 0 && !slices.Contains(ls, r.listener) {
			continue
		}
		for m := range r.item.Operations() {
			if op := m + " " + r.tmpl; !v.seen[op] {
				out = append(out, op)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Main runs a package's tests (m.Run) and returns their exit code; when
// all of them ran and passed, it prints the operations of listeners ls
// (none: both) that none of them exercised (see Unseen), for a TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(openapitest.Main(m, openapitest.Client)) }
func Main(m *testing.M, ls ...Listener) int {
	code := m.Run()
	if f := flag.Lookup("test.run"); code != 0 || f == nil || f.Value.String() != "" {
		return code
	}
	v, err := shared()
	if err != nil {
		return code
	}
	if unseen := v.Unseen(ls...); len(unseen) > 0 {
		fmt.Printf("openapi: %d operations no test here exercised: %s\n", len(unseen), strings.Join(unseen, ", "))
	}
	return code
}
