// Package metrics is the gateway's Prometheus instrumentation: one registry
// (not the global one) holding the FTP, S3 and webhook metrics, fed through
// the hooks of gateway.Observer, storage.RequestObserver and events.Metrics,
// and served by Handler.
package metrics

import (
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/s3ftp/s3ftp/gateway"
	"github.com/s3ftp/s3ftp/gateway/events"
	"github.com/s3ftp/s3ftp/storage"
)

var (
	_ gateway.Observer        = (*Metrics)(nil)
	_ storage.RequestObserver = (*Metrics)(nil)
	_ events.Metrics          = (*Metrics)(nil)
)

// Metrics holds the gateway's collectors. It is safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	sessionsActive prometheus.Gauge
	sessionsTotal  prometheus.Counter
	refused        *prometheus.CounterVec
	logins         *prometheus.CounterVec
	transfers      *prometheus.CounterVec
	bytes          *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	passivePorts   prometheus.Gauge
	passiveRefused *prometheus.CounterVec
	relays         *prometheus.CounterVec
	relayBytes     *prometheus.CounterVec

	s3Duration *prometheus.HistogramVec
	s3Errors   *prometheus.CounterVec

	eventsQueued    *prometheus.CounterVec
	eventsDropped   *prometheus.CounterVec
	eventsDelivered *prometheus.CounterVec
	eventsFailed    *prometheus.CounterVec

	silent      *prometheus.GaugeVec
	silentCount prometheus.Gauge
}

// New returns the metrics of a gateway of the given version, with the Go
// runtime and process collectors and s3ftp_build_info registered.
func New(version string) *Metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{
		reg: reg,
		sessionsActive: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "s3ftp_sessions_active", Help: "FTP control connections open now.",
		}),
		sessionsTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "s3ftp_sessions_total", Help: "FTP control connections accepted.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "s3ftp_connections_refused_total", Help: "Control connections turned away before the banner, by reason.",
		}, []string{"reason"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "s3ftp_logins_total", Help: "Login attempts, by result (ok, denied, error).",
		}, []string{"result"}),
		transfers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "s3ftp_transfers_total", Help: "Finished transfers, by operation (upload, download) and result (ok, aborted, failed).",
		}, []string{"op", "result"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "s3ftp_transfer_bytes_total", Help: "Bytes transferred, by direction (up: from clients, down: to clients).",
		}, []string{"direction"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "s3ftp_transfer_duration_seconds", Help: "Duration of finished transfers, by operation.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10), // 10 ms to ~43 min
		}, []string{"op"}),
		passivePorts: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "s3ftp_passive_ports_in_use", Help: "Passive data listeners open now.",
		}),
		passiveRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "s3ftp_passive_refused_total", Help: "PASV/EPSV answered 421 for lack of a passive port, and data connections refused, by reason.",
		}, []string{"reason"}),
		relays: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "s3ftp_relay_connections_total", Help: "Data connections relayed to the replica that owns their passive port, by that replica's index and result (ok, error).",
		}, []string{"peer", "result"}),
		relayBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "s3ftp_relay_bytes_total", Help: "Bytes relayed to other replicas, by replica index and direction (up: client to replica, down: back).",
		}, []string{"peer", "direction"}),
		s3Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "s3ftp_s3_request_duration_seconds", Help: "Duration of S3 operations (retries included), by operation.",
			Buckets: prometheus.ExponentialBuckets(0.002, 3, 10), // 2 ms to ~40 s
		}, []string{"operation"}),
		s3Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "s3ftp_s3_request_errors_total", Help: "Failed S3 operations, by operation and error code.",
		}, []string{"operation", "code"}),
		eventsQueued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "s3ftp_events_queued_total", Help: "Webhook events accepted for delivery, by type.",
		}, []string{"type"}),
		eventsDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "s3ftp_events_dropped_total", Help: "Webhook events not delivered, by type and reason (queue_full, closed, shutdown).",
		}, []string{"type", "reason"}),
		eventsDelivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "s3ftp_events_delivered_total", Help: "Webhook deliveries answered 2xx, by URL (redacted).",
		}, []string{"url"}),
		eventsFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "s3ftp_events_failed_total", Help: "Webhook deliveries given up, by URL (redacted) and whether the receiver refused them.",
		}, []string{"url", "permanent"}),
		silent: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "s3ftp_user_silent", Help: "1 for each user past its expect_upload_every without an upload (absent otherwise).",
		}, []string{"user"}),
		silentCount: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "s3ftp_users_silent", Help: "Users past their expect_upload_every without an upload.",
		}),
	}
	for _, c := range []prometheus.Collector{
		m.sessionsActive, m.sessionsTotal, m.refused, m.logins, m.transfers, m.bytes, m.duration, m.passivePorts,
		m.passiveRefused, m.relays, m.relayBytes,
		m.s3Duration, m.s3Errors, m.eventsQueued, m.eventsDropped, m.eventsDelivered, m.eventsFailed,
		m.silent, m.silentCount,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		f(c)
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "s3ftp_build_info", Help: "Always 1; the labels say which build runs.",
	}, []string{"version", "goversion"})
	build.WithLabelValues(version, runtime.Version()).Set(1)
	f(build)
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// WatchEventsPending registers s3ftp_events_pending, read from pending
// (events.Notifier.Pending) at each scrape.
func (m *Metrics) WatchEventsPending(pending func() int) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "s3ftp_events_pending", Help: "Webhook events queued, in flight or waiting for a retry.",
	}, func() float64 { return float64(pending()) }))
}

