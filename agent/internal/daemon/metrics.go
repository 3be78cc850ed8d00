package daemon

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/zpam/zpam/agent/internal/kernel"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// agentMetrics are the agent's Prometheus metrics. They are always
// counted; they are served only when metrics_listen is set, on a local
// address of the operator's choosing.
type agentMetrics struct {
	reg         *prometheus.Registry
	mode        *prometheus.GaugeVec
	escalations *prometheus.CounterVec
	certExpires prometheus.Gauge
	events      *prometheus.CounterVec
	// byKind are events' children, made once: a label lookup per event
	// would cost more than building the event.
	byKind map[commonv1.EventKind]prometheus.Counter
	srv    *http.Server
}

func newAgentMetrics() *agentMetrics {
	m := &agentMetrics{
		reg: prometheus.NewRegistry(),
		mode: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "zpam_agent_enforcement_mode",
			Help: "1 for the enforcement mode in force (lsm, signal or audit), 0 for the others.",
		}, []string{"mode"}),
		escalations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zpam_agent_escalations_total",
			Help: "Escalations seen by the kernel hooks, by decision (allowed, denied, out_of_scope: a command outside a scoped grant) and by how they were attempted.",
		}, []string{"decision", "via"}),
	}
	m.certExpires = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "zpam_agent_certificate_expiry_timestamp_seconds",
		Help: "When the host certificate expires (Unix time); the agent renews it at two thirds of its life.",
	})

	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "zpam_agent_telemetry_events_total",
		Help: "Telemetry events produced, by kind (exec, exit, escalation, login, grant, agent).",
	}, []string{"kind"})
	m.byKind = map[commonv1.EventKind]prometheus.Counter{}
	for v := range commonv1.EventKind_name {
		if k := commonv1.EventKind(v); k != commonv1.EventKind_EVENT_KIND_UNSPECIFIED {
			m.byKind[k] = m.events.WithLabelValues(strings.ToLower(strings.TrimPrefix(k.String(), "EVENT_KIND_")))
		}
	}
	m.reg.MustRegister(m.mode, m.escalations, m.certExpires, m.events)
	return m
}

func (m *agentMetrics) certExpiry(t time.Time) { m.certExpires.Set(float64(t.Unix())) }

// watch registers the metrics read from live components.
func (m *agentMetrics) watch(e Enforcer, connected func() bool) {
	for _, mode := range []kernel.Mode{kernel.ModeLSM, kernel.ModeSignal, kernel.ModeAudit} {
		v := 0.0
		if e.Mode() == mode {
			v = 1
		}
		m.mode.WithLabelValues(string(mode)).Set(v)
	}
	m.reg.MustRegister(
		droppedBy("escalation", e.Drops),
		lostInFlightBy("escalation", e.LostInFlight),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "zpam_agent_control_plane_connected",
			Help: "1 while the grant stream to the control plane is up.",
		}, func() float64 {
			if connected() {
				return 1
			}
			return 0
		}),
	)
}

// watchBreakGlass exports the break-glass reports waiting for the control
// plane: non-zero means an emergency window upstream does not know of yet.
func (m *agentMetrics) watchBreakGlass(pending func() int) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "zpam_agent_break_glass_reports_pending",
		Help: "Break-glass windows opened on this host and not yet acknowledged by the control plane.",
	}, func() float64 { return float64(pending()) }))
}

// droppedHelp is shared by both rings' series of the same metric.
const droppedHelp = "Kernel events lost, by ring: ring buffer full, or not read in time."

func droppedBy(ring string, drops func() uint64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "zpam_agent_kernel_events_dropped_total", Help: droppedHelp, ConstLabels: prometheus.Labels{"ring": ring},
	}, func() float64 { return float64(drops()) })
}

// lostInFlightHelp is shared by both rings' series of the same metric.
const lostInFlightHelp = "Kernel events an agent read from the ring and was killed before storing, by ring; counted by the agent started after it, since the pins were made."

func lostInFlightBy(ring string, lost func() uint64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "zpam_agent_kernel_events_lost_in_flight_total", Help: lostInFlightHelp, ConstLabels: prometheus.Labels{"ring": ring},
	}, func() float64 { return float64(lost()) })
}

// watchTelemetry registers the telemetry's loss counters; either may be
// nil (switched off, or the audit stream unavailable).
func (m *agentMetrics) watchTelemetry(t Telemetry, a AuditStream) {
	if t != nil {
		m.reg.MustRegister(droppedBy("exec", t.Drops), lostInFlightBy("exec", t.LostInFlight))
	}
	if a != nil {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "zpam_agent_audit_records_lost_total",
			Help: "Audit records the agent missed: gaps in the kernel's sequence numbers and socket overruns.",
		}, func() float64 { return float64(a.Lost()) }))
	}
}

// published counts one telemetry event by its kind's short name.
func (m *agentMetrics) published(ev *commonv1.Event) {
	if c, ok := m.byKind[ev.GetKind()]; ok {
		c.Inc()
	}
}

func (m *agentMetrics) escalation(ev kernel.Event) {
	decision := "allowed"
	switch ev.Kind {
	case kernel.EventEscalationDenied:
		decision = "denied"
	case kernel.EventScopeDenied:
		decision = "out_of_scope"
	}
	m.escalations.WithLabelValues(decision, ev.Via).Inc()
}

// serve starts the /metrics listener; the address is bound before it
// returns so that a bad or busy address fails the start.
func (m *agentMetrics) serve(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	// Serve returns http.ErrServerClosed once close shuts it down.
	go func() { _ = m.srv.Serve(l) }()
	return nil
}

func (m *agentMetrics) close() error {
	if m.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return m.srv.Shutdown(ctx)
}
