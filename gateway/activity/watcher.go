package activity

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/gateway"
	"github.com/s3ftp/s3ftp/gateway/events"
)

// Source is what a Watcher reads and changes: a user store with the
// auth.ActivityStore capability.
type Source interface {
	ListUsers(ctx context.Context, after string, limit int) ([]*auth.User, error)
	ListActivity(ctx context.Context, after string, limit int, now time.Time) (map[string]*auth.Activity, error)
	SetSilentNotified(ctx context.Context, name string, to bool) (bool, error)
}

// SilentGauge is told, after every scan, which users are silent
// (*metrics.Metrics).
type SilentGauge interface {
	SilentUsers(names []string)
}

// WatcherConfig configures a Watcher. Zero values take the defaults.
type WatcherConfig struct {
	Interval time.Duration     // between two scans; default 30s
	PageSize int               // users read per query; default 500
	Events   gateway.Publisher // receives user.silent and user.resumed; default none
	Gauge    SilentGauge       // default none
	Logger   *slog.Logger      // default: discard
}

// Watcher finds silent users (auth.Activity.Silent) by scanning the store,
// and announces each change once: every gateway sharing the store runs
// one, and only the one whose SetSilentNotified flips the user's flag
// publishes the event.
type Watcher struct {
	src Source
	cfg WatcherConfig
	log *slog.Logger
}

// NewWatcher returns a Watcher of the users in src.
func NewWatcher(src Source, cfg WatcherConfig) (*Watcher, error) {
	if src == nil {
		return nil, errors.New("activity: a Source is required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 30 * time.Second
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 500
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Watcher{src: src, cfg: cfg, log: cfg.Logger.With("component", "silent-watcher")}, nil
}

// Run scans at once and then every Interval until ctx ends. A failed scan
// is logged and retried at the next tick.
func (w *Watcher) Run(ctx context.Context) {
	tick := time.NewTicker(w.cfg.Interval)
	defer tick.Stop()
	for {
		if _, err := w.Scan(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("silent devices not checked", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Scan checks every user once, announces the changes this gateway wins,
// updates the gauge and returns the names of the silent users, in name
// order. It returns the store's error (the gauge is then left as it was).
func (w *Watcher) Scan(ctx context.Context) ([]string, error) {
	now := time.Now()
	var silent []string
	for after := ""; ; {
		users, err := w.src.ListUsers(ctx, after, w.cfg.PageSize)
		if err != nil {
			return nil, err
		}
		if len(users) == 0 {
			break
		}
		acts, err := w.src.ListActivity(ctx, after, w.cfg.PageSize, now)
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			a := acts[u.Name]
			if a == nil {
				a = &auth.Activity{}
			}
			is := a.Silent(u, now)
			if is {
				silent = append(silent, u.Name)
			}
			if is != a.SilentNotified {
				if err := w.announce(ctx, u, a, is); err != nil {
					return nil, err
				}
			}
		}
		after = users[len(users)-1].Name
	}
	if w.cfg.Gauge != nil {
		w.cfg.Gauge.SilentUsers(silent)
	}
	return silent, nil
}

// announce flips the user's flag to silent and, if this gateway flipped
// it, publishes the event.
func (w *Watcher) announce(ctx context.Context, u *auth.User, a *auth.Activity, silent bool) error {
	won, err := w.src.SetSilentNotified(ctx, u.Name, silent)
	if err != nil || !won {
		return err
	}
	e := events.Event{Type: events.TypeUserResumed, User: u.Name, Bucket: u.Bucket,
		ExpectUploadEvery: auth.FormatExpectUploadEvery(u.ExpectUploadEvery)}
	if silent {
		e.Type = events.TypeUserSilent
	}
	if up := a.LastUpload; up != nil {
		e.Path, e.Size, e.LastUpload = up.Path, up.Size, events.FormatTime(up.Time)
	}
	if l := a.LastLogin; l != nil {
		e.ClientIP = l.AddrText()
	}
	w.log.Info(e.Type, "user", u.Name, "expect_upload_every", e.ExpectUploadEvery, "last_upload", e.LastUpload)
	if w.cfg.Events != nil {
		w.cfg.Events.Publish(e)
	}
	return nil
}