// SessionStarted implements gateway.Observer.
func (m *Metrics) SessionStarted() { m.sessionsActive.Inc(); m.sessionsTotal.Inc() }

// SessionEnded implements gateway.Observer.
func (m *Metrics) SessionEnded() { m.sessionsActive.Dec() }

// Login implements gateway.Observer.
func (m *Metrics) Login(result string) { m.logins.WithLabelValues(result).Inc() }

// TransferDone implements gateway.Observer.
func (m *Metrics) TransferDone(op, result string, bytes int64, d time.Duration) {
	m.transfers.WithLabelValues(op, result).Inc()
	direction := "down"
	if op == "upload" {
		direction = "up"
	}
	m.bytes.WithLabelValues(direction).Add(float64(bytes))
	m.duration.WithLabelValues(op).Observe(d.Seconds())
}

// PassivePortOpened implements gateway.Observer.
func (m *Metrics) PassivePortOpened() { m.passivePorts.Inc() }

// PassivePortClosed implements gateway.Observer.
func (m *Metrics) PassivePortClosed() { m.passivePorts.Dec() }

// ConnectionRefused implements gateway.Observer.
func (m *Metrics) ConnectionRefused(reason string) { m.refused.WithLabelValues(reason).Inc() }

// PassiveRefused counts a refused passive port or data connection.
func (m *Metrics) PassiveRefused(reason string) { m.passiveRefused.WithLabelValues(reason).Inc() }

// Relayed counts a data connection relayed to replica peer and its bytes.
func (m *Metrics) Relayed(peer int, up, down int64, err error) {
	p, result := strconv.Itoa(peer), "ok"
	if err != nil {
		result = "error"
	}
	m.relays.WithLabelValues(p, result).Inc()
	m.relayBytes.WithLabelValues(p, "up").Add(float64(up))
	m.relayBytes.WithLabelValues(p, "down").Add(float64(down))
}

// S3Request implements storage.RequestObserver.
func (m *Metrics) S3Request(operation string, d time.Duration, err error) {
	m.s3Duration.WithLabelValues(operation).Observe(d.Seconds())
	if err != nil {
		m.s3Errors.WithLabelValues(operation, storage.ErrorCode(err)).Inc()
	}
}

// EventQueued implements events.Metrics.
func (m *Metrics) EventQueued(eventType string) { m.eventsQueued.WithLabelValues(eventType).Inc() }

// EventDropped implements events.Metrics.
func (m *Metrics) EventDropped(eventType, reason string) {
	m.eventsDropped.WithLabelValues(eventType, reason).Inc()
}

// EventDelivered implements events.Metrics.
func (m *Metrics) EventDelivered(url string, _ int, _ time.Duration) {
	m.eventsDelivered.WithLabelValues(url).Inc()
}

// EventFailed implements events.Metrics.
func (m *Metrics) EventFailed(url string, permanent bool) {
	p := "false"
	if permanent {
		p = "true"
	}
	m.eventsFailed.WithLabelValues(url, p).Inc()
}
