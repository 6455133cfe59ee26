package main

import (
	"context"
	"flag"
	"net/http"
	"path/filepath"
	"time"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/auth/api"
	"github.com/s3ftp/s3ftp/auth/postgres"
	"github.com/s3ftp/s3ftp/auth/sqlite"
)

// openStore opens the user store c names: PostgreSQL at db-url, else SQLite
// in data-dir/users.db.
func openStore(ctx context.Context, c *Config) (auth.Store, error) {
	if c.DBURL != "" {
		return postgres.Open(ctx, c.DBURL)
	}
	return sqlite.Open(ctx, filepath.Join(c.DataDir, "users.db"))
}

// adminFlags say where the users commands act: the local user store
// (--config, --data-dir, --db-url) or a running gateway's API (--api, --token).
type adminFlags struct {
	config     string
	raw        map[string]string
	api, token string
}

func newAdminFlags(fs *flag.FlagSet, e env) *adminFlags {
	af := &adminFlags{raw: map[string]string{}}
	fs.StringVar(&af.config, "config", e.getenv(envPrefix+"CONFIG"), "YAML configuration file")
	fs.StringVar(&af.api, "api", e.getenv(envPrefix+"API_URL"), "URL of a running gateway's admin API, e.g. http://127.0.0.1:8080 (env "+envPrefix+"API_URL)")
	fs.StringVar(&af.token, "token", e.getenv(envPrefix+"API_TOKEN"), "admin API token (env "+envPrefix+"API_TOKEN)")
	for _, key := range []string{"data-dir", "db-url"} {
		fs.Var(&flagValue{key: key, raw: af.raw}, key, "as for serve")
	}
	return af
}

// open returns the userAdmin the flags name and a function that releases it.
func (af *adminFlags) open(ctx context.Context, e env) (userAdmin, func(), error) {
	if af.api != "" {
		if af.token == "" {
			return nil, nil, usageError("--api needs --token (or " + envPrefix + "API_TOKEN)")
		}
		client := &api.Client{BaseURL: af.api, Token: af.token, HTTP: &http.Client{Timeout: time.Minute}}
		return client, func() {}, nil
	}
	c := defaultConfig(af.config != "")
	if err := load(&c, af.config, e.getenv, af.raw); err != nil {
		return nil, nil, err
	}
	store, err := openStore(ctx, &c)
	if err != nil {
		return nil, nil, err
	}
	return auth.NewManager(store), func() { store.Close() }, nil
}
