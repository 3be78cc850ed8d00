package kernel

import "github.com/cilium/ebpf"

// replacements names every loaded map for CollectionOptions.MapReplacements.
func (m *enforceMaps) replacements() map[string]*ebpf.Map {
	return map[string]*ebpf.Map{
		enforceMapZpamAllowlist:   m.ZpamAllowlist,
		enforceMapZpamCounters:    m.ZpamCounters,
		enforceMapZpamEvents:      m.ZpamEvents,
		enforceMapZpamGrants:      m.ZpamGrants,
		enforceMapZpamSettings:    m.ZpamSettings,
		enforceMapZpamSetuidEntry: m.ZpamSetuidEntry,
	}
}
