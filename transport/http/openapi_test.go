package http_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	swhttp "github.com/swiperhq/swiper/transport/http"
	"github.com/swiperhq/swiper/transport/http/openapitest"
)

// TestOpenAPIServed: GET /api/v1/openapi.json, without a token, is JSON
// that the validator loads as a valid OpenAPI 3.1 document describing
// every route.
func TestOpenAPIServed(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/api/v1/openapi.json", "", nil)
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /api/v1/openapi.json: %d, Content-Type %q; want 200 JSON", r.Status, r.Header.Get("Content-Type"))
	}
	if !bytes.Equal(r.Raw, swhttp.OpenAPI()) {
		t.Errorf("the served document is not swhttp.OpenAPI()")
	}
	doc, err := openapi3.NewLoader().LoadFromData(r.Raw)
	if err != nil {
		t.Fatalf("load the served document: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() || !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi = %q; want 3.1.x", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Errorf("the served document is not valid: %v", err)
	}
	if got := doc.Paths.Find("/api/v1/openapi.json"); got == nil || got.Get == nil {
		t.Errorf("the document does not describe itself")
	}
	if got, want := len(doc.Paths.Map()), len(openapitest.Must(t).Doc.Paths.Map()); got != want {
		t.Errorf("served document has %d paths; want %d", got, want)
	}
}

// TestMain runs the package's tests and, when all of them ran, says which
// client API operations none of them exercised.
func TestMain(m *testing.M) { os.Exit(openapitest.Main(m, openapitest.Client)) }
