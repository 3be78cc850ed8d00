package requests

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/store"
)

const breakGlassPolicy = `groups:
  oncall: [alice]
break_glass:
  users: ["@oncall", "@sre"]
  hosts: {env: prod}
  max_duration: 30m
  valid_for: 24h
roles: []
`

func TestBreakGlassTermsPerHost(t *testing.T) {
	w := newWorld(t, breakGlassPolicy)
	w.person("sam", "sre")
	ctx := context.Background()
	prod, err := w.s.BreakGlassTerms(ctx, "prod-1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(prod.Users, []string{"alice", "sam"}) || prod.MaxDuration != 30*time.Minute || prod.ExpiresAt.Sub(prod.IssuedAt) != 24*time.Hour {
		t.Fatalf("prod terms %+v", prod)
	}
	if dev, _ := w.s.BreakGlassTerms(ctx, "dev-1"); len(dev.Users) != 0 {
		t.Fatalf("dev is not selected, yet users %v may break glass", dev.Users)
	}
}

func TestBreakGlassReportIsRecordedOnce(t *testing.T) {
	w := newWorld(t, breakGlassPolicy)
	ctx := context.Background()
	started := w.c.now().Add(-10 * time.Minute)
	rep := BreakGlassReport{HostID: "prod-1", GrantID: "bg-0123456789abcdef0123456789abcdef", User: "alice", UID: 1000,
		Reason: "INC-9 db down", StartedAt: started, ExpiresAt: started.Add(30 * time.Minute), SessionID: 7, TTY: "pts/1", PID: 42}
	id, first, err := w.s.ReportBreakGlass(ctx, rep)
	if err != nil || !first {
		t.Fatalf("first report: %s %v %v", id, first, err)
	}
	again, first, err := w.s.ReportBreakGlass(ctx, rep)
	if err != nil || first || again != id {
		t.Fatalf("second report: %s %v %v; want the first record", again, first, err)
	}
	views, _ := w.s.List(ctx, nil)
	if len(views) != 1 || !views[0].Request.BreakGlass || views[0].Grant == nil || !views[0].Grant.BreakGlass || views[0].Grant.ID != rep.GrantID {
		t.Fatalf("active list %+v, want the break-glass grant", views)
	}
	if got := w.trail(id); got != "break_glass/alice" {
		t.Fatalf("audit trail %s", got)
	}
	other := rep
	other.HostID = "dev-1"
	if _, _, err := w.s.ReportBreakGlass(ctx, other); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("another host reporting the grant: %v", err)
	}
	w.c.add(20 * time.Minute)
	if n, _ := w.s.ExpireDue(ctx); n != 1 {
		t.Fatalf("expired %d, want the break-glass grant", n)
	}
	if st, _ := w.grantState(id); st != store.StatusExpired {
		t.Fatalf("after its window: %s", st)
	}
	bad := rep
	bad.GrantID = "g-1"
	if _, _, err := w.s.ReportBreakGlass(ctx, bad); !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("grant id without bg-: %v", err)
	}
}
