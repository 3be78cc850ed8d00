package config

import (
	"net"
	"net/url"
	"path/filepath"
	"time"
)

// DefaultRetention is how long serve keeps telemetry unless told.
const DefaultRetention = 720 * time.Hour

// checkTelemetry validates --retention and the --export-* sinks.
func (s *Serve) checkTelemetry() error {
	if s.Retention < 0 {
		return flagErrorf("retention", "%s is negative; expected a duration like 720h, or 0 to keep events forever", s.Retention)
	}
	for _, p := range s.ExportFiles {
		if !filepath.IsAbs(p) {
			return flagErrorf("export-file", "%q is not an absolute path", p)
		}
	}
	for _, raw := range s.ExportSyslog {
		if err := checkSyslogURL(raw); err != nil {
			return err
		}
	}
	for _, raw := range s.ExportHTTP {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return flagErrorf("export-http", "%q is not an http:// or https:// URL", raw)
		}
	}
	return nil
}

func checkSyslogURL(raw string) error {
	u, err := url.Parse(raw)
	bad := flagErrorf("export-syslog", "%q is not unix:///dev/log, udp://HOST:PORT or tcp://HOST:PORT", raw)
	if err != nil {
		return bad
	}
	switch u.Scheme {
	case "unix":
		if !filepath.IsAbs(u.Path) {
			return bad
		}
	case "udp", "tcp":
		if _, _, err := net.SplitHostPort(u.Host); err != nil {
			return bad
		}
	default:
		return bad
	}
	return nil
}
