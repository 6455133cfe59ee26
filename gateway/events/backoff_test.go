package events

import (
	"net/http"
	"testing"
	"time"
)

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		base       time.Duration
		attempt    int
		retryAfter time.Duration
		lo, hi     time.Duration
	}{
		{time.Second, 1, 0, 500 * time.Millisecond, time.Second},
		{time.Second, 2, 0, time.Second, 2 * time.Second},
		{time.Second, 4, 0, 4 * time.Second, 8 * time.Second},
		{time.Second, 7, 0, 30 * time.Second, time.Minute}, // 64s capped
		{time.Second, 1000, 0, 30 * time.Second, time.Minute},
		{10 * time.Millisecond, 3, 0, 20 * time.Millisecond, 40 * time.Millisecond},
		{time.Second, 1, 7 * time.Second, 7 * time.Second, 7 * time.Second}, // Retry-After, no jitter
		{time.Second, 1, time.Hour, time.Minute, time.Minute},               // Retry-After capped
		{10 * time.Minute, 1, 0, 30 * time.Second, time.Minute},             // base capped
		{0, 3, 0, 0, 0},
	}
	for _, tt := range tests {
		for range 50 {
			if d := retryDelay(tt.base, tt.attempt, tt.retryAfter); d < tt.lo || d > tt.hi {
				t.Fatalf("retryDelay(%v, %d, %v) = %v, want within [%v, %v]", tt.base, tt.attempt, tt.retryAfter, d, tt.lo, tt.hi)
			}
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"5", 5 * time.Second},
		{" 7 ", 7 * time.Second},
		{"0", 0},
		{"-1", 0},
		{"soon", 0},
		{"99999999999999999999", 0}, // overflows: ignored
		{"3600", time.Minute},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{now.Add(time.Hour).Format(http.TimeFormat), time.Minute},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
