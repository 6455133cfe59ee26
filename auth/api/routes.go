package api

import "net/http"

// Route is one route the API serves, as the route table lists it.
type Route struct {
	Method string // GET, POST, PUT, PATCH or DELETE; a GET route also answers HEAD
	Path   string // path pattern, with {name} wildcards as net/http and OpenAPI write them
	Public bool   // served without a token; other routes need one, and a writable one unless Method is GET
}

// route is a Route with the function that serves it, or a handler that
// answers on its own (direct: the Prometheus metrics).
type route struct {
	Route
	handle handlerFunc
	direct http.Handler
}

// handlerFunc serves a request that has passed the token check. It returns
// the response to send, or an error that toError maps to one. It should set
// response.user to the user it acts on even when it returns an error.
type handlerFunc func(r *http.Request) (response, error)

// response is what a handlerFunc answers.
type response struct {
	status   int    // 0 means 200
	body     any    // sent as JSON, or as is if it is a rawBody; nil sends no body
	user     string // the user acted on, for the log
	location string // Location header, for 201
}

// rawBody is a response body that is not JSON.
type rawBody struct {
	contentType string
	data        []byte
}

// routes is the route table: every route the API serves, in one place. The
// OpenAPI document must list exactly these (see openapi_test.go).
func (s *server) routes() []route {
	return []route{
		{Route{"GET", "/healthz", true}, s.healthz, nil},
		{Route{"GET", "/readyz", true}, s.readyz, nil},
		{Route{"GET", "/api/v1/openapi.yaml", true}, s.openAPI, nil},
		{Route: Route{"GET", "/metrics", true}, direct: s.cfg.Metrics},
		{Route{"GET", "/api/v1/users", false}, s.listUsers, nil},
		{Route{"POST", "/api/v1/users", false}, s.createUser, nil},
		{Route{"GET", "/api/v1/users/{name}", false}, s.getUser, nil},
		{Route{"PUT", "/api/v1/users/{name}", false}, s.replaceUser, nil},
		{Route{"PATCH", "/api/v1/users/{name}", false}, s.updateUser, nil},
		{Route{"DELETE", "/api/v1/users/{name}", false}, s.deleteUser, nil},
		{Route{"POST", "/api/v1/users/{name}/password", false}, s.setPassword, nil},
		{Route{"GET", "/api/v1/users/{name}/activity", false}, s.getActivity, nil},
	}
}

// Routes returns the route table: every route the handler of NewHandler
// serves. Other paths answer 404 and other methods 405, in JSON.
func Routes() []Route {
	var s server
	rs := s.routes()
	out := make([]Route, len(rs))
	for i, r := range rs {
		out[i] = r.Route
	}
	return out
}
