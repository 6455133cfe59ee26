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
	// PassiveRefused reports a PASV/EPSV answered 421 for lack of a port,
	// or a data connection refused; reason is e.g. "ports_busy_for_address",
	// "no_free_port", "share_address", "share_user", "untrusted_proxy_header".
	PassiveRefused(reason string)
	// Relayed reports a data connection relayed to the replica peer that
	// owns its port, once it ends: the bytes sent to the peer (up) and
	// back to the client (down), and err, nil when both sides closed cleanly.
	Relayed(peer int, up, down int64, err error)
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
func (nopObserver) PassiveRefused(string)                             {}
func (nopObserver) Relayed(int, int64, int64, error)                  {}
