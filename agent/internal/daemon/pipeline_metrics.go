package daemon

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zpam/zpam/agent/internal/spool"
	"github.com/zpam/zpam/agent/internal/upload"
)

// watchPipeline registers the spool's and the uploader's metrics, read
// at scrape time.
func (m *agentMetrics) watchPipeline(s *spool.Spool, u *upload.Uploader) {
	counter := func(name, help string, v func() uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v()) })
	}
	gauge := func(name, help string, v func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, v)
	}
	m.reg.MustRegister(
		counter("zpam_agent_events_seen_total", "Telemetry events produced by this agent.", func() uint64 { return s.Stats().Seen }),
		counter("zpam_agent_events_spooled_total", "Events written to the spool.", func() uint64 { return s.Stats().Spooled }),
		counter("zpam_agent_events_sent_total", "Events sent to the control plane, resends included.", func() uint64 { return u.Stats().Sent }),
		counter("zpam_agent_events_acked_total", "Events the control plane acknowledged storing.", func() uint64 { return u.Stats().Acked }),
		counter("zpam_agent_events_duplicate_total", "Acknowledged events the control plane already had (resends).", func() uint64 { return u.Stats().Duplicates }),
		gauge("zpam_agent_spool_bytes", "Size of the spool's segment files.", func() float64 { return float64(s.Stats().Bytes) }),
		gauge("zpam_agent_upload_lag_seconds", "Age of the oldest event not yet acknowledged; 0 when all are.", func() float64 {
			if t := s.OldestUnacked(); !t.IsZero() {
				return time.Since(t).Seconds()
			}
			return 0
		}),
		gauge("zpam_agent_upload_connected", "1 while the telemetry upload stream is acknowledging.", func() float64 {
			if u.Stats().Connected {
				return 1
			}
			return 0
		}),
		spoolDrops{s},
	)
}

// spoolDrops exports the spool's loss counters, labelled by cause and
// event kind, which only the spool knows at scrape time.
type spoolDrops struct{ s *spool.Spool }

var spoolDropsDesc = prometheus.NewDesc("zpam_agent_events_dropped_total",
	"Events lost before reaching the control plane, by cause (spool_full, spool_torn, …) and kind.", []string{"cause", "kind"}, nil)

func (spoolDrops) Describe(ch chan<- *prometheus.Desc) { ch <- spoolDropsDesc }

func (d spoolDrops) Collect(ch chan<- prometheus.Metric) {
	for _, dr := range d.s.Drops() {
		ch <- prometheus.MustNewConstMetric(spoolDropsDesc, prometheus.CounterValue, float64(dr.Count), dr.Cause, dr.Kind)
	}
}
