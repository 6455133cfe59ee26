package console

import (
	"crypto/rand"
	"crypto/subtle"
	"sync"
	"time"
)

// session is a signed-in administrator.
type session struct {
	id       string
	csrf     string // the CSRF token of every form of this session
	readOnly bool   // signed in with a read-only token: may look, not change
	expires  time.Time
}

// sessions are the console's sessions, in memory: a restart or another
// replica signs everyone out. At most max are kept; the oldest go first.
type sessions struct {
	mu  sync.Mutex
	m   map[string]*session
	ttl time.Duration
	max int
}

func newSessions(ttl time.Duration, max int) *sessions {
	return &sessions{m: map[string]*session{}, ttl: ttl, max: max}
}

// create starts a session.
func (s *sessions) create(readOnly bool) *session {
	now := time.Now()
	sess := &session{id: rand.Text(), csrf: rand.Text(), readOnly: readOnly, expires: now.Add(s.ttl)}
	s.mu.Lock()
	defer s.mu.Unlock()
	var oldest *session
	for id, o := range s.m {
		if now.After(o.expires) {
			delete(s.m, id)
		} else if oldest == nil || o.expires.Before(oldest.expires) {
			oldest = o
		}
	}
	if len(s.m) >= s.max && oldest != nil {
		delete(s.m, oldest.id)
	}
	s.m[sess.id] = sess
	return sess
}

// get returns the live session id, or nil.
func (s *sessions) get(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.m[id]
	if sess == nil {
		return nil
	}
	if time.Now().After(sess.expires) {
		delete(s.m, id)
		return nil
	}
	return sess
}

// end signs the session id out.
func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

// equal compares two secrets in constant time; an empty one matches nothing.
func equal(a, b string) bool {
	return a != "" && b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
