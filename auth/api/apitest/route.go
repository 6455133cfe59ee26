package apitest

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
)

// Why a request matches no documented operation.
var (
	errNoPath   = errors.New("no documented path matches")
	errNoMethod = errors.New("the documented path has no such method")
)

// findRoute returns the operation of doc that req is for, and the values of
// its path parameters, with OpenAPI's path templating: a {param} is one
// whole, non-empty path segment, and a template with fewer parameters wins
// over one with more. It returns errNoPath or errNoMethod if there is none.
func findRoute(doc *openapi3.T, req *http.Request) (*routers.Route, map[string]string, error) {
	segments := strings.Split(req.URL.EscapedPath(), "/")
	var (
		best       *routers.Route
		bestParams map[string]string
		pathFound  bool
	)
	for template, item := range doc.Paths.Map() {
		params, ok := matchPath(strings.Split(template, "/"), segments)
		if !ok {
			continue
		}
		pathFound = true
		op := item.GetOperation(req.Method)
		if op == nil || (best != nil && len(params) >= len(bestParams)) {
			continue
		}
		best = &routers.Route{Spec: doc, Path: template, PathItem: item, Method: req.Method, Operation: op}
		bestParams = params
	}
	switch {
	case best != nil:
		return best, bestParams, nil
	case pathFound:
		return nil, nil, errNoMethod
	}
	return nil, nil, errNoPath
}

// matchPath matches the segments of an escaped path against those of a
// path template and returns the unescaped values of its parameters.
func matchPath(template, path []string) (map[string]string, bool) {
	if len(template) != len(path) {
		return nil, false
	}
	params := map[string]string{}
	for i, t := range template {
		v, err := url.PathUnescape(path[i])
		if err != nil {
			return nil, false
		}
		name, isParam := strings.CutPrefix(t, "{")
		name, closed := strings.CutSuffix(name, "}")
		switch {
		case isParam && closed:
			if v == "" {
				return nil, false
			}
			params[name] = v
		case t != v:
			return nil, false
		}
	}
	return params, true
}
