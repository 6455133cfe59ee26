package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/s3ftp/s3ftp/gateway/activity"
)

var _ activity.SilentGauge = (*Metrics)(nil)

// SilentUsers implements activity.SilentGauge: s3ftp_user_silent{user} is 1
// for exactly the users named, and s3ftp_users_silent their number.
func (m *Metrics) SilentUsers(names []string) {
	m.silent.Reset()
	for _, n := range names {
		m.silent.WithLabelValues(n).Set(1)
	}
	m.silentCount.Set(float64(len(names)))
}

// WatchActivity registers s3ftp_activity_dropped_total and
// s3ftp_activity_failed_batches_total, read at each scrape from the
// activity Recorder's Dropped and FailedBatches.
func (m *Metrics) WatchActivity(dropped, failedBatches func() int64) {
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "s3ftp_activity_dropped_total", Help: "Activity records (logins, uploads, failures) dropped because the recorder's queue was full.",
		}, func() float64 { return float64(dropped()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "s3ftp_activity_failed_batches_total", Help: "Batches of activity the user store refused (their records are lost).",
		}, func() float64 { return float64(failedBatches()) }),
	)
}
