package cpclient

import (
	"context"

	"github.com/shirou/gopsutil/v3/host"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
)

// HostFacts describes the host for the control plane; informational, so a
// probe that fails leaves its fields empty rather than failing enrollment.
func HostFacts(ctx context.Context) *agentv1.HostFacts {
	info, _ := host.InfoWithContext(ctx) // partial facts come with an error
	if info == nil {
		return &agentv1.HostFacts{}
	}
	return &agentv1.HostFacts{
		Hostname:        info.Hostname,
		Os:              info.OS,
		Platform:        info.Platform,
		PlatformVersion: info.PlatformVersion,
		KernelVersion:   info.KernelVersion,
		HostUuid:        info.HostID,
	}
}
