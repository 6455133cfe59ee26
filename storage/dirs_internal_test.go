package storage

import (
	"fmt"
	"testing"
	"time"
)

// TestDirMemory: what a session remembers answers MKD and CWD, follows the
// session's own changes, expires, and stays within dirMemoryNames names.
func TestDirMemory(t *testing.T) {
	var m dirMemory
	m.rememberDir("/cam", time.Time{}, map[string]bool{"2026-12-01": true, "old.jpg": false})
	for _, c := range []struct {
		path          string
		exists, known bool
	}{
		{"/cam/2026-12-01", true, true},
		{"/cam/old.jpg", true, true},
		{"/cam/2026-12-02", false, true},
		{"/other/x", false, false},
	} {
		if exists, _, known := m.child(c.path); exists != c.exists || known != c.known {
			t.Errorf("child(%s) = %v, %v; want %v, %v", c.path, exists, known, c.exists, c.known)
		}
	}

	m.added("/cam/2026-12-02", true)
	if _, ok := m.dir("/cam/2026-12-02"); !ok {
		t.Error("a directory made is not known")
	}
	if exists, dir, _ := m.child("/cam/2026-12-02"); !exists || !dir {
		t.Error("a directory made is not in its parent's listing")
	}
	m.added("/cam/2026-12-02/a.jpg", false)
	if exists, dir, known := m.child("/cam/2026-12-02/a.jpg"); !exists || dir || !known {
		t.Error("a file stored is not in its new directory's listing")
	}
	if _, ok := m.dir("/cam/2026-12-02/a.jpg"); ok {
		t.Error("a file stored is known as a directory")
	}

	m.forget("/cam/2026-12-02")
	if _, ok := m.dir("/cam/2026-12-02"); ok {
		t.Error("a removed directory is still known")
	}
	if _, _, known := m.child("/cam/2026-12-03"); known {
		t.Error("the listing of a removed directory's parent is still trusted")
	}

	m.entries["/cam"].until = time.Now().Add(-time.Second)
	if _, ok := m.dir("/cam"); ok {
		t.Error("an expired directory is still known")
	}

	for i := range 3 {
		children := map[string]bool{}
		for j := range dirMemoryNames / 2 {
			children[fmt.Sprint(j)] = false
		}
		m.rememberDir(fmt.Sprint("/big", i), time.Time{}, children)
		for j := range dirMemoryNames {
			m.added(fmt.Sprintf("/big%d/new-%d", i, j), false)
		}
	}
	if m.names > dirMemoryNames {
		t.Errorf("%d names remembered, want at most %d", m.names, dirMemoryNames)
	}
	total := 0
	for _, e := range m.entries {
		total += 1 + len(e.children)
	}
	if total != m.names {
		t.Errorf("%d names counted, %d remembered", m.names, total)
	}
}

// TestDirMemoryAbsent: where a CWD found nothing is remembered as absent
// until something is put there or under it, or the path is seen as a
// directory.
func TestDirMemoryAbsent(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(m *dirMemory)
		absent bool
		dir    bool // known as a directory
	}{
		{"remembered", func(*dirMemory) {}, true, false},
		{"a file stored under it", func(m *dirMemory) { m.added("/cam/new/a.jpg", false) }, false, true},
		{"made", func(m *dirMemory) { m.added("/cam/new", true) }, false, true},
		{"a file going there", func(m *dirMemory) { m.replaced("/cam/new") }, false, false},
		{"listed", func(m *dirMemory) { m.remember("/cam/new") }, false, false},
		{"removed", func(m *dirMemory) { m.forget("/cam/new") }, false, false},
		{"something moved under it", func(m *dirMemory) { m.forget("/cam/new/x.jpg") }, false, false},
		{"expired", func(m *dirMemory) { m.entries["/cam/new"].until = time.Now() }, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var m dirMemory
			m.rememberAbsent("/cam/new")
			c.change(&m)
			if got := m.absent("/cam/new"); got != c.absent {
				t.Errorf("absent = %v, want %v", got, c.absent)
			}
			if _, ok := m.dir("/cam/new"); ok != c.dir {
				t.Errorf("known as a directory = %v, want %v", ok, c.dir)
			}
		})
	}
}
