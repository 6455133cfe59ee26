package storage

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// What a session remembers of the directories it has seen: few and briefly,
// so that another session's change is noticed soon. dirMemoryNames bounds
// the paths and listed names kept per session.
const (
	dirMemoryNames = 4096
	dirMemoryTTL   = time.Minute
)

// dirMemory is one session's short-lived, bounded memory of directories:
// paths known not to be files (parents it checked), directories it created,
// entered or found, and, for some of them, the names of what they held when
// it listed or created them. It spares the S3 requests of a camera's
// MKD/CWD chain, so that each picture costs one PutObject. What other
// sessions change is seen once the memory of it expires (dirMemoryTTL after
// it was learned). It is safe for concurrent use; the zero value is empty.
type dirMemory struct {
	mu      sync.Mutex
	entries map[string]*dirEntry // clean FTP path → what is known of it
	names   int                  // entries plus listed names, bounded by dirMemoryNames
}

// dirEntry is what a session knows of one path until it expires.
type dirEntry struct {
	until  time.Time
	dir    bool      // a directory exists there; false: only known not to be a file
	absent bool      // nothing is there (a CWD found nothing)
	mod    time.Time // the directory's date, zero when unknown
	// children, when not nil, are the names the directory held (true for
	// directories), all of them.
	children map[string]bool
}

// get returns p's entry if it is still valid. m.mu must be held.
func (m *dirMemory) get(p string) *dirEntry {
	e := m.entries[p]
	if e == nil || !time.Now().Before(e.until) {
		return nil
	}
	return e
}

// put records e for p, making room for it. m.mu must be held.
func (m *dirMemory) put(p string, e *dirEntry) {
	if m.entries == nil {
		m.entries = make(map[string]*dirEntry)
	}
	m.drop(p)
	cost := 1 + len(e.children)
	if cost > dirMemoryNames {
		e.children = nil
		cost = 1
	}
	m.evict(cost)
	m.entries[p] = e
	m.names += cost
}

// drop forgets p's own entry. m.mu must be held.
func (m *dirMemory) drop(p string) {
	if e, ok := m.entries[p]; ok {
		m.names -= 1 + len(e.children)
		delete(m.entries, p)
	}
}

// evict makes room for cost more names: the expired entries go first, then
// any. m.mu must be held.
func (m *dirMemory) evict(cost int) {
	if m.names+cost <= dirMemoryNames {
		return
	}
	now := time.Now()
	for p, e := range m.entries {
		if !now.Before(e.until) {
			m.drop(p)
		}
	}
	for p := range m.entries {
		if m.names+cost <= dirMemoryNames {
			return
		}
		m.drop(p)
	}
}

// remember records that the paths (clean FTP paths) are not files, keeping
// what is known of those remembered as directories (but not that nothing
// is there: something may be now).
func (m *dirMemory) remember(paths ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range paths {
		if e := m.get(p); e == nil || e.absent {
			m.put(p, &dirEntry{until: time.Now().Add(dirMemoryTTL)})
		}
	}
}

// rememberAbsent records that nothing is at p.
func (m *dirMemory) rememberAbsent(p string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.put(p, &dirEntry{until: time.Now().Add(dirMemoryTTL), absent: true})
}

