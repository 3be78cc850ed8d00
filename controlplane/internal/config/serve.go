package config

import (
	"fmt"
	"net"
	"time"
)

// Serve holds the options of `pam-controlplane serve`.
type Serve struct {
	DataDir string
	// Listen is the gRPC (mTLS) address.
	Listen string
	// HTTP is the address of the web console, /healthz and /metrics.
	HTTP string
	// HTTPTLS serves HTTP over TLS with the server certificate. Without it
	// HTTP must be a loopback address (see checkHTTP).
	HTTPTLS bool
	// DatabaseURL is the raw --database value; Database is what it resolved to.
	DatabaseURL string
	Database    Database
	// PolicyPoll is how often policy.yaml's mtime is checked.
	PolicyPoll time.Duration
	// ExpiryTick bounds how late a grant may be expired.
	ExpiryTick time.Duration
	// FanoutPoll is how often the change log is read for changes other
	// replicas made whose notifications were lost (PostgreSQL only).
	FanoutPoll time.Duration
	// ChangeRetention is how long grant changes stay in the log that
	// agents resume from; an agent away for longer gets a snapshot.
	ChangeRetention time.Duration
	// HostCertTTL is the validity of enrolled host certificates.
	HostCertTTL time.Duration
	// Retention is how long telemetry is kept; 0 keeps it forever.
	Retention time.Duration
	// ExportFiles, ExportSyslog and ExportHTTP are the SIEM sinks: file
	// paths, unix:// udp:// tcp:// syslog addresses, http(s) URLs.
	ExportFiles, ExportSyslog, ExportHTTP []string
}

// Bounds of host certificate validity: short enough that a stolen host
// key stops working soon, long enough to survive a weekend offline.
const (
	MinHostCertTTL = time.Minute
	MaxHostCertTTL = 30 * 24 * time.Hour
)

// Defaults of serve; the CLI shows them in --help.
const (
	DefaultListen = "127.0.0.1:7443"
	DefaultHTTP   = "127.0.0.1:7080"
)

// CheckAndSetDefaults validates the options and fills in defaults. Call once.
func (s *Serve) CheckAndSetDefaults() error {
	if s.DataDir == "" {
		return &FlagError{Flag: "data-dir", Problem: "is required; pass the directory made by pam-controlplane init"}
	}
	s.Listen = orDefault(s.Listen, DefaultListen)
	s.HTTP = orDefault(s.HTTP, DefaultHTTP)
	if err := checkAddr("listen", s.Listen); err != nil {
		return err
	}
	if err := checkHTTP(s.HTTP, s.HTTPTLS); err != nil {
		return err
	}
	db, err := ParseDatabase(s.DatabaseURL, Layout{Dir: s.DataDir})
	if err != nil {
		return err
	}
	s.Database = db
	s.setTunables()
	if s.HostCertTTL < MinHostCertTTL || s.HostCertTTL > MaxHostCertTTL {
		return flagErrorf("host-cert-ttl", "%s is outside %s to %s", s.HostCertTTL, MinHostCertTTL, MaxHostCertTTL)
	}
	return s.checkTelemetry()
}

func (s *Serve) setTunables() {
	if s.PolicyPoll <= 0 {
		s.PolicyPoll = time.Second
	}
	if s.ExpiryTick <= 0 {
		s.ExpiryTick = 250 * time.Millisecond
	}
	if s.FanoutPoll <= 0 {
		s.FanoutPoll = time.Second
	}
	if s.ChangeRetention <= 0 {
		s.ChangeRetention = 7 * 24 * time.Hour
	}
	if s.HostCertTTL <= 0 {
		s.HostCertTTL = 24 * time.Hour
	}
}

// Layout is the data directory's file layout.
func (s *Serve) Layout() Layout { return Layout{Dir: s.DataDir} }

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func checkAddr(flag, addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return flagErrorf(flag, "%q is not an address; expected HOST:PORT like 127.0.0.1:7443", addr)
	}
	return nil
}

// checkHTTP refuses plain HTTP beyond loopback. The web console signs
// people in with TOTP codes and keeps them signed in with a session
// cookie; on the network in clear text either can be read and replayed,
// and browsers do not even keep Secure cookies from a plain-HTTP origin
// other than localhost, so the console could not work there anyway. A
// warning in a log would leave the console exposed; an error at start
// cannot be missed.
func checkHTTP(addr string, tls bool) error {
	if err := checkAddr("http", addr); err != nil {
		return err
	}
	if tls {
		return nil
	}
	host, _, _ := net.SplitHostPort(addr)
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return flagErrorf("http", "%s is not a loopback address, and plain HTTP there would expose the web console's TOTP codes and session cookies; add --http-tls to serve it over TLS with the server certificate, or use 127.0.0.1:PORT", addr)
}

// FlagError is a bad value of one option. It names the option by its
// flag, so that the command line can name the environment variable
// instead when that is where the value came from.
type FlagError struct {
	// Flag is the flag's name without dashes.
	Flag string
	// Problem is the rest of the sentence.
	Problem string
}

func (e *FlagError) Error() string { return "--" + e.Flag + " " + e.Problem }

func flagErrorf(flag, format string, args ...any) error {
	return &FlagError{Flag: flag, Problem: fmt.Sprintf(format, args...)}
}
