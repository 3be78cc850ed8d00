// Package config is the agent's configuration: agent.yaml, overridden by
// command-line flags, validated once by CheckAndSetDefaults.
package config

import (
	"fmt"
	"net"
	"path/filepath"

	"github.com/zpam/zpam/agent/internal/kernel"
	"github.com/zpam/zpam/proto/zpam/jointoken"
)

// Defaults for the files a packaged agent uses (see CONTRACT.md).
const (
	DefaultPath     = "/etc/pam-agent/agent.yaml"
	DefaultStateDir = "/var/lib/pam-agent"
	DefaultSocket   = "/run/pam-agent/agent.sock"
)

// Config is agent.yaml. Field names are the YAML keys users write.
type Config struct {
	// Server is the control plane's gRPC address, HOST:PORT, or the
	// addresses of its replicas, tried in order.
	Server Servers `yaml:"server"`
	// JoinToken is needed only until the host is enrolled.
	JoinToken string `yaml:"join_token"`
	// CA is a PEM file to verify the server with instead of the token's
	// fingerprint.
	CA       string            `yaml:"ca"`
	StateDir string            `yaml:"state_dir"`
	Socket   string            `yaml:"socket"`
	Mode     kernel.Mode       `yaml:"mode"`
	Labels   map[string]string `yaml:"labels"`
	// PinDir is where the kernel programs and maps are pinned.
	PinDir string `yaml:"pin_dir"`
	// Allowlist adds benign setuid helpers to kernel.DefaultAllowlist.
	Allowlist []string `yaml:"allowlist"`
	// PrivilegedCaps replaces kernel.DefaultPrivilegedCaps: capabilities
	// whose gain by exec of a file-capability binary needs a grant.
	PrivilegedCaps []string `yaml:"privileged_caps"`
	// MetricsListen serves Prometheus metrics on HOST:PORT; empty is off.
	MetricsListen string `yaml:"metrics_listen"`
	// SpoolMaxMB bounds the telemetry spool in the state dir, in MiB.
	SpoolMaxMB int       `yaml:"spool_max_mb"`
	Telemetry  Telemetry `yaml:"telemetry"`
}

// FieldError is a validation error of one YAML key, so that Load can point
// at the line that set it.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// CheckAndSetDefaults validates the merged file and flag values and fills
// defaults. Call it once, after flags have been applied.
func (c *Config) CheckAndSetDefaults() error {
	c.setDefaults()
	checks := []func() error{c.checkServer, c.checkToken, c.checkPaths, c.checkMode, c.checkLabels, c.checkAllowlist, c.checkCaps, c.checkMetrics, c.checkSpool, c.checkTelemetry}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) setDefaults() {
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir
	}
	if c.Socket == "" {
		c.Socket = DefaultSocket
	}
	if c.Mode == "" {
		c.Mode = kernel.ModeAuto
	}
	if c.PinDir == "" {
		c.PinDir = kernel.DefaultPinDir
	}
}

func (c *Config) checkServer() error {
	if err := c.Server.check(); err != nil {
		return &FieldError{Field: "server", Err: err}
	}
	return nil
}

func (c *Config) checkToken() error {
	if c.JoinToken == "" {
		return nil
	}
	if _, err := jointoken.Parse(c.JoinToken); err != nil {
		return fieldErr("join_token", "the join token is not valid (%v); use the output of pam-controlplane token create", err)
	}
	return nil
}

func (c *Config) checkPaths() error {
	for field, p := range map[string]string{"state_dir": c.StateDir, "socket": c.Socket, "pin_dir": c.PinDir} {
		if !filepath.IsAbs(p) {
			return fieldErr(field, "%q is not an absolute path", p)
		}
	}
	return nil
}

func (c *Config) checkMode() error {
	if _, err := kernel.ParseMode(string(c.Mode)); err != nil {
		return fieldErr("mode", "%q is not one of auto, lsm, signal, audit", c.Mode)
	}
	return nil
}

func (c *Config) checkLabels() error {
	for k, v := range c.Labels {
		if err := checkLabel(k, v); err != nil {
			return &FieldError{Field: "labels", Err: err}
		}
	}
	return nil
}

func (c *Config) checkAllowlist() error {
	for _, p := range c.Allowlist {
		if !filepath.IsAbs(p) {
			return fieldErr("allowlist", "%q is not an absolute path to a setuid helper", p)
		}
	}
	return nil
}

func (c *Config) checkCaps() error {
	if _, err := kernel.CapMask(c.PrivilegedCaps); err != nil {
		return fieldErr("privileged_caps", "%v", err)
	}
	return nil
}

func (c *Config) checkMetrics() error {
	if c.MetricsListen == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
		return fieldErr("metrics_listen", "%q is not a HOST:PORT address like 127.0.0.1:9462", c.MetricsListen)
	}
	return nil
}

// KernelOptions are the options to open the enforcer with.
func (c *Config) KernelOptions() kernel.Options {
	allow := append(append([]string(nil), kernel.DefaultAllowlist...), c.Allowlist...)
	return kernel.Options{Mode: c.Mode, PinDir: c.PinDir, Allowlist: allow, PrivilegedCaps: c.PrivilegedCaps}
}
