package cptest

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// Upsert makes g active and streams it to watching agents. A grant
// without a host id goes to every host.
func (s *Server) Upsert(g *commonv1.Grant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.upsertLocked(g)
}

func (s *Server) upsertLocked(g *commonv1.Grant) {
	s.grants[g.GetId()] = proto.Clone(g).(*commonv1.Grant)
	s.publishLocked(&agentv1.GrantEvent{Kind: agentv1.GrantEvent_KIND_UPSERT, Grant: g})
}

// Remove ends grant id and streams the removal.
func (s *Server) Remove(id, reason string) { s.remove(id, reason, false) }

// RemoveTerminating ends grant id and streams a removal that asks the
// host to end the grant's elevated processes too.
func (s *Server) RemoveTerminating(id, reason string) { s.remove(id, reason, true) }

func (s *Server) remove(id, reason string, terminate bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grants[id]
	if !ok {
		return
	}
	delete(s.grants, id)
	s.publishLocked(&agentv1.GrantEvent{Kind: agentv1.GrantEvent_KIND_REMOVE, Grant: g, Reason: reason, Terminate: terminate})
}

// RemoveQuietly ends grant id without telling anyone, as if the change
// happened while the agent was disconnected.
func (s *Server) RemoveQuietly(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.grants, id)
}

func (s *Server) publishLocked(ev *agentv1.GrantEvent) {
	s.revision++
	ev.Revision = s.revision
	for ch := range s.grantSubs {
		select {
		case ch <- ev:
		default:
			s.t.Errorf("cptest: grant subscriber is not keeping up; event %v dropped", ev.GetKind())
		}
	}
}

// subscribeGrants returns the snapshot for host and a channel of later
// events, atomically, so no change falls between the two.
func (s *Server) subscribeGrants(host string) ([]*agentv1.GrantEvent, chan *agentv1.GrantEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watches++
	var snap []*agentv1.GrantEvent
	for _, g := range s.grants {
		if forHost(g, host) {
			snap = append(snap, &agentv1.GrantEvent{Kind: agentv1.GrantEvent_KIND_UPSERT, Revision: s.revision, Grant: g})
		}
	}
	snap = append(snap, &agentv1.GrantEvent{Kind: agentv1.GrantEvent_KIND_SYNCED, Revision: s.revision})
	ch := make(chan *agentv1.GrantEvent, 256)
	s.grantSubs[ch] = true
	return snap, ch
}

func (s *Server) unsubscribeGrants(ch chan *agentv1.GrantEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.grantSubs, ch)
}

func forHost(g *commonv1.Grant, host string) bool {
	return g.GetHostId() == "" || g.GetHostId() == host
}

// Grant records g as the grant of a granted request (g's request id) and
// streams it, as if that request had been filed and approved already.
func (s *Server) Grant(g *commonv1.Grant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := timestamppb.Now()
	s.requests[g.GetRequestId()] = &commonv1.Request{Id: g.GetRequestId(), HostId: g.GetHostId(), User: g.GetUser(), Uid: g.GetUid(),
		Status: commonv1.RequestStatus_REQUEST_STATUS_GRANTED, Grant: g, CreatedAt: now, UpdatedAt: now}
	s.upsertLocked(g)
}
