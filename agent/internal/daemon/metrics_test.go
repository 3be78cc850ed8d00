package daemon

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/zpam/zpam/agent/internal/grant/granttest"
	"github.com/zpam/zpam/agent/internal/kernel"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

type metricsEnforcer struct {
	*granttest.Kernel
	mode kernel.Mode
}

func (m metricsEnforcer) Mode() kernel.Mode            { return m.mode }
func (metricsEnforcer) Events() <-chan kernel.Event    { return nil }
func (metricsEnforcer) RefreshAllowlist() (int, error) { return 0, nil }
func (metricsEnforcer) Drops() uint64                  { return 7 }
func (metricsEnforcer) Stored(kernel.Event)            {}
func (metricsEnforcer) LostInFlight() uint64           { return 2 }
func (metricsEnforcer) Close() error                   { return nil }
func (metricsEnforcer) RemoveTelemetry() error         { return nil }
func (metricsEnforcer) OpenTelemetry(context.Context, kernel.TelemetryOptions, func(kernel.ProcessEvent)) (Telemetry, error) {
	return nil, nil
}

func TestMetricsExportModeEscalationsAndDrops(t *testing.T) {
	m := newAgentMetrics()
	m.watch(metricsEnforcer{granttest.New(), kernel.ModeSignal}, func() bool { return true })
	m.escalation(kernel.Event{Kind: kernel.EventEscalationDenied, Via: "exec"})
	m.escalation(kernel.Event{Kind: kernel.EventEscalationDenied, Via: "exec"})
	m.escalation(kernel.Event{Kind: kernel.EventEscalationAllowed, Via: "setuid"})
	m.escalation(kernel.Event{Kind: kernel.EventScopeDenied, Via: "exec", GrantID: "g-1"})

	want := `
# HELP zpam_agent_enforcement_mode 1 for the enforcement mode in force (lsm, signal or audit), 0 for the others.
# TYPE zpam_agent_enforcement_mode gauge
zpam_agent_enforcement_mode{mode="audit"} 0
zpam_agent_enforcement_mode{mode="lsm"} 0
zpam_agent_enforcement_mode{mode="signal"} 1
# HELP zpam_agent_escalations_total Escalations seen by the kernel hooks, by decision (allowed, denied, out_of_scope: a command outside a scoped grant) and by how they were attempted.
# TYPE zpam_agent_escalations_total counter
zpam_agent_escalations_total{decision="allowed",via="setuid"} 1
zpam_agent_escalations_total{decision="denied",via="exec"} 2
zpam_agent_escalations_total{decision="out_of_scope",via="exec"} 1
# HELP zpam_agent_kernel_events_dropped_total Kernel events lost, by ring: ring buffer full, or not read in time.
# TYPE zpam_agent_kernel_events_dropped_total counter
zpam_agent_kernel_events_dropped_total{ring="escalation"} 7
# HELP zpam_agent_kernel_events_lost_in_flight_total Kernel events an agent read from the ring and was killed before storing, by ring; counted by the agent started after it, since the pins were made.
# TYPE zpam_agent_kernel_events_lost_in_flight_total counter
zpam_agent_kernel_events_lost_in_flight_total{ring="escalation"} 2
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want), "zpam_agent_enforcement_mode", "zpam_agent_escalations_total",
		"zpam_agent_kernel_events_dropped_total", "zpam_agent_kernel_events_lost_in_flight_total"); err != nil {
		t.Fatal(err)
	}
}

func TestMetricsCountEventsByKind(t *testing.T) {
	m := newAgentMetrics()
	m.published(&commonv1.Event{Kind: commonv1.EventKind_EVENT_KIND_EXEC})
	m.published(&commonv1.Event{Kind: commonv1.EventKind_EVENT_KIND_EXEC})
	m.published(&commonv1.Event{Kind: commonv1.EventKind_EVENT_KIND_LOGIN})
	if n := testutil.ToFloat64(m.events.WithLabelValues("exec")); n != 2 {
		t.Fatalf("exec events counted %v, want 2", n)
	}
	if n := testutil.ToFloat64(m.events.WithLabelValues("login")); n != 1 {
		t.Fatalf("login events counted %v, want 1", n)
	}
}
