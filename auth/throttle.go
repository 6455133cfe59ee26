package auth

import (
	"errors"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// ThrottleConfig says how many failed logins are tolerated.
type ThrottleConfig struct {
	// MaxFailures is how many failed logins from one client address, or for
	// one user name, within Window ban that address or name until the oldest
	// of them leaves the window. Required, at least 1.
	MaxFailures int
	// Window is the sliding window failures are counted in. Required.
	Window time.Duration
	// MaxTracked bounds how many addresses and names are remembered; beyond
	// it the entries with the oldest last failure are forgotten first.
	// Default 100,000.
	MaxTracked int
}

// Throttle counts failed logins per client address and per user name and
// bans those with too many, so passwords cannot be guessed at speed. It only
// knows this process's logins: with several replicas each counts its own.
// It is safe for concurrent use.
type Throttle struct {
	cfg ThrottleConfig
	now func() time.Time

	mu    sync.Mutex
	addrs map[netip.Addr]*failures
	names map[string]*failures
}

// failures are the times of the recent failures of one address or name,
// oldest first, at most MaxFailures of them.
type failures struct {
	times []time.Time
}

// NewThrottle returns a Throttle, or an error for a config out of range.
func NewThrottle(cfg ThrottleConfig) (*Throttle, error) {
	if cfg.MaxFailures < 1 || cfg.Window <= 0 {
		return nil, errors.New("throttle: MaxFailures must be at least 1 and Window positive")
	}
	if cfg.MaxTracked <= 0 {
		cfg.MaxTracked = 100_000
	}
	return &Throttle{cfg: cfg, now: time.Now, addrs: map[netip.Addr]*failures{}, names: map[string]*failures{}}, nil
}

// AddrBanned reports whether logins from addr are refused, and until when.
func (t *Throttle) AddrBanned(addr netip.Addr) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.banned(t.addrs[addr.Unmap()])
}

// NameBanned reports whether logins as name are refused, and until when.
func (t *Throttle) NameBanned(name string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.banned(t.names[name])
}

func (t *Throttle) banned(f *failures) (time.Time, bool) {
	if f == nil || len(f.times) < t.cfg.MaxFailures {
		return time.Time{}, false
	}
	until := f.times[0].Add(t.cfg.Window)
	return until, t.now().Before(until)
}

// Failed records a failed login by name from addr. It reports whether this
// failure banned the address or the name.
func (t *Throttle) Failed(addr netip.Addr, name string) (addrBanned, nameBanned bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	return record(t, t.addrs, addr.Unmap(), now), record(t, t.names, name, now)
}

// record adds a failure at now to key's entry in m and reports whether the
// entry has just reached the limit.
func record[K comparable](t *Throttle, m map[K]*failures, key K, now time.Time) bool {
	f := m[key]
	if f == nil {
		if len(m) >= t.cfg.MaxTracked {
			evict(t, m, now)
		}
		f = &failures{}
		m[key] = f
	}
	cutoff := now.Add(-t.cfg.Window)
	keep := f.times[:0]
	for _, at := range f.times {
		if at.After(cutoff) {
			keep = append(keep, at)
		}
	}
	f.times = keep
	if len(f.times) == t.cfg.MaxFailures {
		f.times = f.times[1:]
	}
	f.times = append(f.times, now)
	return len(f.times) == t.cfg.MaxFailures
}

// evict forgets the entries of m whose last failure left the window and, if
// that is not enough, a quarter of the rest, those idle longest first.
func evict[K comparable](t *Throttle, m map[K]*failures, now time.Time) {
	cutoff := now.Add(-t.cfg.Window)
	for k, f := range m {
		if len(f.times) == 0 || !f.times[len(f.times)-1].After(cutoff) {
			delete(m, k)
		}
	}
	if len(m) < t.cfg.MaxTracked {
		return
	}
	oldest := make([]time.Time, 0, len(m))
	for _, f := range m {
		oldest = append(oldest, f.times[len(f.times)-1])
	}
	slices.SortFunc(oldest, time.Time.Compare)
	limit := oldest[len(oldest)/4]
	for k, f := range m {
		if !f.times[len(f.times)-1].After(limit) {
			delete(m, k)
		}
	}
}

// Succeeded clears the failures of name after a successful login: the
// owner of the password is back. The address keeps its count, so that one
// good login cannot reset a guessing client behind the same address.
func (t *Throttle) Succeeded(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.names, name)
}
