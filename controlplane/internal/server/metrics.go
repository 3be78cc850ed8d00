package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/zpam/zpam/controlplane/internal/requests"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// metrics is the Prometheus view of the control plane.
type metrics struct {
	registry     *prometheus.Registry
	requests     *prometheus.CounterVec
	enrollments  *prometheus.CounterVec
	mfa          *prometheus.CounterVec
	reevaluated  prometheus.Counter
	rotations    *prometheus.CounterVec
	breakGlasses prometheus.Counter
	streams      *prometheus.CounterVec
	findings     *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zpam_requests_total", Help: "Request status changes, by the status reached.",
		}, []string{"outcome"}),
		enrollments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zpam_enrollments_total", Help: "Host enrollment attempts, by result.",
		}, []string{"result"}),
		streams: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zpam_grant_streams_total", Help: "Grant streams opened, by how they started: resumed from the host's revision, or a snapshot.",
		}, []string{"start"}),
	}
	m.mfa = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "zpam_mfa_checks_total", Help: "TOTP checks of requesters and approvers, by result (ok, invalid, replayed, locked, missing, unregistered).",
	}, []string{"result"})
	m.reevaluated = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "zpam_grants_revoked_by_reevaluation_total", Help: "Active grants revoked because policy, groups or host labels no longer allow them.",
	})
	m.rotations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "zpam_host_certificate_rotations_total", Help: "Host certificate rotations, by result.",
	}, []string{"result"})
	m.breakGlasses = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "zpam_break_glass_reports_total", Help: "Break-glass windows reported by agents (first report of each).",
	})
	m.findings = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "zpam_detection_findings_total", Help: "New findings of detection rules on grants' commands, by rule, severity and the response asked for.",
	}, []string{"rule", "severity", "response"})
	m.registry.MustRegister(m.requests, m.enrollments, m.mfa, m.reevaluated, m.rotations, m.breakGlasses, m.streams, m.findings,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// RequestOutcome implements requests.Observer.
func (m *metrics) RequestOutcome(s store.Status) { m.requests.WithLabelValues(string(s)).Inc() }

// MFAResult implements requests.Observer.
func (m *metrics) MFAResult(result string) { m.mfa.WithLabelValues(result).Inc() }

// GrantRevokedByReevaluation implements requests.Observer.
func (m *metrics) GrantRevokedByReevaluation() { m.reevaluated.Inc() }

// Finding implements requests.Observer.
func (m *metrics) Finding(rule, severity, response string) {
	m.findings.WithLabelValues(rule, severity, response).Inc()
}

// BreakGlassReported implements requests.Observer.
func (m *metrics) BreakGlassReported() { m.breakGlasses.Inc() }

func (m *metrics) rotated(ok bool) {
	result := "ok"
	if !ok {
		result = "failed"
	}
	m.rotations.WithLabelValues(result).Inc()
}

// GrantStreamOpened implements requests.Observer.
func (m *metrics) GrantStreamOpened(resumed bool) {
	start := "snapshot"
	if resumed {
		start = "resumed"
	}
	m.streams.WithLabelValues(start).Inc()
}

func (m *metrics) enrolled(ok bool) {
	result := "ok"
	if !ok {
		result = "failed"
	}
	m.enrollments.WithLabelValues(result).Inc()
}

// watchCore registers the gauges read from the core at scrape time.
func (m *metrics) watchCore(core *requests.Service) {
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "zpam_active_grants", Help: "Grants in force.",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n, err := core.ActiveGrants(ctx)
			if err != nil {
				return -1
			}
			return float64(n)
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "zpam_connected_agents", Help: "Agents with an open grant stream to this process.",
		}, func() float64 { return float64(core.ConnectedHosts()) }),
	)
}
