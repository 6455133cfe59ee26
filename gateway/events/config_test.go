package events

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c, eps, err := Config{URLs: []string{"https://hooks.example/s3ftp"}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 1 || eps[0].label != "https://hooks.example/s3ftp" {
		t.Errorf("endpoints: %+v", eps)
	}
	if len(c.Types) != 1 || c.Types[0] != TypeUpload || c.Timeout != 10*time.Second ||
		c.MaxAttempts != 5 || c.Backoff != time.Second || c.QueueSize != 1000 || c.Workers != 2 ||
		c.Logger == nil || c.Metrics == nil || c.HTTP == nil || c.HTTP.Timeout != 10*time.Second {
		t.Errorf("defaults: %+v", c)
	}
}

func TestConfigWorkersPerURL(t *testing.T) {
	t.Parallel()
	urls := []string{"http://a/", "http://b/", "http://c/"}
	if c, _, err := (Config{URLs: urls}).withDefaults(); err != nil || c.Workers != 3 {
		t.Fatalf("workers %d, %v; want one per URL", c.Workers, err)
	}
	if c, _, err := (Config{URLs: urls, Workers: 1}).withDefaults(); err != nil || c.Workers != 1 {
		t.Fatalf("workers %d, %v; want the configured 1", c.Workers, err)
	}
}

func TestConfigInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want string // in the error
	}{
		{"ftp scheme", Config{URLs: []string{"ftp://h/x"}}, "URL 1 (ftp://h/x): scheme must be http or https"},
		{"relative", Config{URLs: []string{"/hook"}}, "URL 1 (/hook): scheme"},
		{"no host", Config{URLs: []string{"https:///hook"}}, "no host"},
		{"unparsable", Config{URLs: []string{"https://u:pw@h:port/"}}, "URL 1: not a URL"},
		{"second one", Config{URLs: []string{"https://a/", "mailto:x@y"}}, "URL 2"},
		{"password hidden", Config{URLs: []string{"gopher://u:pw@h/?t=tok"}}, "gopher://xxxxx@h/?xxxxx"},
		{"duplicate", Config{URLs: []string{"https://a/", "https://a/"}}, "URL 2 (https://a/): listed twice"},
		{"type", Config{Types: []string{"upload", "mkdir"}}, `type "mkdir"`},
		{"timeout", Config{Timeout: -time.Second}, "timeout"},
		{"attempts", Config{MaxAttempts: -1}, "max attempts"},
		{"backoff", Config{Backoff: -1}, "backoff"},
		{"queue", Config{QueueSize: -1}, "queue size"},
		{"workers", Config{Workers: -1}, "workers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "pw") || strings.Contains(err.Error(), "tok") {
				t.Fatalf("error shows a credential: %v", err)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"https://hooks.example/a/b":             "https://hooks.example/a/b",
		"https://user:secret@hooks.example/a":   "https://xxxxx@hooks.example/a",
		"https://tokenonly@hooks.example/a":     "https://xxxxx@hooks.example/a",
		"https://hooks.example/a?token=secret":  "https://hooks.example/a?xxxxx",
		"http://127.0.0.1:8080/x?#frag":         "http://127.0.0.1:8080/x?xxxxx",
		"http://[::1]:9/p%20q?a=1&b=2#fragment": "http://[::1]:9/p%20q?xxxxx",
	}
	for in, want := range tests {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := redact(u); got != want {
			t.Errorf("redact(%s) = %s, want %s", in, got, want)
		}
	}
}
