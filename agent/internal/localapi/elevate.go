package localapi

import (
	"context"
	"fmt"
	"time"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
)

// Limits on what a local user may send upstream.
const (
	maxReasonLen = 1024
	maxCommands  = 32
)

// cancelTimeout bounds withdrawing a request after pamctl went away.
const cancelTimeout = 5 * time.Second

// Elevate files a request for the caller and follows it to a decision.
func (s *Server) Elevate(req *localv1.ElevateRequest, stream localv1.LocalAgent_ElevateServer) error {
	ctx := stream.Context()
	in, err := s.elevationRequest(ctx, req)
	if err != nil {
		return toStatus(err)
	}
	release, err := s.admit(in.GetUid())
	if err != nil {
		return toStatus(err)
	}
	defer release()
	return toStatus(s.fileAndFollow(ctx, in, req.GetNoWait(), stream.Send))
}

// fileAndFollow files in upstream and follows it to a decision. While it
// runs, the request is the caller's to answer (SubmitOTP) or withdraw.
func (s *Server) fileAndFollow(ctx context.Context, in *agentv1.ElevationRequest, noWait bool, send func(*localv1.ElevateUpdate) error) error {
	filed, err := s.o.ControlPlane.RequestElevation(ctx, in)
	if err != nil {
		return err
	}
	s.o.Log.Info("elevation requested", "request_id", filed.GetId(), "user", in.GetUser(), "uid", in.GetUid(),
		"session", in.GetContext().GetSessionId(), "tty", in.GetContext().GetTtyName(),
		"source", in.GetContext().GetSourceAddress(), "recorded", in.GetContext().GetRecorded(), "status", filed.GetStatus().String())
	defer s.track(filed.GetId(), in.GetUid())()
	e := &elevation{s: s, send: send}
	return e.follow(ctx, filed, noWait)
}

// elevationRequest builds the upstream request from the caller's kernel
// identity and process; only duration, reason, commands and otp come
// from the caller.
func (s *Server) elevationRequest(ctx context.Context, req *localv1.ElevateRequest) (*agentv1.ElevationRequest, error) {
	if err := checkElevate(req); err != nil {
		return nil, err
	}
	c, err := CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	name, err := lookupName(ctx, c.UID)
	if err != nil {
		return nil, err
	}
	rc, err := requestContext(c)
	if err != nil {
		return nil, err
	}
	return &agentv1.ElevationRequest{
		User: name, Uid: c.UID, Duration: req.GetDuration(), Reason: req.GetReason(),
		Commands: req.GetCommands(), Otp: req.GetOtp(), Context: rc,
	}, nil
}

func checkElevate(req *localv1.ElevateRequest) error {
	switch d := req.GetDuration(); {
	case d == nil || d.CheckValid() != nil || d.AsDuration() <= 0:
		return fmt.Errorf("%w: duration must be positive", errBadRequest)
	case len(req.GetReason()) > maxReasonLen:
		return fmt.Errorf("%w: reason is longer than %d bytes", errBadRequest, maxReasonLen)
	case len(req.GetCommands()) > maxCommands:
		return fmt.Errorf("%w: more than %d commands", errBadRequest, maxCommands)
	}
	return nil
}
