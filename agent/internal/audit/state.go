package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// DefaultStatePath records what the agent changed in the kernel's audit
// settings. It lives on /run, a tmpfs, because the kernel's audit
// settings end with the boot too: a record never outlives what it undoes.
const DefaultStatePath = "/run/pam-agent/audit-state.json"

// state is what the agent changed and must undo.
type state struct {
	// Enabled: audit was off and the agent switched it on.
	Enabled bool `json:"enabled"`
	// PID: the agent registered itself as the audit daemon.
	PID int `json:"pid,omitempty"`
}

func loadState(path string) (state, error) {
	var s state
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read audit state: %w", err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("read audit state %s: %w", path, err)
	}
	return s, nil
}

// save writes the record before the change it describes, so that a crash
// right after the change still leaves the record behind.
func (s state) save(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create audit state directory: %w", err)
	}
	data, _ := json.Marshal(s)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write audit state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write audit state: %w", err)
	}
	return nil
}

func removeState(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove audit state: %w", err)
	}
	return nil
}
