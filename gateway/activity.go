package gateway

import (
	"errors"
	"net/netip"
	"time"
)

// ActivityRecorder is told what each user's sessions do, for the activity
// the admin API and console show (*activity.Recorder). Implementations
// must be safe for concurrent use and must never block: they are called
// when a login or a transfer ends, before the client gets its reply.
// Config.Activity nil means nothing is recorded.
type ActivityRecorder interface {
	// Login reports a successful login of user from addr.
	Login(user string, addr netip.Addr, at time.Time)
	// Upload reports a completed upload of size bytes to path (the FTP
	// path, relative to the user's home).
	Upload(user, path string, size int64, at time.Time)
	// Failure reports a failed or aborted transfer; message is what the
	// client was told, prefixed with the operation and the path.
	Failure(user, message string, at time.Time)
}

// nopActivity is the ActivityRecorder used when Config.Activity is nil.
type nopActivity struct{}

func (nopActivity) Login(string, netip.Addr, time.Time)     {}
func (nopActivity) Upload(string, string, int64, time.Time) {}
func (nopActivity) Failure(string, string, time.Time)       {}

// recordTransfer reports a finished transfer to the ActivityRecorder: a
// stored upload with the object's size, or a failed transfer of either
// direction with the reply the client gets (nothing internal).
func (s *Server) recordTransfer(t *transfer, op, result string, err error) {
	user := t.drv.sess.user
	switch {
	case result == "ok" && t.up != nil:
		s.activity.Upload(user, t.name, t.up.Result().Size, time.Now())
	case result != "ok":
		if err == nil {
			err = t.interrupt
		}
		if err == nil {
			err = errors.New(result)
		}
		reply, _ := toReply(err)
		s.activity.Failure(user, op+" "+t.name+": "+result+": "+reply.Error(), time.Now())
	}
}
