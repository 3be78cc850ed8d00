package kernel

import "github.com/cilium/ebpf"

// replacements names every loaded map for CollectionOptions.MapReplacements.
func (m *enforceMaps) replacements() map[string]*ebpf.Map {
	return map[string]*ebpf.Map{
		enforceMapZpamAllowlist:    m.ZpamAllowlist,
		enforceMapZpamAttrib:       m.ZpamAttrib,
		enforceMapZpamCounters:     m.ZpamCounters,
		enforceMapZpamEvents:       m.ZpamEvents,
		enforceMapZpamEventsSeq:    m.ZpamEventsSeq,
		enforceMapZpamEventsHanded: m.ZpamEventsHanded,
		enforceMapZpamGrantState:   m.ZpamGrantState,
		enforceMapZpamGrants:       m.ZpamGrants,
		enforceMapZpamLaunchers:    m.ZpamLaunchers,
		enforceMapZpamScope:        m.ZpamScope,
		enforceMapZpamSettings:     m.ZpamSettings,
		enforceMapZpamSetuidEntry:  m.ZpamSetuidEntry,
	}
}

// shared are the enforcement maps the telemetry programs read and write:
// one instance serves both families.
func (m *enforceMaps) shared() map[string]*ebpf.Map {
	return map[string]*ebpf.Map{
		telemetryMapZpamAllowlist: m.ZpamAllowlist,
		telemetryMapZpamAttrib:    m.ZpamAttrib,
		telemetryMapZpamGrants:    m.ZpamGrants,
	}
}

func (m *telemetryMaps) replacements(shared map[string]*ebpf.Map) map[string]*ebpf.Map {
	out := map[string]*ebpf.Map{
		telemetryMapZpamExecScratch:  m.ZpamExecScratch,
		telemetryMapZpamTeleCounters: m.ZpamTeleCounters,
		telemetryMapZpamTeleSettings: m.ZpamTeleSettings,
		telemetryMapZpamTelemetry:    m.ZpamTelemetry,
		telemetryMapZpamTeleSeq:      m.ZpamTeleSeq,
		telemetryMapZpamTeleHanded:   m.ZpamTeleHanded,
	}
	for k, v := range shared {
		out[k] = v
	}
	return out
}
