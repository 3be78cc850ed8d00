package server_test

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/controlplane/internal/ca"
	"github.com/zpam/zpam/controlplane/internal/config"
	adminv1 "github.com/zpam/zpam/proto/zpam/admin/v1"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

func upload(t *testing.T, c agentv1.TelemetryServiceClient, evs ...*commonv1.Event) *agentv1.UploadAck {
	t.Helper()
	stream, err := c.Upload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&agentv1.EventBatch{BatchSeq: 7, Events: evs}); err != nil {
		t.Fatal(err)
	}
	ack, err := stream.Recv()
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	_ = stream.CloseSend()
	return ack
}

func hostEvent(id, user string) *commonv1.Event {
	return &commonv1.Event{Id: id, HostId: "someone-else", Time: timestamppb.Now(), Kind: commonv1.EventKind_EVENT_KIND_EXEC, User: user,
		Detail: &commonv1.Event_Exec{Exec: &commonv1.ExecEvent{Filename: "/usr/bin/id", Argv: []string{"id", id}}}}
}

func TestTelemetryUploadIsIdempotentAndScopedToTheHost(t *testing.T) {
	srv, dir := startServer(t)
	addr, pool := srv.GRPCAddr().String(), caPool(t, dir)
	anon := dial(t, addr, pool, nil)
	hostA, err := enrollHost(t, anon, newToken(t, dir, "env=dev"), nil)
	if err != nil {
		t.Fatal(err)
	}
	hostB, err := enrollHost(t, anon, newToken(t, dir, "env=dev"), nil)
	if err != nil {
		t.Fatal(err)
	}
	connA, connB := dial(t, addr, pool, &hostA.cert), dial(t, addr, pool, &hostB.cert)
	adminConn := dial(t, addr, pool, ptr(adminCert(t, dir)))
	ctx := context.Background()

	ack := upload(t, agentv1.NewTelemetryServiceClient(connA), hostEvent("e1", "alice"), hostEvent("e2", "bob"), &commonv1.Event{Kind: commonv1.EventKind_EVENT_KIND_EXEC})
	if ack.GetBatchSeq() != 7 || ack.GetStored() != 2 || ack.GetRejected() != 1 {
		t.Fatalf("ack %v; want batch 7, 2 stored, 1 rejected", ack)
	}
	if ack := upload(t, agentv1.NewTelemetryServiceClient(connA), hostEvent("e1", "alice")); ack.GetStored() != 0 || ack.GetDuplicates() != 1 {
		t.Fatalf("resend ack %v; want 1 duplicate", ack)
	}
	upload(t, agentv1.NewTelemetryServiceClient(connB), hostEvent("e1", "carol")) // same id, other host: its own event

	audit := adminv1.NewAuditServiceClient(adminConn)
	all, err := audit.Query(ctx, &commonv1.AuditFilter{Kinds: []commonv1.EventKind{commonv1.EventKind_EVENT_KIND_EXEC}})
	if err != nil || len(all.GetEvents()) != 3 {
		t.Fatalf("admin query: %v, %v; want 3 exec events", all, err)
	}
	for _, ev := range all.GetEvents() {
		if want := map[string]string{"alice": hostA.id, "bob": hostA.id, "carol": hostB.id}[ev.GetUser()]; ev.GetHostId() != want {
			t.Fatalf("event of %s stored for host %q; want %q from the certificate", ev.GetUser(), ev.GetHostId(), want)
		}
	}

	relayB := agentv1.NewHostAuditServiceClient(connB)
	got, err := relayB.Query(ctx, &agentv1.HostAuditRequest{Filter: &commonv1.AuditFilter{Host: hostA.id}})
	if err != nil || len(got.GetEvents()) != 0 {
		t.Fatalf("host B asking for host A's events got %v, %v; want none", got, err)
	}
	relayA := agentv1.NewHostAuditServiceClient(connA)
	got, err = relayA.Query(ctx, &agentv1.HostAuditRequest{Filter: &commonv1.AuditFilter{Kinds: []commonv1.EventKind{commonv1.EventKind_EVENT_KIND_EXEC}}, OnlyUser: "bob"})
	if err != nil || len(got.GetEvents()) != 1 || got.GetEvents()[0].GetUser() != "bob" {
		t.Fatalf("host A for bob got %v, %v; want bob's one event", got, err)
	}

	stream, err := agentv1.NewTelemetryServiceClient(adminConn).Upload(ctx)
	if err == nil {
		_ = stream.Send(&agentv1.EventBatch{Events: []*commonv1.Event{hostEvent("e9", "mallory")}})
		_, err = stream.Recv()
	}
	wantCode(t, err, codes.PermissionDenied)
	_, err = adminv1.NewAuditServiceClient(connA).Query(ctx, &commonv1.AuditFilter{})
	wantCode(t, err, codes.PermissionDenied)
}

