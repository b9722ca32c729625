package node_test

import (
	"os"
	"strings"
	"testing"

	"github.com/swiperhq/swiper/transport/http/openapitest"
)

// TestMain runs the package's tests and, when all of them ran, says which
// operations of the OpenAPI description none of them exercised.
func TestMain(m *testing.M) { os.Exit(openapitest.Main(m)) }

// TestOpenAPIRoutesServed: every operation of the OpenAPI description is
// routed by a node, on the listener the description names: asked without
// a token or a body, it is never answered as an unknown path (404 "no
// such endpoint") or method (405). The harness's client checks each answer
// against the description as well.
func TestOpenAPIRoutesServed(t *testing.T) {
	h := newHarness(t)
	v := h.openapi
	for _, op := range v.Operations() {
		method, path, _ := strings.Cut(op, " ")
		t.Run(op, func(t *testing.T) {
			base, token := h.api, ""
			if strings.HasPrefix(path, "/admin/") || path == "/metrics" {
				base, token = h.adm, adminToken
			}
			// Ids no user, job or report has; a media key of no object.
			url := strings.NewReplacer("{id}", "987654321", "{path}", "avatars/987654321/"+strings.Repeat("a", 64)+".jpg").Replace(path)
			r, err := h.try(base, method, url, token, nil)
			if err != nil && !strings.Contains(err.Error(), "not a JSON object") {
				t.Fatal(err)
			}
			switch {
			case r.Status == 405:
				t.Errorf("%s %s: 405 %s; want the method routed", method, url, r.Raw)
			case r.Status == 404 && strings.Contains(string(r.Raw), "no such endpoint") && path != "/media/{path}":
				t.Errorf("%s %s: 404 %s; want the path routed", method, url, r.Raw)
			}
		})
	}
}
