package telemetry

import (
	"time"

	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// Residue is what grant g's window left on the host, attributed to g.
func (b *Builder) Residue(g *commonv1.Grant, snap *commonv1.ResidueSnapshot) *commonv1.Event {
	ev := b.event(commonv1.EventKind_EVENT_KIND_RESIDUE, time.Now())
	ev.Detail = &commonv1.Event_Residue{Residue: snap}
	ev.User = g.GetUser()
	if ev.User == "" {
		ev.User = b.users.name(g.GetUid())
	}
	ev.GrantId, ev.RequestId, ev.Approvers = g.GetId(), g.GetRequestId(), g.GetApprovers()
	return ev
}
