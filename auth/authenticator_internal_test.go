package auth

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// emptyStore knows no users; its other methods are not called.
type emptyStore struct{ Store }

func (emptyStore) GetUser(context.Context, string) (*User, error) { return nil, ErrNotFound }

func TestAuthenticatorConfigDefaults(t *testing.T) {
	t.Parallel()
	logger := slog.New(slog.DiscardHandler)
	tests := []struct {
		name     string
		in       AuthenticatorConfig
		wantMax  int
		keepsLog bool
	}{
		{"zero", AuthenticatorConfig{}, runtime.NumCPU(), false},
		{"negative", AuthenticatorConfig{MaxConcurrentHashes: -3}, runtime.NumCPU(), false},
		{"set", AuthenticatorConfig{MaxConcurrentHashes: 3, Logger: logger}, 3, true},
	}
	for _, tt := range tests {
		got := tt.in.withDefaults()
		if got.MaxConcurrentHashes != tt.wantMax {
			t.Errorf("%s: MaxConcurrentHashes = %d, want %d", tt.name, got.MaxConcurrentHashes, tt.wantMax)
		}
		if got.Logger == nil || (got.Logger == logger) != tt.keepsLog {
			t.Errorf("%s: Logger = %v", tt.name, got.Logger)
		}
	}
}

// TestAuthenticateWaitsForHashSlot checks that a login waits while every
// hashing slot is taken, and gives up with ctx's error, not ErrDenied.
func TestAuthenticateWaitsForHashSlot(t *testing.T) {
	t.Parallel()
	h, err := bcrypt.GenerateFromPassword([]byte("pw-demo-7"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAuthenticator(emptyStore{}, AuthenticatorConfig{
		Static:              []*User{{Name: "demo", PasswordHash: string(h), Bucket: "bucket"}},
		MaxConcurrentHashes: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if cap(a.hashes) != 1 {
		t.Fatalf("%d hashing slots, want 1", cap(a.hashes))
	}
	addr := netip.MustParseAddr("192.0.2.1")
	a.hashes <- struct{}{} // another login is hashing
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err = a.Authenticate(ctx, "demo", "pw-demo-7", addr)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrDenied) {
		t.Fatalf("Authenticate with no free slot = %v, want DeadlineExceeded", err)
	}
	<-a.hashes
	if _, err := a.Authenticate(t.Context(), "demo", "pw-demo-7", addr); err != nil {
		t.Fatalf("Authenticate once the slot is free: %v", err)
	}
	if len(a.hashes) != 0 {
		t.Errorf("%d hashing slots still taken after the login", len(a.hashes))
	}
}
