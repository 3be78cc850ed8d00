package breakglass

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
	"google.golang.org/protobuf/proto"

	"github.com/zpam/zpam/agent/internal/statefile"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
)

// alarm makes the window impossible to miss: the agent's log, the
// journal at alert priority, the caller's terminal and the local audit
// file, which survives however long the control plane stays away.
func (m *Manager) alarm(r *agentv1.BreakGlassReport, d time.Duration) {
	msg := fmt.Sprintf("BREAK-GLASS: %s (uid %d) opened a %s emergency root window on this host without the control plane: %s",
		r.GetUser(), r.GetUid(), d, r.GetReason())
	m.o.Log.Error(msg, "grant_id", r.GetGrantId(), "session", r.GetSessionId(), "tty", r.GetTty(), "pid", r.GetPid(), "expires_at", r.GetExpiresAt().AsTime())
	fields := map[string]string{"ZPAM_GRANT_ID": r.GetGrantId(), "ZPAM_USER": r.GetUser(), "ZPAM_REASON": r.GetReason(), "SYSLOG_IDENTIFIER": "pam-agent"}
	if err := m.o.Journal(msg, fields); err != nil {
		m.o.Log.Warn("journal alert", "err", err)
	}
	if r.GetTty() != "" {
		line := fmt.Sprintf("pam-agent: BREAK-GLASS window open until %s — every command is recorded and reported\r\n",
			r.GetExpiresAt().AsTime().UTC().Format("15:04:05 UTC"))
		if err := m.o.Terminal(r.GetTty(), line); err != nil {
			m.o.Log.Debug("could not write to terminal", "tty", r.GetTty(), "err", err)
		}
	}
	if err := m.appendAudit(r); err != nil {
		m.o.Log.Error("write break-glass audit file", "err", err)
	}
}

func journalAlert(msg string, fields map[string]string) error {
	if !journal.Enabled() {
		return nil
	}
	return journal.Send(msg, journal.PriAlert, fields)
}

// auditLine is one line of breakglass.log.
type auditLine struct {
	Time      time.Time `json:"time"`
	GrantID   string    `json:"grant_id"`
	User      string    `json:"user"`
	UID       uint32    `json:"uid"`
	Reason    string    `json:"reason"`
	ExpiresAt time.Time `json:"expires_at"`
	SessionID uint32    `json:"session_id"`
	TTY       string    `json:"tty"`
	PID       uint32    `json:"pid"`
}

func (m *Manager) appendAudit(r *agentv1.BreakGlassReport) error {
	line, err := json.Marshal(auditLine{Time: r.GetStartedAt().AsTime().UTC(), GrantID: r.GetGrantId(), User: r.GetUser(), UID: r.GetUid(),
		Reason: r.GetReason(), ExpiresAt: r.GetExpiresAt().AsTime().UTC(), SessionID: r.GetSessionId(), TTY: r.GetTty(), PID: r.GetPid()})
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(m.o.StateDir, auditFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// enqueue keeps the report on disk until the control plane acknowledges
// it, across agent restarts.
func (m *Manager) enqueue(r *agentv1.BreakGlassReport) error {
	dir := filepath.Join(m.o.StateDir, outboxDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create outbox: %w", err)
	}
	data, err := proto.Marshal(r)
	if err != nil {
		return err
	}
	return statefile.Write(filepath.Join(dir, r.GetGrantId()+".pb"), data, 0o600)
}

// Pending lists the reports not yet acknowledged, oldest first.
func (m *Manager) Pending() []*agentv1.BreakGlassReport {
	dir := filepath.Join(m.o.StateDir, outboxDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []*agentv1.BreakGlassReport
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".pb") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		r := &agentv1.BreakGlassReport{}
		if err != nil || proto.Unmarshal(data, r) != nil {
			m.o.Log.Error("unreadable break-glass report in the outbox; kept for inspection", "file", e.Name())
			continue
		}
		out = append(out, r)
	}
	return out
}

// Flush sends every pending report and deletes each once acknowledged.
// It returns how many were acknowledged.
func (m *Manager) Flush(ctx context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	var errs []error
	for _, r := range m.Pending() {
		if err := m.o.Upstream.ReportBreakGlass(ctx, r); err != nil {
			errs = append(errs, fmt.Errorf("report %s: %w", r.GetGrantId(), err))
			continue
		}
		if err := os.Remove(filepath.Join(m.o.StateDir, outboxDir, r.GetGrantId()+".pb")); err != nil {
			errs = append(errs, err)
		}
		n++
		m.o.Log.Warn("break-glass window reported to the control plane", "grant_id", r.GetGrantId(), "user", r.GetUser())
	}
	return n, errors.Join(errs...)
}

// Kick asks Run to flush the outbox now.
func (m *Manager) Kick() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// Run refreshes the policy every refresh, retrying sooner after a
// failure (retry, doubling up to refresh), and flushes the outbox on Kick
// and every retry while reports wait, until ctx ends. Reports are retried
// at the same pace however long the outage: they are the alarm. Failures
// are logged when they start and then sparingly.
func (m *Manager) Run(ctx context.Context, refresh, retry time.Duration) {
	nextRefresh := time.Now()
	refreshFailures, flushFailures := 0, 0
	t := time.NewTicker(retry)
	defer t.Stop()
	for {
		if !time.Now().Before(nextRefresh) {
			if m.refreshOnce(ctx, refreshFailures) {
				refreshFailures, nextRefresh = 0, time.Now().Add(refresh)
			} else {
				refreshFailures++
				nextRefresh = time.Now().Add(min(retry<<min(refreshFailures, 16), refresh))
			}
		}
		if len(m.Pending()) > 0 {
			if _, err := m.Flush(ctx); err != nil && ctx.Err() == nil {
				if flushFailures%20 == 0 {
					m.o.Log.Warn("break-glass report not delivered yet; retrying", "err", err, "attempts", flushFailures+1)
				}
				flushFailures++
			} else {
				flushFailures = 0
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.kick:
		}
	}
}

// refreshOnce fetches the policy; failures are logged at the first and
// then at every power of two.
func (m *Manager) refreshOnce(ctx context.Context, failures int) bool {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := m.Refresh(rctx)
	if err != nil && ctx.Err() == nil && failures&(failures-1) == 0 {
		m.o.Log.Warn("break-glass policy not refreshed; the cached one stays", "err", err, "failures", failures+1)
	}
	return err == nil
}
