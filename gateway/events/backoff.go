package events

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// retryDelay returns how long to wait after failed attempt number attempt
// (1-based) before the next one. A receiver's Retry-After (retryAfter > 0)
// wins. Otherwise the delay is base doubled for each earlier failure, capped
// at maxBackoff, then jittered to between half and all of it so that retries
// of many events failed at once spread out. The result never exceeds
// maxBackoff.
func retryDelay(base time.Duration, attempt int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, maxBackoff)
	}
	d := min(base, maxBackoff)
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d = min(2*d, maxBackoff)
	}
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
// It returns 0 when v is absent, invalid or in the past; at most maxBackoff.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if sec, err := strconv.ParseUint(v, 10, 64); err == nil {
		if sec >= uint64(maxBackoff/time.Second) {
			return maxBackoff
		}
		return time.Duration(sec) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxBackoff)
	}
	return 0
}
