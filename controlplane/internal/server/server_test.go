package server_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zpam/zpam/controlplane/internal/ca"
	"github.com/zpam/zpam/controlplane/internal/config"
	adminv1 "github.com/zpam/zpam/proto/zpam/admin/v1"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"
)

func elevation(user string) *agentv1.ElevationRequest {
	return &agentv1.ElevationRequest{
		User: user, Uid: 1000, Duration: durationpb.New(10 * time.Minute), Reason: "INC-1 disk full",
		Context: &commonv1.RequestContext{Tty: true, SessionId: 7},
	}
}

func TestEndToEnd(t *testing.T) {
	srv, dir := startServer(t)
	addr, pool := srv.GRPCAddr().String(), caPool(t, dir)
	anon := dial(t, addr, pool, nil)
	ctx := context.Background()

	token := newToken(t, dir, "env=dev")
	hostA, err := enrollHost(t, anon, token, map[string]string{"env": "prod", "rack": "r1"})
	if err != nil {
		t.Fatal(err)
	}
	if hostA.labels["env"] != "dev" || hostA.labels["rack"] != "r1" {
		t.Fatalf("labels %v: token labels must win and requested ones stay", hostA.labels)
	}
	_, err = enrollHost(t, anon, token, nil)
	wantCode(t, err, codes.Unauthenticated)
	hostB, err := enrollHost(t, anon, newToken(t, dir, "env=prod"), nil)
	if err != nil {
		t.Fatal(err)
	}

	agentA := agentv1.NewAgentServiceClient(dial(t, addr, pool, &hostA.cert))
	agentB := agentv1.NewAgentServiceClient(dial(t, addr, pool, &hostB.cert))
	admin := adminv1.NewAdminServiceClient(dial(t, addr, pool, ptr(adminCert(t, dir))))

	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	streamA, err := agentA.WatchGrants(watchCtx, &agentv1.WatchGrantsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if ev := recv(t, streamA); ev.GetKind() != agentv1.GrantEvent_KIND_SYNCED {
		t.Fatalf("first event %v, want SYNCED", ev)
	}
	streamB, err := agentB.WatchGrants(watchCtx, &agentv1.WatchGrantsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	recv(t, streamB) // SYNCED

	req, err := agentA.RequestElevation(ctx, elevation("alice"))
	if err != nil {
		t.Fatal(err)
	}
	if req.GetStatus() != commonv1.RequestStatus_REQUEST_STATUS_GRANTED || req.GetGrant() == nil {
		t.Fatalf("request %v, want GRANTED with a grant", req)
	}
	grantID := req.GetGrant().GetId()
	ev := recv(t, streamA)
	if ev.GetKind() != agentv1.GrantEvent_KIND_UPSERT || ev.GetGrant().GetId() != grantID || ev.GetGrant().GetSessionId() != 7 {
		t.Fatalf("event %v, want UPSERT of %s bound to session 7", ev, grantID)
	}

	// Host B can neither see nor touch host A's request.
	watchB, err := agentB.WatchRequest(ctx, &agentv1.WatchRequestRequest{RequestId: req.GetId()})
	if err == nil {
		_, err = watchB.Recv()
	}
	wantCode(t, err, codes.NotFound)
	_, err = agentB.CancelRequest(ctx, &agentv1.CancelRequestRequest{RequestId: req.GetId()})
	wantCode(t, err, codes.NotFound)

	revoked, err := admin.Revoke(ctx, &adminv1.RevokeRequest{Id: grantID, Comment: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if revoked.GetStatus() != commonv1.RequestStatus_REQUEST_STATUS_REVOKED {
		t.Fatalf("after revoke: %v", revoked.GetStatus())
	}
	ev = recv(t, streamA)
	if ev.GetKind() != agentv1.GrantEvent_KIND_REMOVE || ev.GetGrant().GetId() != grantID {
		t.Fatalf("event %v, want REMOVE of %s", ev, grantID)
	}

	// B's stream carried none of A's grant events: its next event is its own.
	reqB, err := agentB.RequestElevation(ctx, elevation("carol"))
	if err != nil {
		t.Fatal(err)
	}
	if reqB.GetStatus() != commonv1.RequestStatus_REQUEST_STATUS_PENDING_APPROVAL {
		t.Fatalf("prod request %v, want PENDING_APPROVAL", reqB.GetStatus())
	}
	approved, err := admin.Approve(ctx, &adminv1.DecideRequest{RequestId: reqB.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	evB := recv(t, streamB)
	if evB.GetGrant().GetHostId() != hostB.id || evB.GetGrant().GetId() != approved.GetGrant().GetId() {
		t.Fatalf("host B got %v, want only its own grant %s", evB, approved.GetGrant().GetId())
	}
}

func ptr[T any](v T) *T { return &v }

func TestAuthorization(t *testing.T) {
	srv, dir := startServer(t)
	addr, pool := srv.GRPCAddr().String(), caPool(t, dir)
	ctx := context.Background()
	anon := dial(t, addr, pool, nil)
	h, err := enrollHost(t, anon, newToken(t, dir, "env=dev"), nil)
	if err != nil {
		t.Fatal(err)
	}

	_, err = agentv1.NewAgentServiceClient(anon).RequestElevation(ctx, elevation("alice"))
	wantCode(t, err, codes.Unauthenticated)
	_, err = adminv1.NewAdminServiceClient(dial(t, addr, pool, &h.cert)).ListRequests(ctx, &adminv1.ListRequestsRequest{})
	wantCode(t, err, codes.PermissionDenied)
	_, err = agentv1.NewAgentServiceClient(dial(t, addr, pool, ptr(adminCert(t, dir)))).RequestElevation(ctx, elevation("alice"))
	wantCode(t, err, codes.PermissionDenied)
	_, err = agentv1.NewAgentServiceClient(dial(t, addr, pool, &h.cert)).RequestElevation(ctx, elevation("alice"))
	if err != nil {
		t.Fatalf("the allowed path must work: %v", err)
	}
}

func TestSelfApprovalRefused(t *testing.T) {
	srv, dir := startServer(t)
	addr, pool := srv.GRPCAddr().String(), caPool(t, dir)
	ctx := context.Background()
	h, err := enrollHost(t, dial(t, addr, pool, nil), newToken(t, dir, "env=prod"), nil)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := ca.Load(config.Layout{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := auth.IssueAdmin("bob", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	bobCert, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	agent := agentv1.NewAgentServiceClient(dial(t, addr, pool, &h.cert))
	req, err := agent.RequestElevation(ctx, elevation("bob"))
	if err != nil {
		t.Fatal(err)
	}
	watch, err := agent.WatchRequest(ctx, &agentv1.WatchRequestRequest{RequestId: req.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if got := recv(t, watch).GetStatus(); got != commonv1.RequestStatus_REQUEST_STATUS_PENDING_APPROVAL {
		t.Fatalf("watch first status %v", got)
	}
	bob := adminv1.NewAdminServiceClient(dial(t, addr, pool, &bobCert))
	_, err = bob.Approve(ctx, &adminv1.DecideRequest{RequestId: req.GetId()})
	wantCode(t, err, codes.PermissionDenied)

	admin := adminv1.NewAdminServiceClient(dial(t, addr, pool, ptr(adminCert(t, dir))))
	if _, err := admin.Approve(ctx, &adminv1.DecideRequest{RequestId: req.GetId()}); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, watch).GetStatus(); got != commonv1.RequestStatus_REQUEST_STATUS_GRANTED {
		t.Fatalf("watch status after approval %v", got)
	}
	if _, err := watch.Recv(); err != io.EOF {
		t.Fatalf("watch must end after GRANTED, got %v", err)
	}
}

func TestHTTP(t *testing.T) {
	srv, _ := startServer(t)
	base := "http://" + srv.HTTPAddr().String()
	for path, want := range map[string]string{"/healthz": "ok", "/metrics": "zpam_connected_agents", "/login": "Sign in"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Fatalf("%s: %d %q, want 200 containing %q", path, resp.StatusCode, body, want)
		}
	}
}

// TestHTTPTLS: with --http-tls the console and /metrics are served over
// TLS with the server certificate, verifiable with ca.pem, and with HSTS;
// plain HTTP gets no page.
func TestHTTPTLS(t *testing.T) {
	srv, dir := startServerWith(t, func(c *config.Serve) { c.HTTPTLS = true })
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool(t, dir)}}}
	for path, want := range map[string]string{"/healthz": "ok", "/metrics": "zpam_connected_agents", "/login": "Sign in"} {
		resp, err := client.Get("https://" + srv.HTTPAddr().String() + path)
		if err != nil {
			t.Fatalf("%s over TLS verified with ca.pem: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Fatalf("%s: %d %q, want 200 containing %q", path, resp.StatusCode, body, want)
		}
		if path == "/login" && !strings.Contains(resp.Header.Get("Strict-Transport-Security"), "max-age=") {
			t.Fatalf("no HSTS over TLS: %v", resp.Header)
		}
	}
	if resp, err := http.Get("http://" + srv.HTTPAddr().String() + "/login"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("the console answered plain HTTP on its TLS port")
		}
	}
}
