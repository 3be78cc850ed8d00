package localapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/zpam/zpam/agent/internal/breakglass"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
)

// BreakGlass opens emergency windows under the cached signed policy.
type BreakGlass interface {
	Open(ctx context.Context, c breakglass.Caller, reason string, d time.Duration) (*commonv1.Grant, bool, error)
}

// breakGlassServer serves LocalBreakGlass next to LocalAgent.
type breakGlassServer struct {
	localv1.UnimplementedLocalBreakGlassServer
	s *Server
}

// breakGlassCodes maps break-glass refusals to what pamctl sees.
var breakGlassCodes = []struct {
	err  error
	code codes.Code
}{
	{breakglass.ErrRefused, codes.PermissionDenied},
	{breakglass.ErrBadRequest, codes.InvalidArgument},
	{breakglass.ErrNoPolicy, codes.FailedPrecondition},
}

func (b *breakGlassServer) BreakGlass(ctx context.Context, req *localv1.BreakGlassRequest) (*localv1.BreakGlassResponse, error) {
	if b.s.o.BreakGlass == nil {
		return nil, status.Error(codes.Unimplemented, "break-glass is not set up on this agent")
	}
	c, err := b.caller(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	d := req.GetDuration()
	if d != nil && d.CheckValid() != nil {
		return nil, status.Error(codes.InvalidArgument, "duration is not valid")
	}
	g, reported, err := b.s.o.BreakGlass.Open(ctx, c, req.GetReason(), d.AsDuration())
	for _, m := range breakGlassCodes {
		if errors.Is(err, m.err) {
			b.s.o.Log.Warn("break-glass refused", "user", c.User, "uid", c.UID, "err", err)
			return nil, status.Error(m.code, err.Error())
		}
	}
	if err != nil {
		return nil, toStatus(err)
	}
	msg := "break-glass window open; reported to the control plane"
	if !reported {
		msg = "break-glass window open; it is reported to the control plane as soon as it is reachable"
	}
	return &localv1.BreakGlassResponse{Grant: g, Reported: reported, Message: msg}, nil
}

// caller is who asks, from the kernel's view of the connecting process.
func (b *breakGlassServer) caller(ctx context.Context) (breakglass.Caller, error) {
	c, err := CallerFrom(ctx)
	if err != nil {
		return breakglass.Caller{}, err
	}
	name, err := lookupName(ctx, c.UID)
	if err != nil {
		return breakglass.Caller{}, err
	}
	rc, err := requestContext(c)
	if err != nil {
		return breakglass.Caller{}, fmt.Errorf("read caller process: %w", err)
	}
	return breakglass.Caller{User: name, UID: c.UID, SessionID: rc.GetSessionId(), TTY: rc.GetTtyName(), PID: uint32(c.PID)}, nil
}
