package gateway

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	ftpserver "github.com/fclairamb/ftpserverlib"

	"github.com/s3ftp/s3ftp/storage"
)

// TestTransientReplies pins which errors ftpserverlib answers with a
// transient code (451, 421 at login: the client retries) rather than a
// permanent 5xx: storage being unreachable is transient, the client's own
// mistakes and S3 refusing the gateway's requests are not.
func TestTransientReplies(t *testing.T) {
	unreachable := fmt.Errorf("put: %w: dial tcp: connection refused", storage.ErrBackend)
	for _, tc := range []struct {
		name      string
		err       error
		transient bool
	}{
		{"S3 unreachable", unreachable, true},
		{"unknown error", errors.New("anything else"), true},
		{"login unavailable", errLoginUnavailable, true},
		{"shutting down", errShuttingDown, true},
		{"no such file", fmt.Errorf("stat: %w", fs.ErrNotExist), false},
		{"S3 refused", fmt.Errorf("put: %w", storage.ErrRefused), false},
		{"too large", storage.ErrTooLarge, false},
		{"aborted by the client", storage.ErrAborted, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reply, _ := toReply(tc.err)
			if got := errors.Is(reply, ftpserver.ErrTransient); got != tc.transient {
				t.Errorf("toReply(%v) transient = %v, want %v (%q)", tc.err, got, tc.transient, reply)
			}
		})
	}
}
