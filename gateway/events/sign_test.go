package events

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestSignKnownVector(t *testing.T) {
	t.Parallel()
	// printf '%s' '1700000000.{"id":"x"}' | openssl dgst -sha256 -hmac key
	const want = "sha256=c275209bfed50f54f9b0d8dafaf250f3f08155fdaadece7fc4d3f5c7e3c8b6ba"
	if got := Sign("key", "1700000000", []byte(`{"id":"x"}`)); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000, 0)
	body := []byte(`{"id":"x"}`)
	signed := func(secret string, at time.Time, body []byte) http.Header {
		ts := strconv.FormatInt(at.Unix(), 10)
		h := http.Header{}
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, Sign(secret, ts, body))
		return h
	}
	tests := []struct {
		name   string
		header http.Header
		body   []byte
		want   error
	}{
		{"valid", signed("key", now, body), body, nil},
		{"within tolerance", signed("key", now.Add(-4*time.Minute), body), body, nil},
		{"wrong secret", signed("other", now, body), body, ErrBadSignature},
		{"tampered body", signed("key", now, body), []byte(`{"id":"y"}`), ErrBadSignature},
		{"tampered timestamp", func() http.Header {
			h := signed("key", now.Add(-time.Hour), body)
			h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
			return h
		}(), body, ErrBadSignature},
		{"replayed late", signed("key", now.Add(-6*time.Minute), body), body, ErrStale},
		{"from the future", signed("key", now.Add(6*time.Minute), body), body, ErrStale},
		{"unsigned", http.Header{HeaderTimestamp: {"1700000000"}}, body, ErrBadSignature},
		{"not hex", http.Header{HeaderTimestamp: {"1700000000"}, HeaderSignature: {"sha256=zz"}}, body, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Verify("key", tt.header, tt.body, now, 5*time.Minute)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}
