package localapi

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Caller is the process on the other end of the socket, as the kernel
// reported it when it connected.
type Caller struct {
	UID, GID uint32
	PID      int32
}

type peerInfo struct {
	credentials.CommonAuthInfo
	caller Caller
}

func (peerInfo) AuthType() string { return "peercred" }

// CallerFrom is the caller of an RPC; the only source of who is asking.
func CallerFrom(ctx context.Context) (Caller, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return Caller{}, status.Error(codes.Unauthenticated, "no peer information")
	}
	info, ok := p.AuthInfo.(peerInfo)
	if !ok {
		return Caller{}, status.Error(codes.Unauthenticated, "caller not identified by peer credentials")
	}
	return info.caller, nil
}
