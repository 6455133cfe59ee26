package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/gateway"
	"github.com/s3ftp/s3ftp/gateway/activity"
	"github.com/s3ftp/s3ftp/gateway/metrics"
)

// activityDrainTimeout bounds how long, after the FTP server has stopped,
// the last batch of activity may take to be written.
const activityDrainTimeout = 5 * time.Second

// startActivity starts recording the users' activity into users and
// watching for silent users (announced through notifier, counted in
// stats), when the store keeps activity. It returns the gateway's recorder
// (nil: none) and the function that stops both, writing what is pending.
func startActivity(users auth.Store, notifier gateway.Publisher, stats *metrics.Metrics, log *slog.Logger) (gateway.ActivityRecorder, func(), error) {
	store, ok := users.(interface {
		auth.Store
		auth.ActivityStore
	})
	if !ok {
		return nil, func() {}, nil
	}
	rec, err := activity.New(store, activity.Config{Logger: log})
	if err != nil {
		return nil, nil, err
	}
	stats.WatchActivity(rec.Dropped, rec.FailedBatches)
	w, err := activity.NewWatcher(store, activity.WatcherConfig{Events: notifier, Gauge: stats, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		w.Run(ctx)
	}()
	return rec, func() {
		cancel()
		<-watching
		ctx, cancel := context.WithTimeout(context.Background(), activityDrainTimeout)
		defer cancel()
		if err := rec.Close(ctx); err != nil {
			log.Warn("activity", "err", err)
		}
	}, nil
}
