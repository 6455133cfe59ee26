package gateway

import "time"

// Observer is told what the gateway does, for metrics. Implementations must
// be safe for concurrent use and fast: they are called on the hot path.
// Config.Observer nil means nobody listens.
type Observer interface {
	// SessionStarted and SessionEnded bracket every control connection
	// that gets its banner.
	SessionStarted()
	SessionEnded()
	// Login reports a login attempt: result is "ok", "denied" or "error"
	// (the user store failed).
	Login(result string)
	// TransferDone reports a finished RETR or STOR: op is "upload" or
	// "download", result "ok", "aborted" or "failed".
	TransferDone(op, result string, bytes int64, d time.Duration)
	// PassivePortOpened and PassivePortClosed bracket every passive data
	// listener.
	PassivePortOpened()
	PassivePortClosed()
	// ConnectionRefused reports a control connection turned away before
	// its banner; reason is e.g. "banned", "max_sessions", "max_sessions_per_ip",
	// "max_unauthenticated_per_ip".
	ConnectionRefused(reason string)
}

// nopObserver is the Observer used when Config.Observer is nil.
type nopObserver struct{}

func (nopObserver) SessionStarted()                                   {}
func (nopObserver) SessionEnded()                                     {}
func (nopObserver) Login(string)                                      {}
func (nopObserver) TransferDone(string, string, int64, time.Duration) {}
func (nopObserver) PassivePortOpened()                                {}
func (nopObserver) PassivePortClosed()                                {}
func (nopObserver) ConnectionRefused(string)                          {}
