package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/gateway"
	"github.com/s3ftp/s3ftp/gateway/activity"
)

// activityDrainTimeout bounds how long, after the FTP server has stopped,
// the last batch of activity may take to be written.
const activityDrainTimeout = 5 * time.Second

// startActivity starts recording the users' activity into users, when the
// store keeps it. It returns the gateway's recorder (nil: none) and the
// function that writes what is pending and stops it.
func startActivity(users auth.Store, log *slog.Logger) (gateway.ActivityRecorder, func()) {
	store, ok := users.(auth.ActivityStore)
	if !ok {
		return nil, func() {}
	}
	rec, err := activity.New(store, activity.Config{Logger: log})
	if err != nil {
		log.Error("activity not recorded", "err", err) // unreachable: store is not nil
		return nil, func() {}
	}
	return rec, func() {
		ctx, cancel := context.WithTimeout(context.Background(), activityDrainTimeout)
		defer cancel()
		if err := rec.Close(ctx); err != nil {
			log.Warn("activity", "err", err)
		}
	}
}
