package localapi

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
)

// Status reports the mode and the caller's own grants and denials.
func (s *Server) Status(ctx context.Context, _ *localv1.StatusRequest) (*localv1.StatusResponse, error) {
	c, err := CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	grants, err := s.o.Grants.ForUID(c.UID)
	if err != nil {
		return nil, toStatus(err)
	}
	return &localv1.StatusResponse{
		Mode: string(s.o.Mode), User: userName(ctx, c.UID), Uid: c.UID, HostId: s.o.HostID,
		ControlPlaneConnected: s.o.ControlPlane.Connected(), Grants: grants,
		RecentDenials: s.denials(c.UID), AgentVersion: s.o.Version,
	}, nil
}

func (s *Server) denials(uid uint32) []*localv1.Denial {
	evs := s.o.Denials.Recent(uid)
	out := make([]*localv1.Denial, 0, len(evs))
	for _, ev := range evs {
		out = append(out, &localv1.Denial{Time: timestamppb.New(ev.Time), Filename: ev.Filename, Pid: ev.PID, Uid: ev.UID})
	}
	return out
}

// userName is best effort: status still answers for a uid without a
// name.
func userName(ctx context.Context, uid uint32) string {
	name, _ := lookupName(ctx, uid)
	return name
}
