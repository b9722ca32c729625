package http

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"sync"

	"go.yaml.in/yaml/v3"
)

// openapiYAML is the OpenAPI 3.1 description of the client and admin APIs
// and of the WebSocket's frames. It is embedded here rather than in a
// package of its own because the layering test lets no transport package
// import another, and this one serves it.
//
//go:embed openapi/openapi.yaml
var openapiYAML []byte

var openapiJSON = sync.OnceValue(func() []byte {
	var doc any
	if err := yaml.Unmarshal(openapiYAML, &doc); err != nil {
		panic("transport/http: openapi/openapi.yaml: " + err.Error()) // a test loads it: never in a build
	}
	data, err := json.Marshal(doc)
	if err != nil {
		panic("transport/http: openapi/openapi.yaml: " + err.Error())
	}
	return data
})

// OpenAPI returns the OpenAPI 3.1 description of the API (API.md) as JSON,
// converted once from the embedded YAML, whose anchors it expands. Callers
// must not change the slice.
func OpenAPI() []byte { return openapiJSON() }

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(OpenAPI())
}
