package localapi

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var (
	errBusy         = errors.New("too many requests")
	errBadRequest   = errors.New("invalid request")
	errNotDelivered = errors.New("the grant did not reach this host")
	errNotEnforced  = errors.New("the grant could not be enforced on this host")
	errCallerLeft   = errors.New("caller stopped waiting")
	errNotFound     = errors.New("not found")
)

// localCodes maps the agent's own errors to what pamctl sees.
var localCodes = []struct {
	err  error
	code codes.Code
}{
	{errBusy, codes.ResourceExhausted},
	{errBadRequest, codes.InvalidArgument},
	{errNotDelivered, codes.Unavailable},
	{errNotEnforced, codes.FailedPrecondition},
	{errCallerLeft, codes.Canceled},
	{errNoRelay, codes.Unimplemented},
	{errNotFound, codes.NotFound},
	{context.Canceled, codes.Canceled},
	{context.DeadlineExceeded, codes.DeadlineExceeded},
}

// toStatus is the one place where errors become gRPC codes for pamctl.
// Control plane failures arrive as gRPC statuses: an unreachable control
// plane stays Unavailable, its verdicts pass through.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	for _, m := range localCodes {
		if errors.Is(err, m.err) {
			return status.Error(m.code, err.Error())
		}
	}
	if _, ok := status.FromError(err); ok {
		return upstream(err)
	}
	return status.Error(codes.Internal, err.Error())
}

func upstream(err error) error {
	st := status.Convert(err)
	switch st.Code() {
	case codes.Unavailable, codes.DeadlineExceeded:
		return status.Error(codes.Unavailable, "the control plane is unreachable: "+st.Message())
	case codes.Unauthenticated:
		return status.Error(codes.Unavailable, "the control plane does not accept this host's identity: "+st.Message())
	case codes.InvalidArgument, codes.PermissionDenied, codes.FailedPrecondition, codes.NotFound,
		codes.ResourceExhausted, codes.Canceled, codes.AlreadyExists:
		return st.Err()
	}
	return status.Error(codes.Internal, "control plane error: "+st.Message())
}
