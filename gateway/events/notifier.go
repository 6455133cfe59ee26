// Package events sends the gateway's object events (upload, delete, rename)
// as signed JSON POSTs to webhook URLs, without ever making an FTP transfer
// wait: Publish only enqueues, a bounded queue drops what does not fit, and a
// fixed set of workers delivers with timeouts and bounded retries.
//
// Delivery is at least once per URL: receivers de-duplicate on Event.ID.
// Events are not ordered. The wire format is described in docs/events.md.
package events

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Notifier delivers events to the configured URLs. Its methods are safe for
// concurrent use. Build one with New and stop it with Close.
//
// Model: each (event, URL) pair is a job. A scheduler goroutine keeps one
// FIFO of ready jobs per URL and hands them round robin to Config.Workers
// worker goroutines, at most max(1, Workers/len(URLs)) to any one URL at a
// time. A worker makes one attempt (bounded by Config.Timeout) and hands the
// job back; a job to retry waits in the scheduler's timer heap, holding no
// worker and no goroutine, until its backoff ends and it joins its URL's
// FIFO again. So a failing URL costs other URLs nothing, and a hanging one
// at most its share of workers for Timeout per attempt. Memory is bounded by
// QueueSize events (each with one job per URL); goroutines by Workers + 1.
type Notifier struct {
	cfg     Config
	eps     []endpoint
	types   map[string]bool
	log     *slog.Logger
	metrics Metrics
	client  *http.Client
	ownHTTP bool // client was built here: close its idle connections at the end

	mu      sync.RWMutex // held for writing only to set closed
	closed  bool
	pending atomic.Int64 // events held: from Publish until every URL is done

	pub     chan *queued  // Publish → scheduler; never full (see Publish)
	work    chan *job     // scheduler → workers
	results chan *job     // workers → scheduler
	closing chan struct{} // closed by Close: finish what is held, then stop
	abort   chan struct{} // closed when Close's context ends: drop the rest
	abortMu sync.Once
	ctx     context.Context // of every request; cancelled on abort
	cancel  context.CancelFunc
	done    chan struct{} // closed when the scheduler and workers have stopped
	dropped int           // events dropped at shutdown; read after done
}

// queued is an accepted event with its encoded body, shared by its jobs.
type queued struct {
	ev        Event
	body      []byte
	accepted  time.Time
	remaining int  // jobs not finished yet; scheduler only
	dropped   bool // already logged and counted as dropped; scheduler only
}

// New validates cfg and starts the Notifier's goroutines: none without URLs,
// in which case Publish does nothing. It returns an error naming the bad
// setting or URL (never a URL's credentials).
func New(cfg Config) (*Notifier, error) {
	ownHTTP := cfg.HTTP == nil
	cfg, eps, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	n := &Notifier{
		cfg:     cfg,
		eps:     eps,
		types:   make(map[string]bool),
		log:     cfg.Logger.With("component", "events"),
		metrics: cfg.Metrics,
		client:  cfg.HTTP,
		ownHTTP: ownHTTP,
		done:    make(chan struct{}),
	}
	for _, t := range cfg.Types {
		n.types[t] = true
	}
	if len(eps) == 0 {
		close(n.done)
		return n, nil
	}
	n.pub = make(chan *queued, cfg.QueueSize)
	n.work = make(chan *job)
	n.results = make(chan *job)
	n.closing = make(chan struct{})
	n.abort = make(chan struct{})
	n.ctx, n.cancel = context.WithCancel(context.Background())
	var workers sync.WaitGroup
	for range cfg.Workers {
		workers.Go(n.worker)
	}
	go func() {
		n.schedule()
		close(n.work)
		workers.Wait()
		n.cancel()
		if n.ownHTTP {
			n.client.CloseIdleConnections()
		}
		close(n.done)
	}()
	return n, nil
}

// Publish queues e for delivery to every URL and returns at once: it never
// blocks on the network or the queue. An event whose type is not selected
// (Config.Types), or any event when there are no URLs or n is nil, is
// ignored. When QueueSize events are already held, or after Close, e is
// dropped: logged (Warn, with its id, type and key) and counted. Publish
// fills in e.ID and e.Time when empty.
func (n *Notifier) Publish(e Event) {
	if n == nil || len(n.eps) == 0 || !n.types[e.Type] {
		return
	}
	if e.ID == "" {
		e.ID = newID()
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	body, err := json.Marshal(e)
	if err != nil {
		n.log.Error("event not sent: cannot encode", "id", e.ID, "type", e.Type, "key", e.Key, "err", err)
		return
	}
	q := &queued{ev: e, body: body, accepted: time.Now(), remaining: len(n.eps)}
	if reason := n.enqueue(q); reason != "" {
		n.log.Warn("event dropped", "id", e.ID, "type", e.Type, "key", e.Key, "reason", reason)
		n.metrics.EventDropped(e.Type, reason)
		return
	}
	n.metrics.EventQueued(e.Type)
}

// enqueue hands q to the scheduler, or returns why it cannot.
func (n *Notifier) enqueue(q *queued) (dropReason string) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.closed {
		return DropClosed
	}
	if n.pending.Add(1) > int64(n.cfg.QueueSize) {
		n.pending.Add(-1)
		return DropQueueFull
	}
	select {
	case n.pub <- q: // pub holds QueueSize and pending counts what it holds: never full
		return ""
	default:
		n.pending.Add(-1)
		return DropQueueFull
	}
}

// Pending returns how many events n holds: queued, being sent or waiting
// for a retry. It is at most Config.QueueSize; for a queue-length gauge.
func (n *Notifier) Pending() int {
	if n == nil {
		return 0
	}
	return int(n.pending.Load())
}

// Close stops accepting events (Publish drops them from now on), lets the
// workers deliver what is held, retries included, and returns nil when all
// is done. If ctx ends first, requests in flight are cancelled and every
// event not yet delivered to all URLs is dropped (logged and counted); Close
// then returns an error wrapping ctx's error. Either way, all goroutines
// have ended when Close returns. Close may be called again (or at once from
// several goroutines); only a call whose ctx ended returns that error.
func (n *Notifier) Close(ctx context.Context) error {
	if n == nil || len(n.eps) == 0 {
		return nil
	}
	n.mu.Lock()
	first := !n.closed
	n.closed = true
	n.mu.Unlock()
	if first {
		close(n.closing)
	}
	select {
	case <-n.done:
		return nil
	case <-ctx.Done():
	}
	n.abortMu.Do(func() { close(n.abort) })
	<-n.done // bounded: requests are cancelled, nothing waits on a timer
	if n.dropped > 0 {
		return fmt.Errorf("events: %d events not delivered at shutdown: %w", n.dropped, ctx.Err())
	}
	return nil
}
