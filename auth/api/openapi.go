package api

import (
	_ "embed" // for the OpenAPI document
	"net/http"
)

// openAPIDocument is the OpenAPI 3 description of every route of the route
// table; openapi_test.go keeps the two equal.
//
//go:embed openapi.yaml
var openAPIDocument []byte

// openAPI serves GET /api/v1/openapi.yaml.
func (s *server) openAPI(*http.Request) (response, error) {
	return response{body: rawBody{contentType: "application/yaml", data: openAPIDocument}}, nil
}
