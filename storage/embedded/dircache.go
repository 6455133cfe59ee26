package embedded

import (
	"io/fs"
	"os"
	"sync"
	"time"
)

// dirCache keeps the sorted entries of the large directories listed
// recently, so that a listing read in pages (ListObjectsV2 with MaxKeys
// and a continuation token) reads its directory once rather than once per
// page. An entry is used only while the directory is the same one (device
// and inode) with the same modification time, which every create, delete
// or rename of an entry in it changes; and it is kept only if that time
// was at least racyWindow before the directory was read (as git does with
// its index), so that a change within the same tick of the file system's
// clock cannot go unnoticed.
type dirCache struct {
	mu      sync.Mutex
	dirs    map[string]cachedDir
	order   []string // oldest first
	entries int      // in dirs
	reads   int      // directories read from disk, for tests
}

// cachedDir is one directory's sorted entries and its stat when read.
type cachedDir struct {
	info    fs.FileInfo
	entries []dirEntry
}

// Bounds of the cache: a directory is cached if it has at least
// minCachedEntries entries (smaller ones are cheap to read), and the
// cache holds at most maxCachedEntries entries (about 64 bytes each).
const (
	minCachedEntries = 256
	maxCachedEntries = 256 << 10
	racyWindow       = time.Second
)

// readDirSorted returns the files and directories in the directory dir in
// the byte order of the keys they hold (see compareEntries), from the
// cache when the directory has not changed. The slice must not be
// modified. A directory that does not exist (deleted meanwhile) is empty.
func readDirSorted(b *Backend, dir string) ([]dirEntry, error) {
	c := &b.dirs
	info, err := b.root.Stat(dir)
	if err == nil {
		c.mu.Lock()
		cached, ok := c.dirs[dir]
		c.mu.Unlock()
		if ok && os.SameFile(cached.info, info) && cached.info.ModTime().Equal(info.ModTime()) {
			return cached.entries, nil
		}
	}
	start := time.Now()
	entries, err := readDirFromDisk(b, dir)
	if err != nil || info == nil || len(entries) < minCachedEntries || len(entries) > maxCachedEntries ||
		start.Sub(info.ModTime()) < racyWindow {
		c.count()
		return entries, err
	}
	c.put(dir, cachedDir{info: info, entries: entries})
	return entries, nil
}

// count records a directory read from disk.
func (c *dirCache) count() {
	c.mu.Lock()
	c.reads++
	c.mu.Unlock()
}

// put caches d for dir, dropping the oldest directories beyond the bound.
func (c *dirCache) put(dir string, d cachedDir) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	if c.dirs == nil {
		c.dirs = map[string]cachedDir{}
	}
	if old, ok := c.dirs[dir]; ok {
		c.entries -= len(old.entries)
	} else {
		c.order = append(c.order, dir)
	}
	c.dirs[dir] = d
	c.entries += len(d.entries)
	for c.entries > maxCachedEntries && len(c.order) > 0 {
		oldest := c.order[0]
		c.order = c.order[1:]
		c.entries -= len(c.dirs[oldest].entries)
		delete(c.dirs, oldest)
	}
}
