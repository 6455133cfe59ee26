package embedded

import (
	"errors"
	"testing"
)

func TestDirectoryLock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := NewBackend(dir, discardLogger(), BackendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewBackend(dir, discardLogger(), BackendOptions{}); !errors.Is(err, ErrInUse) {
		t.Fatalf("second NewBackend: %v, want ErrInUse", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := NewBackend(dir, discardLogger(), BackendOptions{})
	if err != nil {
		t.Fatalf("NewBackend after Close: %v", err)
	}
	_ = again.Close()
}
