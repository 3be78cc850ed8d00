package server

import (
	"context"
	"errors"
	"strings"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errorCodes is the one place core error kinds become gRPC codes.
var errorCodes = []struct {
	kind error
	code codes.Code
}{
	{errdefs.ErrNotFound, codes.NotFound},
	{errdefs.ErrInvalid, codes.InvalidArgument},
	{errdefs.ErrPermission, codes.PermissionDenied},
	{errdefs.ErrUnauthenticated, codes.Unauthenticated},
	{errdefs.ErrConflict, codes.FailedPrecondition},
	{errdefs.ErrUnavailable, codes.Unavailable},
	{errdefs.ErrNotImplemented, codes.Unimplemented},
	{errdefs.ErrTooManyAttempts, codes.ResourceExhausted},
	{context.Canceled, codes.Canceled},
	{context.DeadlineExceeded, codes.DeadlineExceeded},
}

// toStatus converts a core error for the wire. Unknown errors are internal
// and their text is not sent: it may name files or SQL.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	for _, e := range errorCodes {
		if errors.Is(err, e.kind) {
			// The code says the kind; the message stays one sentence.
			return status.Error(e.code, strings.TrimSuffix(err.Error(), ": "+e.kind.Error()))
		}
	}
	return status.Error(codes.Internal, "internal error; see the control plane log")
}
