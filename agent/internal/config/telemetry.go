package config

import "github.com/zpam/zpam/agent/internal/kernel"

// Telemetry is the telemetry: section of agent.yaml. Everything is on
// unless switched off.
type Telemetry struct {
	// Enabled records every exec and exit, attributed to grants; false
	// also detaches the kernel programs an earlier run left pinned.
	Enabled *bool `yaml:"enabled"`
	// ArgvMaxBytes bounds the argv recorded per exec (NULs included).
	ArgvMaxBytes int `yaml:"argv_max_bytes"`
	// Audit reads sudo/PAM records from the kernel audit stream.
	Audit *bool `yaml:"audit"`
}

// On says whether kernel telemetry runs.
func (t Telemetry) On() bool { return t.Enabled == nil || *t.Enabled }

// AuditOn says whether the audit stream is read.
func (t Telemetry) AuditOn() bool { return t.On() && (t.Audit == nil || *t.Audit) }

func (c *Config) checkTelemetry() error {
	if c.Telemetry.ArgvMaxBytes == 0 {
		c.Telemetry.ArgvMaxBytes = kernel.DefaultArgvMax
	}
	if n := c.Telemetry.ArgvMaxBytes; n < kernel.MinArgvMax || n > kernel.ArgvCap {
		return fieldErr("telemetry", "argv_max_bytes: %d is out of range; give %d to %d", n, kernel.MinArgvMax, kernel.ArgvCap)
	}
	return nil
}

// TelemetryOptions are the options to open kernel telemetry with.
func (c *Config) TelemetryOptions() kernel.TelemetryOptions {
	return kernel.TelemetryOptions{ArgvMax: c.Telemetry.ArgvMaxBytes}
}
