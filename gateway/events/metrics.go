package events

import "time"

// Reasons an event is dropped, as passed to Metrics.EventDropped and logged.
const (
	DropQueueFull = "queue_full" // Publish found QueueSize events held
	DropClosed    = "closed"     // Publish was called after Close
	DropShutdown  = "shutdown"   // Close's context ended before delivery
)

// Metrics is told what the Notifier does; the gateway's Prometheus metrics
// implement it. Methods are called from several goroutines at once and must
// not block. url is always the redacted form (no credentials, no query).
// The number of events held, for a gauge, is Notifier.Pending.
type Metrics interface {
	// EventQueued: Publish accepted an event of type eventType.
	EventQueued(eventType string)
	// EventDropped: an event of type eventType will not be (fully)
	// delivered, for reason DropQueueFull, DropClosed or DropShutdown.
	EventDropped(eventType, reason string)
	// EventDelivered: url answered 2xx after attempts tries, d after Publish.
	EventDelivered(url string, attempts int, d time.Duration)
	// EventFailed: an event was given up for url; permanent means the
	// receiver refused it (4xx, 3xx), otherwise attempts ran out.
	EventFailed(url string, permanent bool)
}

// nopMetrics is the Metrics of a Config without one.
type nopMetrics struct{}

var _ Metrics = nopMetrics{}

func (nopMetrics) EventQueued(string)                        {}
func (nopMetrics) EventDropped(string, string)               {}
func (nopMetrics) EventDelivered(string, int, time.Duration) {}
func (nopMetrics) EventFailed(string, bool)                  {}
