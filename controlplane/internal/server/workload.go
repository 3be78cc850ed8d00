package server

import (
	"context"

	"github.com/zpam/zpam/controlplane/internal/requests"
	adminv1 "github.com/zpam/zpam/proto/zpam/admin/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// workloadService adapts WorkloadService to the core. The workload is the
// SPIFFE ID of the caller's certificate.
type workloadService struct {
	adminv1.UnimplementedWorkloadServiceServer
	core *requests.Service
}

func (w *workloadService) RequestGrant(ctx context.Context, req *adminv1.WorkloadGrantRequest) (*adminv1.WorkloadGrantResponse, error) {
	views, err := w.core.RequestWorkloadGrant(ctx, requests.WorkloadRequest{
		WorkloadID: identityFrom(ctx).Name, ServiceAccount: req.GetServiceAccount(), HostLabels: req.GetHostLabels(),
		Commands: req.GetCommands(), Duration: req.GetDuration().AsDuration(), Reason: req.GetReason(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	out := &adminv1.WorkloadGrantResponse{Requests: make([]*commonv1.Request, 0, len(views))}
	for _, v := range views {
		out.Requests = append(out.Requests, viewToProto(v))
	}
	return out, nil
}