func TestLifecycleEventsAppearInTheAuditTrail(t *testing.T) {
	srv, dir := startServer(t)
	addr, pool := srv.GRPCAddr().String(), caPool(t, dir)
	h, err := enrollHost(t, dial(t, addr, pool, nil), newToken(t, dir, "env=dev"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	req, err := agentv1.NewAgentServiceClient(dial(t, addr, pool, &h.cert)).RequestElevation(ctx, elevation("alice"))
	if err != nil {
		t.Fatal(err)
	}
	audit := adminv1.NewAuditServiceClient(dial(t, addr, pool, ptr(adminCert(t, dir))))
	got, err := audit.Query(ctx, &commonv1.AuditFilter{Grant: req.GetId(), Kinds: []commonv1.EventKind{commonv1.EventKind_EVENT_KIND_GRANT}})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, ev := range got.GetEvents() {
		actions = append(actions, ev.GetGrant().GetAction())
		if ev.GetHostId() != h.id || ev.GetUser() != "alice" {
			t.Fatalf("lifecycle event %v; want host %s and user alice", ev, h.id)
		}
	}
	if len(actions) < 2 || actions[0] != "requested" || actions[len(actions)-1] != "granted" {
		t.Fatalf("lifecycle actions %v; want requested … granted", actions)
	}
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	follow, err := audit.Follow(fctx, &commonv1.AuditFilter{Kinds: []commonv1.EventKind{commonv1.EventKind_EVENT_KIND_GRANT}, Since: timestamppb.New(time.Now().Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adminv1.NewAdminServiceClient(dial(t, addr, pool, ptr(adminCert(t, dir)))).Revoke(ctx, &adminv1.RevokeRequest{Id: req.GetId()}); err != nil {
		t.Fatal(err)
	}
	ev, err := follow.Recv()
	if err != nil || ev.GetGrant().GetAction() != "revoked" {
		t.Fatalf("follow got %v, %v; want the revocation as it happens", ev, err)
	}
}

// personCert is a person credential for name, as pam-controlplane user
// credential issues one.
func personCert(t *testing.T, dir, name string) tls.Certificate {
	t.Helper()
	auth, err := ca.Load(config.Layout{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := auth.IssueClient(ca.Identity{Kind: ca.KindPerson, Name: name}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestAuditForPeople: an approver's own credential sees the fleet's
// trail; a person who approves for no role sees only their own events,
// whatever they ask for.
func TestAuditForPeople(t *testing.T) {
	srv, dir := startServer(t)
	addr, pool := srv.GRPCAddr().String(), caPool(t, dir)
	h, err := enrollHost(t, dial(t, addr, pool, nil), newToken(t, dir, "env=dev"), nil)
	if err != nil {
		t.Fatal(err)
	}
	upload(t, agentv1.NewTelemetryServiceClient(dial(t, addr, pool, &h.cert)), hostEvent("e1", "alice"), hostEvent("e2", "dave"))
	ctx := context.Background()
	users := func(name string, f *commonv1.AuditFilter) []string {
		t.Helper()
		resp, err := adminv1.NewAuditServiceClient(dial(t, addr, pool, ptr(personCert(t, dir, name)))).Query(ctx, f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var out []string
		for _, ev := range resp.GetEvents() {
			out = append(out, ev.GetUser())
		}
		return out
	}
	exec := []commonv1.EventKind{commonv1.EventKind_EVENT_KIND_EXEC}
	if got := users("bob", &commonv1.AuditFilter{Kinds: exec}); len(got) != 2 { // testPolicy: bob approves prod-approved
		t.Fatalf("approver bob sees %v; want the fleet's two events", got)
	}
	if got := users("dave", &commonv1.AuditFilter{Kinds: exec}); len(got) != 1 || got[0] != "dave" {
		t.Fatalf("dave sees %v; want only his own event", got)
	}
	if got := users("dave", &commonv1.AuditFilter{Kinds: exec, User: "alice"}); len(got) != 0 {
		t.Fatalf("dave asking for alice's events sees %v; want none", got)
	}
}
