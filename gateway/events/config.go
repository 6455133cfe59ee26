package events

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// allTypes are the event types Config.Types may select.
var allTypes = []string{TypeUpload, TypeDelete, TypeRename, TypeUserSilent, TypeUserResumed}

// maxBackoff caps the delay between two attempts, Retry-After included.
const maxBackoff = time.Minute

// Config holds what a Notifier needs. Zero fields take the defaults noted;
// withDefaults fills them in one place.
type Config struct {
	// URLs receive every selected event, each independently. They must be
	// absolute http or https URLs. None: the Notifier does nothing.
	URLs []string
	// Secret is the HMAC-SHA256 key of the X-S3ftp-Signature header.
	// Empty: requests are not signed.
	Secret string
	// Types are the event types sent (TypeUpload, TypeDelete,
	// TypeRename, TypeUserSilent, TypeUserResumed); others are ignored.
	// Default [TypeUpload].
	Types []string
	// Timeout bounds each attempt: connecting, sending the event and
	// reading the answer. Default 10s.
	Timeout time.Duration
	// MaxAttempts is how many times one event is tried per URL before it
	// is given up. Default 5; 1 means no retry.
	MaxAttempts int
	// Backoff is the delay before the first retry, doubled for each
	// further one, with jitter, capped at one minute. Default 1s.
	Backoff time.Duration
	// QueueSize is how many events the Notifier holds at most: queued,
	// being sent or waiting for a retry. Publish drops events beyond it.
	// Default 1000.
	QueueSize int
	// Workers is how many requests run at once. Each URL gets at most
	// max(1, Workers/len(URLs)) of them, so a hanging URL cannot stall
	// the others as long as Workers >= len(URLs). Default 2, or
	// len(URLs) if more.
	Workers int
	// Logger receives failed attempts and dropped events. Default: discard.
	Logger *slog.Logger
	// HTTP sends the requests. Default: a client with its own transport
	// (proxy from the environment), Timeout, and no redirect following (a
	// 3xx is a permanent failure). A client given here is used as is;
	// Timeout still applies to each request.
	HTTP *http.Client
	// Metrics, if not nil, is told about queued, dropped, delivered and
	// failed events.
	Metrics Metrics
}

// endpoint is one validated receiver URL.
type endpoint struct {
	url   string // as configured, for requests
	label string // without credentials, for logs and metrics
}

// withDefaults fills in defaults and validates c. It returns the validated
// URLs; its errors name the offending field or URL (without credentials).
func (c Config) withDefaults() (Config, []endpoint, error) {
	eps := make([]endpoint, 0, len(c.URLs))
	for i, raw := range c.URLs {
		ep, err := parseEndpoint(raw)
		if err != nil && ep.label != "" {
			return c, nil, fmt.Errorf("events: URL %d (%s): %w", i+1, ep.label, err)
		} else if err != nil {
			return c, nil, fmt.Errorf("events: URL %d: %w", i+1, err)
		}
		if slices.ContainsFunc(eps, func(e endpoint) bool { return e.url == ep.url }) {
			return c, nil, fmt.Errorf("events: URL %d (%s): listed twice", i+1, ep.label)
		}
		eps = append(eps, ep)
	}
	if len(c.Types) == 0 {
		c.Types = []string{TypeUpload}
	}
	for _, t := range c.Types {
		if !slices.Contains(allTypes, t) {
			return c, nil, fmt.Errorf("events: type %q: want one of %s", t, strings.Join(allTypes, ", "))
		}
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 5
	}
	if c.Backoff == 0 {
		c.Backoff = time.Second
	}
	if c.QueueSize == 0 {
		c.QueueSize = 1000
	}
	if c.Workers == 0 {
		c.Workers = max(2, len(eps))
	}
	switch {
	case c.Timeout < 0:
		return c, nil, errors.New("events: timeout must be positive")
	case c.MaxAttempts < 0:
		return c, nil, errors.New("events: max attempts must be at least 1")
	case c.Backoff < 0:
		return c, nil, errors.New("events: backoff must be positive")
	case c.QueueSize < 0:
		return c, nil, errors.New("events: queue size must be at least 1")
	case c.Workers < 0:
		return c, nil, errors.New("events: workers must be at least 1")
	}
	c.Backoff = min(c.Backoff, maxBackoff)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = nopMetrics{}
	}
	if c.HTTP == nil {
		c.HTTP = defaultClient(c.Timeout)
	}
	return c, eps, nil
}

// parseEndpoint checks that raw is an absolute http(s) URL with a host. Its
// errors do not repeat the URL; the endpoint's label is set whenever raw
// parses, to name it.
func parseEndpoint(raw string) (endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // ue.Error() would repeat the URL, password included
		}
		return endpoint{}, fmt.Errorf("not a URL: %w", err)
	}
	ep := endpoint{url: raw, label: redact(u)}
	if u.Scheme != "http" && u.Scheme != "https" {
		return ep, errors.New("scheme must be http or https")
	}
	if u.Host == "" {
		return ep, errors.New("no host")
	}
	return ep, nil
}

// redact returns u without what could be a credential: the user info (like
// url.URL.Redacted, but the user name too, which is often a token) and the
// query (webhook URLs often carry a token there).
func redact(u *url.URL) string {
	r := *u
	if r.User != nil {
		r.User = url.User("xxxxx")
	}
	if r.RawQuery != "" || r.ForceQuery {
		r.RawQuery, r.ForceQuery = "xxxxx", false
	}
	r.Fragment, r.RawFragment = "", ""
	return r.String()
}

// defaultClient returns the HTTP client used when Config.HTTP is nil.
func defaultClient(timeout time.Duration) *http.Client {
	var tr *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		tr = dt.Clone()
	} else {
		tr = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Validate reports what New would refuse in c (a bad URL, type or bound),
// without starting anything.
func (c Config) Validate() error {
	_, _, err := c.withDefaults()
	return err
}
