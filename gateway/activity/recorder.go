// Package activity records what each user's devices do (logins, uploads,
// failures) into the user store, off the transfer path, and watches for
// silent devices: users past their upload expectation.
//
// The Recorder is write-behind: the gateway's hooks only enqueue into a
// bounded channel (dropping and counting what does not fit), and one
// goroutine merges what arrives per user and writes it in batches. A crash
// loses at most the last batch; an upload never waits for the store.
package activity

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/gateway"
)

// Writer is where a Recorder writes (auth.ActivityStore).
type Writer interface {
	RecordActivity(ctx context.Context, updates []auth.ActivityUpdate) error
}

// Config configures a Recorder. Zero values take the defaults.
type Config struct {
	QueueSize     int           // records waiting to be merged; default 4096
	FlushInterval time.Duration // how often a batch is written; default 1s
	MaxBatch      int           // users per batch: more flushes at once; default 256
	Timeout       time.Duration // bound of one batch write; default 10s
	Logger        *slog.Logger  // default: discard
}

func (c Config) withDefaults() Config {
	if c.QueueSize <= 0 {
		c.QueueSize = 4096
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = time.Second
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 256
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// record is one thing that happened, as the hooks enqueue it.
type record struct {
	user    string
	at      time.Time
	login   bool
	addr    netip.Addr
	upload  bool
	path    string
	size    int64
	failure string
}

// Recorder is a gateway.ActivityRecorder writing to a Writer in batches.
// Build it with New and stop it with Close.
type Recorder struct {
	cfg     Config
	w       Writer
	log     *slog.Logger
	queue   chan record
	dropped atomic.Int64
	failed  atomic.Int64

	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
}

var _ gateway.ActivityRecorder = (*Recorder)(nil)

// New starts a Recorder writing to w.
func New(w Writer, cfg Config) (*Recorder, error) {
	if w == nil {
		return nil, errors.New("activity: a Writer is required")
	}
	cfg = cfg.withDefaults()
	r := &Recorder{
		cfg: cfg, w: w, log: cfg.Logger.With("component", "activity"),
		queue: make(chan record, cfg.QueueSize),
		stop:  make(chan struct{}), done: make(chan struct{}),
	}
	go r.run()
	return r, nil
}

// Login enqueues a login; see gateway.ActivityRecorder.
func (r *Recorder) Login(user string, addr netip.Addr, at time.Time) {
	r.enqueue(record{user: user, at: at, login: true, addr: addr.Unmap()})
}

// Upload enqueues an upload; see gateway.ActivityRecorder.
func (r *Recorder) Upload(user, path string, size int64, at time.Time) {
	r.enqueue(record{user: user, at: at, upload: true, path: clean(path), size: size})
}

// Failure enqueues a failure; see gateway.ActivityRecorder.
func (r *Recorder) Failure(user, message string, at time.Time) {
	r.enqueue(record{user: user, at: at, failure: clean(message)})
}

// enqueue never blocks: a full queue drops the record and counts it.
func (r *Recorder) enqueue(rec record) {
	if rec.user == "" {
		return
	}
	rec.at = rec.at.UTC()
	select {
	case r.queue <- rec:
	default:
		r.dropped.Add(1)
	}
}

// Dropped returns how many records did not fit in the queue, and
// FailedBatches how many batch writes the store refused; both are lost.
func (r *Recorder) Dropped() int64       { return r.dropped.Load() }
func (r *Recorder) FailedBatches() int64 { return r.failed.Load() }

// maxText bounds a stored path or message, in bytes.
const maxText = 1024

// clean makes s storable in any SQL text column: valid UTF-8 without NUL,
// at most maxText bytes.
func clean(s string) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	for len(s) > maxText {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	return s
}

// run merges records per user and writes a batch every FlushInterval, or
// as soon as MaxBatch users are pending; at Close it writes what is left.
func (r *Recorder) run() {
	defer close(r.done)
	tick := time.NewTicker(r.cfg.FlushInterval)
	defer tick.Stop()
	pending := map[string]*auth.ActivityUpdate{}
	for {
		select {
		case rec := <-r.queue:
			merge(pending, rec)
			if len(pending) >= r.cfg.MaxBatch {
				r.flush(pending)
			}
		case <-tick.C:
			r.flush(pending)
		case <-r.stop:
			for {
				select {
				case rec := <-r.queue:
					merge(pending, rec)
				default:
					r.flush(pending)
					return
				}
			}
		}
	}
}

// merge adds rec to the pending update of its user. Only the newest
// login and failure are kept, and the newest auth.RecentUploads uploads,
// but every upload is counted.
func merge(pending map[string]*auth.ActivityUpdate, rec record) {
	up := pending[rec.user]
	if up == nil {
		up = &auth.ActivityUpdate{Name: rec.user}
		pending[rec.user] = up
	}
	switch {
	case rec.login:
		if up.Login == nil || !rec.at.Before(up.Login.Time) {
			up.Login = &auth.Login{Time: rec.at, Addr: rec.addr}
		}
	case rec.upload:
		up.UploadCount++
		up.UploadBytes += rec.size
		up.Uploads = append(up.Uploads, auth.Upload{Time: rec.at, Path: rec.path, Size: rec.size})
		if len(up.Uploads) > auth.RecentUploads {
			up.Uploads = append(up.Uploads[:0], up.Uploads[len(up.Uploads)-auth.RecentUploads:]...)
		}
	default:
		if up.Error == nil || !rec.at.Before(up.Error.Time) {
			up.Error = &auth.Failure{Time: rec.at, Message: rec.failure}
		}
	}
}

// flush writes the pending updates in one batch and empties pending. A
// failed write is logged and counted; its updates are lost.
func (r *Recorder) flush(pending map[string]*auth.ActivityUpdate) {
	if len(pending) == 0 {
		return
	}
	batch := make([]auth.ActivityUpdate, 0, len(pending))
	for name, up := range pending {
		batch = append(batch, *up)
		delete(pending, name)
	}
	// In name order: gateways writing batches at once lock the same rows
	// in the same order, so their transactions cannot deadlock.
	slices.SortFunc(batch, func(a, b auth.ActivityUpdate) int { return strings.Compare(a.Name, b.Name) })
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.Timeout)
	defer cancel()
	if err := r.w.RecordActivity(ctx, batch); err != nil {
		r.failed.Add(1)
		r.log.Warn("activity not recorded", "users", len(batch), "err", err)
	}
}

// Close writes what is pending and stops the Recorder. Records enqueued
// after Close are dropped. ctx bounds the wait; it returns ctx's error if
// it ends first (the last batch is then still being written).
func (r *Recorder) Close(ctx context.Context) error {
	r.closeOnce.Do(func() { close(r.stop) })
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
