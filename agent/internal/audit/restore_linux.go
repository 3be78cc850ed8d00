package audit

import (
	"fmt"
	"log/slog"

	libaudit "github.com/elastic/go-libaudit/v2"
)

// Restore undoes what an agent that did not close its stream (it crashed,
// or was killed) changed in the kernel's audit settings, as recorded at
// statePath; `pam-agent uninstall` calls it. Audit is switched back off
// only while no other audit daemon has taken the socket since.
func Restore(statePath string, log *slog.Logger) error {
	if statePath == "" {
		statePath = DefaultStatePath
	}
	st, err := loadState(statePath)
	if err != nil || st == (state{}) {
		return err
	}
	client, err := libaudit.NewAuditClient(nil)
	if err != nil {
		return fmt.Errorf("open audit socket: %w", err)
	}
	defer client.Close()
	status, err := client.GetStatus()
	if err != nil {
		return fmt.Errorf("read audit status: %w", err)
	}
	owner := int(status.PID)
	if owner != 0 && owner != st.PID && alive(owner) {
		log.Info("audit settings left as they are: another audit daemon owns the socket now", "owner_pid", owner)
		return removeState(statePath)
	}
	if st.Enabled && status.Enabled == 1 {
		if err := client.SetEnabled(false, libaudit.WaitForReply); err != nil {
			return fmt.Errorf("switch kernel audit back off: %w", err)
		}
		log.Info("kernel audit switched back off, as it was before the agent")
	}
	return removeState(statePath)
}
