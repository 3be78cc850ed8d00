package localapi_test

import (
	"context"
	"os"
	"os/user"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/zpam/zpam/agent/internal/cpclient/cptest"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
	"github.com/zpam/zpam/tests/prereq"
)

// TestNoLocalRequestNamesAUser: the caller of the local API is always the
// SO_PEERCRED uid, because no request message has a field that could name
// anyone else.
func TestNoLocalRequestNamesAUser(t *testing.T) {
	banned := map[string]bool{"user": true, "uid": true, "username": true, "user_name": true, "gid": true, "pid": true, "session_id": true}
	seen := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("zpam.local.v1", func(fd protoreflect.FileDescriptor) bool {
		svcs := fd.Services()
		for i := range svcs.Len() {
			methods := svcs.Get(i).Methods()
			for j := range methods.Len() {
				seen++
				checkFields(t, methods.Get(j).Input(), banned, map[protoreflect.FullName]bool{})
			}
		}
		return true
	})
	if seen < 10 {
		t.Fatalf("found %d local RPCs; the registry walk is broken", seen)
	}
}

// filters are fields that name a user to narrow a query, not to act as
// them; the handler holds them to the caller (pamctl audit --user: a
// non-root caller sees only their own events).
var filters = map[protoreflect.FullName]bool{"zpam.common.v1.AuditFilter.user": true}

func checkFields(t *testing.T, md protoreflect.MessageDescriptor, banned map[string]bool, done map[protoreflect.FullName]bool) {
	if done[md.FullName()] {
		return
	}
	done[md.FullName()] = true
	fields := md.Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		if banned[string(f.Name())] && !filters[f.FullName()] {
			t.Errorf("%s.%s lets a caller name an identity", md.FullName(), f.Name())
		}
		if f.Message() != nil {
			checkFields(t, f.Message(), banned, done)
		}
	}
}

func TestElevateAsksForTheCodeOnTheSameRequest(t *testing.T) {
	h, agent := start(t, nil)
	h.CP.SetDecider(cptest.NeedsCode)
	h.CP.SetCode("424242")
	stream, err := agent.Elevate(context.Background(), elevateReq())
	if err != nil {
		t.Fatal(err)
	}
	u := recv(t, stream)
	if u.GetRequest().GetStatus() != commonv1.RequestStatus_REQUEST_STATUS_PENDING_MFA {
		t.Fatalf("first update %v, want PENDING_MFA", u)
	}
	id := u.GetRequest().GetId()
	if _, err := agent.SubmitOTP(context.Background(), &localv1.LocalSubmitOTPRequest{RequestId: "r-99", Otp: "424242"}); status.Code(err) != codes.NotFound {
		t.Fatalf("code for a request that is not the caller's open elevation: %v, want NotFound", err)
	}
	if _, err := agent.SubmitOTP(context.Background(), &localv1.LocalSubmitOTPRequest{RequestId: id, Otp: "424242"}); err != nil {
		t.Fatal(err)
	}
	for u.GetRequest().GetStatus() != commonv1.RequestStatus_REQUEST_STATUS_GRANTED {
		u = recv(t, stream)
	}
	if u.GetRequest().GetId() != id || !u.GetEnforced() {
		t.Fatalf("final update %v; want request %s granted and enforced", u, id)
	}
}

func TestCancelRequestWithdrawsTheCallersElevation(t *testing.T) {
	h, agent := start(t, nil)
	stream, err := agent.Elevate(context.Background(), elevateReq())
	if err != nil {
		t.Fatal(err)
	}
	id := recv(t, stream).GetRequest().GetId()
	r, err := agent.CancelRequest(context.Background(), &localv1.LocalCancelRequest{RequestId: id})
	if err != nil || r.GetStatus() != commonv1.RequestStatus_REQUEST_STATUS_CANCELED {
		t.Fatalf("cancel: %v %v", r, err)
	}
	if got := h.CP.Request(id).GetStatus(); got != commonv1.RequestStatus_REQUEST_STATUS_CANCELED {
		t.Fatalf("upstream status %v", got)
	}
}

func TestApprovalsAreRelayedForTheCaller(t *testing.T) {
	me, err := user.LookupId(strconv.Itoa(os.Getuid()))
	if err != nil {
		prereq.Missing(t, "uid %d has no user name: %v", os.Getuid(), err)
	}
	h, agent := start(t, nil)
	h.CP.SetCode("111111")
	theirs := h.CP.FileAs("dora", func(string, *agentv1.ElevationRequest) *commonv1.Request {
		return &commonv1.Request{Status: commonv1.RequestStatus_REQUEST_STATUS_PENDING_APPROVAL, ApprovalsNeeded: 1, ApproversAllowed: []string{me.Username}}
	})
	list, err := agent.ListRequests(context.Background(), &localv1.LocalListRequestsRequest{})
	if err != nil || len(list.GetToApprove()) != 1 || list.GetToApprove()[0].GetId() != theirs.GetId() {
		t.Fatalf("list %v %v; want dora's request to approve", list, err)
	}
	_, err = agent.Approve(context.Background(), &localv1.LocalDecideRequest{RequestId: theirs.GetId()})
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(status.Convert(err).Message(), "one-time code") {
		t.Fatalf("approve without a code: %v; want PermissionDenied asking for the code", err)
	}
	r, err := agent.Approve(context.Background(), &localv1.LocalDecideRequest{RequestId: theirs.GetId(), Otp: "111111"})
	if err != nil || r.GetStatus() != commonv1.RequestStatus_REQUEST_STATUS_GRANTED || r.GetApprovedBy()[0] != me.Username {
		t.Fatalf("approve: %v %v; want granted by %s", r, err, me.Username)
	}
	if _, err := agent.Revoke(context.Background(), &localv1.LocalRevokeRequest{Id: r.GetGrant().GetId()}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("revoking dora's grant: %v; want PermissionDenied", err)
	}
}
