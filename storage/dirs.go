package storage

import (
	"errors"
	"io/fs"
	"strings"
	"sync"
	"time"
)

// What a session remembers of the directories it has seen: few and briefly,
// so that another session's change is noticed soon.
const (
	dirMemorySize = 256
	dirMemoryTTL  = time.Minute
)

// dirMemory is one session's short-lived, bounded memory of paths known not
// to be files (directories it created, listed or stat'ed, and parents it
// checked), so that a camera's repeated uploads into one directory cost one
// PutObject each. It is safe for concurrent use; the zero value is empty.
type dirMemory struct {
	mu    sync.Mutex
	until map[string]time.Time // clean FTP path → end of validity
}

// remember records that the paths (clean FTP paths) are not files.
func (m *dirMemory) remember(paths ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if m.until == nil {
		m.until = make(map[string]time.Time)
	}
	for _, p := range paths {
		if len(m.until) >= dirMemorySize {
			m.evict(now)
		}
		m.until[p] = now.Add(dirMemoryTTL)
	}
}

// evict drops the expired entries, or any one entry when none has expired.
// m.mu must be held.
func (m *dirMemory) evict(now time.Time) {
	n := len(m.until)
	for p, t := range m.until {
		if now.After(t) {
			delete(m.until, p)
		}
	}
	if len(m.until) < n {
		return
	}
	for p := range m.until {
		delete(m.until, p)
		return
	}
}

// known reports whether p is remembered, and still valid, as not a file.
func (m *dirMemory) known(p string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.until[p]
	return ok && time.Now().Before(t)
}

// forget drops p and every path under it: the session removed or moved
// that directory, or put a file there.
func (m *dirMemory) forget(p string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for q := range m.until {
		if q == p || strings.HasPrefix(q, p+"/") {
			delete(m.until, q)
		}
	}
}

// checkParent returns ErrNotDir if a file is where a directory above name
// would be: S3 would store "x.jpg/y.jpg" beside the file "x.jpg" (a key no
// CWD reaches), file-backed servers refuse it with a conflict. Each
// directory not remembered costs one HeadObject, once per session and
// dirMemoryTTL; a missing directory is fine (S3 directories are implied by
// their keys).
func (f *Fs) checkParent(name string) error {
	var checked []string
	for dir := dirOf(name); !isRoot(dir) && !f.dirs.known(dir); dir = dirOf(dir) {
		key, err := f.jail.key(dir)
		if err != nil {
			return err
		}
		switch _, err := f.headFile(f.ctx, dir, key); {
		case err == nil:
			return ErrNotDir
		case !errors.Is(err, fs.ErrNotExist):
			return err
		}
		checked = append(checked, dir)
	}
	f.dirs.remember(checked...)
	return nil
}
