package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zpam/zpam/controlplane/internal/export"
	"github.com/zpam/zpam/controlplane/internal/store"
	"github.com/zpam/zpam/controlplane/internal/telemetry"
)

// telemetryMetrics count ingest, retention and every export sink.
type telemetryMetrics struct {
	ingested, duplicates, rejected, pruned prometheus.Counter
	inspectFailed                          prometheus.Counter
	batchSeconds                           prometheus.Histogram
	exported, failed, dropped              *prometheus.CounterVec
	// exporter gets retention's deletions, for its loss accounting.
	exporter *export.Exporter
}

func newTelemetryMetrics(reg *prometheus.Registry) *telemetryMetrics {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	sinkCounter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"sink"})
	}
	m := &telemetryMetrics{
		ingested:   counter("zpam_telemetry_events_ingested_total", "Events uploaded by agents and stored."),
		duplicates: counter("zpam_telemetry_events_duplicate_total", "Events uploaded again that were already stored (resends)."),
		rejected:   counter("zpam_telemetry_events_rejected_total", "Uploaded events refused as malformed."),
		pruned:     counter("zpam_telemetry_events_pruned_total", "Events deleted by the retention setting."),
		inspectFailed: counter("zpam_detection_inspect_failures_total",
			"Uploaded batches whose commands under grants were stored but could not be run through the detection rules (see the log)."),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "zpam_telemetry_batch_seconds", Help: "Time to store one uploaded batch, commit included.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		exported: sinkCounter("zpam_export_events_exported_total", "Events delivered to a SIEM sink."),
		failed:   sinkCounter("zpam_export_events_failed_total", "Events in deliveries that failed and are retried."),
		dropped:  sinkCounter("zpam_export_events_dropped_total", "Events a sink will never get: refused for good, or deleted by retention first."),
	}
	reg.MustRegister(m.ingested, m.duplicates, m.rejected, m.pruned, m.inspectFailed, m.batchSeconds, m.exported, m.failed, m.dropped)
	return m
}

// Ingested implements telemetry.Observer.
func (m *telemetryMetrics) Ingested(stored, duplicates, rejected int, took time.Duration) {
	m.ingested.Add(float64(stored))
	m.duplicates.Add(float64(duplicates))
	m.rejected.Add(float64(rejected))
	m.batchSeconds.Observe(took.Seconds())
}

// Pruned implements telemetry.Observer.
func (m *telemetryMetrics) Pruned(pruned []telemetry.Position) {
	m.pruned.Add(float64(len(pruned)))
	if m.exporter != nil {
		m.exporter.Pruned(pruned)
	}
}

// InspectFailed counts a batch detection could not run over.
func (m *telemetryMetrics) InspectFailed() { m.inspectFailed.Inc() }

// Exported, Failed and Dropped implement export.Metrics.
func (m *telemetryMetrics) Exported(sink string, n int) {
	m.exported.WithLabelValues(sink).Add(float64(n))
}
func (m *telemetryMetrics) Failed(sink string, n int) { m.failed.WithLabelValues(sink).Add(float64(n)) }
func (m *telemetryMetrics) Dropped(sink string, n int) {
	m.dropped.WithLabelValues(sink).Add(float64(n))
}

var (
	_ telemetry.Observer = (*telemetryMetrics)(nil)
	_ export.Metrics     = (*telemetryMetrics)(nil)
)

// lifecycleObserver wakes followers and exports when the request core
// commits a change: its audit events are telemetry too.
type lifecycleObserver struct {
	*metrics
	tel *telemetry.Service
}

func (o lifecycleObserver) RequestOutcome(s store.Status) {
	o.metrics.RequestOutcome(s)
	o.tel.Notify()
}
