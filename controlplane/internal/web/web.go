// Package web is the approvers' console: server-rendered pages to sign in
// with a TOTP code, decide pending requests, revoke grants and browse the
// audit trail. Handlers are thin over the request core, which makes every
// decision and re-checks every permission; this package owns only
// sessions, CSRF tokens, headers and rendering. It works without
// JavaScript.
package web

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/zpam/zpam/controlplane/internal/requests"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// Config configures the console.
type Config struct {
	Core  *requests.Service
	Store *store.Store
	// Now is the clock; defaults to time.Now.
	Now func() time.Time
	Log *slog.Logger
	// IdleTimeout ends a session nobody used for this long.
	IdleTimeout time.Duration
	// MaxAge ends a session this long after sign-in, however active.
	MaxAge time.Duration
	// TLS is set when the console is served over HTTPS; it adds HSTS.
	TLS bool
}

// Defaults: an approver stays signed in for a working session but not
// overnight, and an unattended browser signs out within minutes.
const (
	DefaultIdleTimeout = 15 * time.Minute
	DefaultMaxAge      = 8 * time.Hour
)

// CheckAndSetDefaults validates the config and fills in defaults. Call once.
func (c *Config) CheckAndSetDefaults() error {
	if c.Core == nil || c.Store == nil {
		return errors.New("web console: the request core and the store are required")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.IdleTimeout > c.MaxAge {
		return errors.New("web console: the idle timeout must not exceed the session's maximum age")
	}
	return nil
}

// Console is the web console's HTTP handler.
type Console struct {
	cfg      Config
	sessions *sessions
	pages    *pages
	handler  http.Handler
}

// New builds the console.
func New(cfg Config) (*Console, error) {
	if err := cfg.CheckAndSetDefaults(); err != nil {
		return nil, err
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	c := &Console{cfg: cfg, pages: p, sessions: &sessions{db: cfg.Store, now: cfg.Now, idle: cfg.IdleTimeout, maxAge: cfg.MaxAge}}
	c.handler = c.routes()
	return c, nil
}

// ServeHTTP serves the console's pages.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.handler.ServeHTTP(w, r) }
