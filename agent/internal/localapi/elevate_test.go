package localapi_test

import (
	"context"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/zpam/zpam/agent/internal/cpclient/cptest"
	"github.com/zpam/zpam/agent/internal/grant/granttest"
	"github.com/zpam/zpam/agent/internal/kernel"
	"github.com/zpam/zpam/agent/internal/localapi/localapitest"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
)

func elevateReq() *localv1.ElevateRequest {
	return &localv1.ElevateRequest{Duration: durationpb.New(15 * time.Minute), Reason: "INC-4411 disk full"}
}

func recv(t *testing.T, s localv1.LocalAgent_ElevateClient) *localv1.ElevateUpdate {
	t.Helper()
	u, err := s.Recv()
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	return u
}

func TestElevateSendsGrantedOnlyOnceTheKernelHasTheGrant(t *testing.T) {
	k := granttest.New()
	release := make(chan struct{})
	k.BeforePut = func(kernel.Grant) { <-release }
	h, agent := start(t, k)
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // runs before the harness stops, even on failure
	h.CP.SetDecider(cptest.AutoApprove)

	stream, err := agent.Elevate(context.Background(), elevateReq())
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *localv1.ElevateUpdate, 1)
	go func() {
		u, _ := stream.Recv()
		got <- u
	}()
	select {
	case u := <-got:
		t.Fatalf("update %v sent before the kernel write", u)
	case <-time.After(200 * time.Millisecond):
	}
	unblock()
	u := <-got
	if u.GetRequest().GetStatus() != commonv1.RequestStatus_REQUEST_STATUS_GRANTED || !u.GetEnforced() {
		t.Fatalf("update = %v, want GRANTED and enforced", u)
	}
	if !k.Has(u.GetRequest().GetGrant().GetId()) {
		t.Fatalf("told enforced, but the kernel holds %v", k.IDs())
	}
}

func TestElevateFilesTheCallersOwnIdentityAndContext(t *testing.T) {
	h, agent := start(t, nil)
	h.CP.SetDecider(cptest.AutoApprove)
	stream, err := agent.Elevate(context.Background(), elevateReq())
	if err != nil {
		t.Fatal(err)
	}
	u := recv(t, stream)
	r := h.CP.Request(u.GetRequest().GetId())
	if r.GetUid() != uint32(os.Getuid()) || r.GetUser() == "" {
		t.Fatalf("filed for uid %d user %q, want uid %d and a name", r.GetUid(), r.GetUser(), os.Getuid())
	}
	if r.GetContext().GetPid() != uint32(os.Getpid()) || r.GetContext().GetParentCommand() == "" {
		t.Fatalf("context = %v, want this process (pid %d) and its parent", r.GetContext(), os.Getpid())
	}
	if r.GetReason() != "INC-4411 disk full" || r.GetDuration().AsDuration() != 15*time.Minute {
		t.Fatalf("reason %q duration %v not passed through", r.GetReason(), r.GetDuration().AsDuration())
	}
}

func TestElevateWaitsForApproval(t *testing.T) {
	h, agent := start(t, nil)
	stream, err := agent.Elevate(context.Background(), elevateReq())
	if err != nil {
		t.Fatal(err)
	}
	u := recv(t, stream)
	if u.GetRequest().GetStatus() != commonv1.RequestStatus_REQUEST_STATUS_PENDING_APPROVAL {
		t.Fatalf("first update %v, want pending approval", u)
	}
	h.CP.Approve(u.GetRequest().GetId())
	for u.GetRequest().GetStatus() != commonv1.RequestStatus_REQUEST_STATUS_GRANTED {
		u = recv(t, stream)
	}
	if !u.GetEnforced() || !h.Kernel.Has(u.GetRequest().GetGrant().GetId()) {
		t.Fatalf("granted update %v not backed by the kernel (%v)", u, h.Kernel.IDs())
	}
}

func TestElevateDenied(t *testing.T) {
	h, agent := start(t, nil)
	h.CP.SetDecider(cptest.Deny("outside allowed hours"))
	stream, err := agent.Elevate(context.Background(), elevateReq())
	if err != nil {
		t.Fatal(err)
	}
	u := recv(t, stream)
	if u.GetRequest().GetStatus() != commonv1.RequestStatus_REQUEST_STATUS_DENIED || u.GetRequest().GetStatusReason() != "outside allowed hours" {
		t.Fatalf("update = %v, want DENIED with the reason", u)
	}
	if _, err := stream.Recv(); err == nil {
		t.Fatal("stream went on after a final status")
	}
	if len(h.Kernel.IDs()) != 0 {
		t.Fatalf("a denial wrote %v to the kernel", h.Kernel.IDs())
	}
}

func TestElevateWithdrawsWhenTheCallerLeaves(t *testing.T) {
	h, agent := start(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := agent.Elevate(ctx, elevateReq())
	if err != nil {
		t.Fatal(err)
	}
	id := recv(t, stream).GetRequest().GetId()
	cancel()
	localapitest.Eventually(t, "request canceled upstream", func() bool { return slices.Contains(h.CP.Canceled(), id) })
}

func TestElevateWithoutControlPlaneIsUnavailable(t *testing.T) {
	h, agent := start(t, nil)
	h.CP.Stop()
	stream, err := agent.Elevate(context.Background(), elevateReq())
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("Elevate with the control plane down = %v, want Unavailable", err)
	}
}

func TestElevateRejectsBadDuration(t *testing.T) {
	_, agent := start(t, nil)
	stream, err := agent.Elevate(context.Background(), &localv1.ElevateRequest{Duration: durationpb.New(-time.Minute)})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("negative duration = %v, want InvalidArgument", err)
	}
}
