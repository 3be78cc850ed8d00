package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/zpam/zpam/proto/zpam/admin/v1"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

func execUnder(g *commonv1.Grant, id string, argv ...string) *commonv1.Event {
	return &commonv1.Event{Id: id, Time: timestamppb.Now(), Kind: commonv1.EventKind_EVENT_KIND_EXEC, User: g.GetUser(),
		GrantId: g.GetId(), RequestId: g.GetRequestId(), Detail: &commonv1.Event_Exec{Exec: &commonv1.ExecEvent{
			Process: &commonv1.Process{Pid: 4242, Euid: 0}, Filename: "/usr/bin/" + argv[0], Argv: argv, Cwd: "/root"}}}
}

// TestDetectionOnUploadRevokesAndIsReported: a command uploaded under a
// grant that a rule matches ends the grant on its host's stream before
// the upload is acknowledged; the finding is on the request, in
// RiskService.ListFindings and in the residue report with the host's
// snapshot; an ordinary command, and another host's upload naming the
// grant, do nothing.
func TestDetectionOnUploadRevokesAndIsReported(t *testing.T) {
	srv, dir := startServer(t)
	addr, pool := srv.GRPCAddr().String(), caPool(t, dir)
	anon := dial(t, addr, pool, nil)
	h, err := enrollHost(t, anon, newToken(t, dir, "env=dev"), nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := enrollHost(t, anon, newToken(t, dir, "env=dev"), nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, otherConn, adminConn := dial(t, addr, pool, &h.cert), dial(t, addr, pool, &other.cert), dial(t, addr, pool, ptr(adminCert(t, dir)))
	agent := agentv1.NewAgentServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := agent.WatchGrants(ctx, &agentv1.WatchGrantsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if ev := recv(t, stream); ev.GetKind() != agentv1.GrantEvent_KIND_SYNCED {
		t.Fatalf("first event %v", ev)
	}
	req, err := agent.RequestElevation(ctx, elevation("alice"))
	if err != nil || req.GetGrant() == nil {
		t.Fatalf("elevate: %v %v", req, err)
	}
	if req.GetRisk().GetScore() != 15 || req.GetRisk().GetFactors()[0].GetName() != "no_history" {
		t.Fatalf("risk of a first request: %v", req.GetRisk())
	}
	g := req.GetGrant()
	if ev := recv(t, stream); ev.GetKind() != agentv1.GrantEvent_KIND_UPSERT {
		t.Fatalf("want UPSERT, got %v", ev)
	}

	upload(t, agentv1.NewTelemetryServiceClient(otherConn), execUnder(g, "x1", "rm", "/var/log/auth.log"))
	upload(t, agentv1.NewTelemetryServiceClient(conn), execUnder(g, "e1", "id", "-u"))
	// The ack comes after detection ran over the batch: an ordinary
	// command, and another host's report of a log deletion under this
	// grant, left the grant in force with no finding.
	risk := adminv1.NewRiskServiceClient(adminConn)
	if fs, err := risk.ListFindings(ctx, &adminv1.ListFindingsRequest{Grant: g.GetId()}); err != nil || len(fs.GetFindings()) != 0 {
		t.Fatalf("findings after id -u: %v %v", fs, err)
	}
	granted, err := adminv1.NewAdminServiceClient(adminConn).ListRequests(ctx, &adminv1.ListRequestsRequest{Statuses: []commonv1.RequestStatus{commonv1.RequestStatus_REQUEST_STATUS_GRANTED}})
	if err != nil || len(granted.GetRequests()) != 1 || granted.GetRequests()[0].GetGrant().GetId() != g.GetId() {
		t.Fatalf("granted requests after id -u: %v %v", granted, err)
	}
	ack := upload(t, agentv1.NewTelemetryServiceClient(conn), execUnder(g, "e2", "rm", "/var/log/zpam-test.log"))
	if ack.GetStored() != 1 {
		t.Fatalf("ack %v", ack)
	}
	ev := recv(t, stream)
	if ev.GetKind() != agentv1.GrantEvent_KIND_REMOVE || ev.GetGrant().GetId() != g.GetId() || !strings.Contains(ev.GetReason(), "detection log-deletion (high)") {
		t.Fatalf("host got %v, want the REMOVE", ev)
	}

	fs, err := risk.ListFindings(ctx, &adminv1.ListFindingsRequest{})
	if err != nil || len(fs.GetFindings()) != 1 {
		t.Fatalf("findings %v %v", fs, err)
	}
	f := fs.GetFindings()[0]
	if f.GetRule() != "log-deletion" || f.GetGrantId() != g.GetId() || f.GetHostname() == "" || f.GetEvidence()[0].GetEventId() != "e2" || f.GetEvidence()[0].GetPid() != 4242 {
		t.Fatalf("finding %v", f)
	}
	list, err := adminv1.NewAdminServiceClient(adminConn).ListRequests(ctx, &adminv1.ListRequestsRequest{Statuses: []commonv1.RequestStatus{commonv1.RequestStatus_REQUEST_STATUS_REVOKED}})
	if err != nil || len(list.GetRequests()) != 1 || len(list.GetRequests()[0].GetFindings()) != 1 || list.GetRequests()[0].GetRisk().GetScore() != 15 {
		t.Fatalf("revoked requests %v %v", list, err)
	}

	snap := &commonv1.Event{Id: "r1", Time: timestamppb.Now(), Kind: commonv1.EventKind_EVENT_KIND_RESIDUE, User: "alice", GrantId: g.GetId(),
		Detail: &commonv1.Event_Residue{Residue: &commonv1.ResidueSnapshot{Ended: "removed", Changes: []*commonv1.ResidueChange{
			{Category: "log", Change: "removed", Item: "/var/log/zpam-test.log"}}}}}
	upload(t, agentv1.NewTelemetryServiceClient(conn), snap, execUnder(g, "e3", "tee", "/etc/sudoers.d/alice"))
	rep, err := risk.Residue(ctx, &adminv1.ResidueRequest{Id: req.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.GetState() != "revoked" || len(rep.GetFindings()) != 2 || len(rep.GetSnapshots()) != 1 || rep.GetSnapshots()[0].GetChanges()[0].GetItem() != "/var/log/zpam-test.log" ||
		rep.GetCommands() != 3 || len(rep.GetMentioned()) != 2 || rep.GetMentioned()[1].GetCategory() != "sudoers" {
		t.Fatalf("residue %v", rep)
	}
	hostRep, err := agentv1.NewHostRiskServiceClient(otherConn).Residue(ctx, &agentv1.HostResidueRequest{Id: g.GetId()})
	wantCode(t, err, codes.NotFound)
	_ = hostRep
	if _, err := agentv1.NewHostRiskServiceClient(conn).Residue(ctx, &agentv1.HostResidueRequest{Id: g.GetId(), OnlyUser: "bob"}); err == nil {
		t.Fatal("bob read alice's residue through the host")
	}
	if r, err := agentv1.NewHostRiskServiceClient(conn).Residue(ctx, &agentv1.HostResidueRequest{Id: g.GetId(), OnlyUser: "alice"}); err != nil || r.GetGrantId() != g.GetId() {
		t.Fatalf("alice's own residue through her host: %v %v", r, err)
	}
	hostFindings := func(c agentv1.HostRiskServiceClient, only string) int {
		t.Helper()
		resp, err := c.ListFindings(ctx, &agentv1.HostFindingsRequest{OnlyUser: only})
		if err != nil {
			t.Fatalf("host findings: %v", err)
		}
		return len(resp.GetFindings())
	}
	if n := hostFindings(agentv1.NewHostRiskServiceClient(otherConn), ""); n != 0 {
		t.Fatalf("another host listed %d findings of this host's grant", n)
	}
	if own, bob := hostFindings(agentv1.NewHostRiskServiceClient(conn), "alice"), hostFindings(agentv1.NewHostRiskServiceClient(conn), "bob"); own != 2 || bob != 0 {
		t.Fatalf("through the grant's host: alice's %d findings, bob's %d; want 2 and 0", own, bob)
	}
	_, err = risk.ResumeGrant(ctx, &adminv1.ResumeRequest{Id: g.GetId(), Otp: "123456"})
	wantCode(t, err, codes.PermissionDenied)
}
