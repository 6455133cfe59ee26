package gateway

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/time/rate"

	"github.com/s3ftp/s3ftp/storage"
)

// bandwidthBurst is the most bytes a limited transfer moves at once.
const bandwidthBurst = 128 << 10

// bandwidth holds one rate limiter per user and direction, shared by all
// the user's sessions, when Settings.UserBandwidth is set.
type bandwidth struct {
	bytesPerSecond int64    // 0: unlimited
	limiters       sync.Map // "user\x00up" or "user\x00down" → *rate.Limiter
}

// limiter returns the limiter of user's transfers in one direction, or nil
// when bandwidth is unlimited.
func (b *bandwidth) limiter(user string, upload bool) *rate.Limiter {
	if b.bytesPerSecond <= 0 {
		return nil
	}
	key := user + "\x00down"
	if upload {
		key = user + "\x00up"
	}
	if l, ok := b.limiters.Load(key); ok {
		return l.(*rate.Limiter)
	}
	l, _ := b.limiters.LoadOrStore(key, rate.NewLimiter(rate.Limit(b.bytesPerSecond), bandwidthBurst))
	return l.(*rate.Limiter)
}

// wait blocks until l allows n more bytes, or ctx ends (an error wrapping
// storage.ErrAborted); a nil l never waits.
func wait(ctx context.Context, l *rate.Limiter, n int) error {
	for l != nil && n > 0 {
		chunk := min(n, bandwidthBurst)
		if err := l.WaitN(ctx, chunk); err != nil {
			return fmt.Errorf("%w: %w", storage.ErrAborted, err)
		}
		n -= chunk
	}
	return nil
}
