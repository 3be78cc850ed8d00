package config

// DefaultSpoolMaxMB bounds the telemetry spool unless agent.yaml says.
const DefaultSpoolMaxMB = 128

// maxSpoolMaxMB keeps a typo from filling a disk: 64 GiB.
const maxSpoolMaxMB = 64 << 10

func (c *Config) checkSpool() error {
	if c.SpoolMaxMB == 0 {
		c.SpoolMaxMB = DefaultSpoolMaxMB
	}
	if c.SpoolMaxMB < 1 || c.SpoolMaxMB > maxSpoolMaxMB {
		return fieldErr("spool_max_mb", "%d is out of range; give 1 to %d (MiB of disk for events not yet uploaded)", c.SpoolMaxMB, maxSpoolMaxMB)
	}
	return nil
}

// SpoolMaxBytes is the spool's bound in bytes.
func (c *Config) SpoolMaxBytes() int64 { return int64(c.SpoolMaxMB) << 20 }