// rememberDir records that a directory is at p, with date mod (zero:
// unknown) and, when not nil, all the names it holds.
func (m *dirMemory) rememberDir(p string, mod time.Time, children map[string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.put(p, &dirEntry{until: time.Now().Add(dirMemoryTTL), dir: true, mod: mod, children: children})
}

// known reports whether p is remembered, and still valid, as not a file.
func (m *dirMemory) known(p string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.get(p) != nil
}

// dir returns the directory remembered at p.
func (m *dirMemory) dir(p string) (fileInfo, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.get(p); e != nil && e.dir {
		return newDirInfo(p, e.mod), true
	}
	return fileInfo{}, false
}

// absent reports whether nothing is remembered to be at p.
func (m *dirMemory) absent(p string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.get(p)
	return e != nil && e.absent
}

// child reports whether something is at p, and whether it is a directory,
// when the listing of p's directory is remembered (known); known is false
// otherwise.
func (m *dirMemory) child(p string) (exists, dir, known bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.get(path.Dir(p))
	if e == nil || e.children == nil {
		return false, false, false
	}
	dir, exists = e.children[path.Base(p)]
	return exists, dir, true
}

// added records that the session stored a file (dir false) or created a
// directory at p: the directories above it exist, a remembered listing of
// its directory names it, and a new directory is empty.
func (m *dirMemory) added(p string, dir bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if dir {
		m.drop(p)
		m.put(p, &dirEntry{until: now.Add(dirMemoryTTL), dir: true, mod: now, children: map[string]bool{}})
	}
	for child, d := p, path.Dir(p); child != "/"; child, d = d, path.Dir(d) {
		e := m.get(d)
		if e != nil && e.absent {
			m.drop(d)
			e = nil
		}
		switch {
		case e == nil:
			m.put(d, &dirEntry{until: now.Add(dirMemoryTTL), dir: true})
		case e.children != nil:
			if _, ok := e.children[path.Base(child)]; !ok && m.names >= dirMemoryNames {
				m.names -= len(e.children) // full: forget the listing rather than grow
				e.children = nil
			} else if !ok {
				e.children[path.Base(child)] = dir || child != p
				m.names++
			}
			e.dir = true
		default:
			e.dir = true
		}
	}
}

// forget drops p, every path under it, the listing of its directory and
// what says nothing is above it: the session removed or moved what was
// there, or moved something there.
func (m *dirMemory) forget(p string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.forgetTree(p)
	if e := m.entries[path.Dir(p)]; e != nil && p != "/" {
		m.names -= len(e.children)
		e.children = nil
	}
	for d := path.Dir(p); d != "/"; d = path.Dir(d) {
		if e := m.entries[d]; e != nil && e.absent {
			m.drop(d)
		}
	}
}

// replaced drops p and every path under it, keeping the listing of its
// directory: the session is putting a file at p, which added records once
// it is stored.
func (m *dirMemory) replaced(p string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.forgetTree(p)
}

// forgetTree drops p and every path under it; m.mu is held.
func (m *dirMemory) forgetTree(p string) {
	for q := range m.entries {
		if q == p || strings.HasPrefix(q, p+"/") {
			m.drop(q)
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

// findDir returns fs.ErrExist if a file or a directory is at name (listing
// prefix prefix, its key without the slash), nil if nothing is: one listing
// of the directory's first page, remembered with its names, then, only if
// it is empty, a HeadObject.
func (f *Fs) findDir(ctx context.Context, name, prefix string) error {
	lctx, cancel := f.request(ctx)
	out, err := f.svc.api.ListObjectsV2(lctx, &s3.ListObjectsV2Input{
		Bucket: &f.bucket, Prefix: &prefix, Delimiter: aws.String("/"), MaxKeys: aws.Int32(f.svc.set.ListPageSize),
	})
	cancel()
	if err != nil {
		return s3Error(err)
	}
	if len(out.Contents) > 0 || len(out.CommonPrefixes) > 0 {
		var mod time.Time
		var children map[string]bool
		if !aws.ToBool(out.IsTruncated) {
			children = map[string]bool{}
		}
		for _, o := range out.Contents {
			rel := strings.TrimPrefix(aws.ToString(o.Key), prefix)
			switch {
			case rel == "":
				mod = aws.ToTime(o.LastModified)
			case children != nil:
				children[strings.TrimSuffix(rel, "/")] = strings.HasSuffix(rel, "/")
			}
		}
		for _, cp := range out.CommonPrefixes {
			if children != nil {
				children[strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), prefix), "/")] = true
			}
		}
		f.dirs.rememberDir(clean(name), mod, children)
		return fs.ErrExist
	}
	switch _, err := f.headFile(ctx, name, strings.TrimSuffix(prefix, "/")); {
	case err == nil:
		return fs.ErrExist
	case errors.Is(err, fs.ErrNotExist):
		return nil
	default:
		return err
	}
}
