package authtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/auth"
)

// memStore is the smallest auth.Store the suite accepts. Running the suite
// on it as well as on SQLite keeps the suite free of SQL assumptions.
type memStore struct {
	mu    sync.Mutex
	users map[string]auth.User
}

var _ auth.Store = (*memStore)(nil)

func copyUser(u auth.User) *auth.User {
	u.AllowedNetworks = slices.Clone(u.AllowedNetworks)
	return &u
}

func (s *memStore) GetUser(ctx context.Context, name string) (*auth.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[name]
	if !ok {
		return nil, fmt.Errorf("user %q: %w", name, auth.ErrNotFound)
	}
	return copyUser(u), nil
}

func (s *memStore) ListUsers(ctx context.Context, after string, limit int) ([]*auth.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*auth.User
	for name, u := range s.users {
		if name > after {
			list = append(list, copyUser(u))
		}
	}
	slices.SortFunc(list, func(a, b *auth.User) int { return strings.Compare(a.Name, b.Name) })
	if limit > 0 && len(list) > limit {
		list = list[:limit]
	}
	return list, nil
}

func (s *memStore) CountUsers(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.users), nil
}

func (s *memStore) CreateUser(ctx context.Context, u *auth.User) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[u.Name]; ok {
		return fmt.Errorf("user %q: %w", u.Name, auth.ErrExists)
	}
	u.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	u.UpdatedAt = u.CreatedAt
	s.users[u.Name] = *copyUser(*u)
	return nil
}

func (s *memStore) UpdateUser(ctx context.Context, u *auth.User) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.users[u.Name]
	if !ok {
		return fmt.Errorf("user %q: %w", u.Name, auth.ErrNotFound)
	}
	u.CreatedAt = old.CreatedAt
	u.UpdatedAt = time.Now().UTC().Truncate(time.Microsecond)
	s.users[u.Name] = *copyUser(*u)
	return nil
}

func (s *memStore) DeleteUser(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[name]; !ok {
		return fmt.Errorf("user %q: %w", name, auth.ErrNotFound)
	}
	delete(s.users, name)
	return nil
}

func (s *memStore) Ping(ctx context.Context) error { return ctx.Err() }

func (s *memStore) Close() error { return nil }

func TestMemStore(t *testing.T) {
	t.Parallel()
	TestStore(t, func(*testing.T) auth.Store { return &memStore{users: map[string]auth.User{}} })
}
