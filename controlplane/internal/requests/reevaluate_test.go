package requests

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zpam/zpam/controlplane/internal/policy"
	"github.com/zpam/zpam/controlplane/internal/store"
)

const reevalPolicy = `groups:
  leads: [carol]
roles:
  - {name: ops, users: ["@ops"], hosts: {env: prod}, max_duration: 1h, auto_approve: true}
  - {name: approved, users: [bob], hosts: {env: prod}, max_duration: 1h, approvals: {count: 1, from: ["@leads", "@sec"]}}
  - {name: dev, users: ["*"], hosts: {env: dev}, max_duration: 1h, auto_approve: true}
`

// reevalWorld is a world whose policy can be replaced, as a reload does.
func reevalWorld(t *testing.T) (*world, *policy.Source) {
	t.Helper()
	w := newWorld(t, reevalPolicy)
	src := policy.Static(mustPolicy(t, reevalPolicy))
	w.s = New(Config{Store: w.db, Policy: src, Now: w.c.now, Observer: w.obs})
	return w, src
}

func mustPolicy(t *testing.T, src string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse("policy.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (w *world) grantState(id string) (store.Status, string) {
	w.t.Helper()
	v, err := w.s.Get(context.Background(), id)
	if err != nil {
		w.t.Fatal(err)
	}
	return v.Request.Status, v.Request.StatusReason
}

func (w *world) update(fn func(tx *store.Tx) error) {
	w.t.Helper()
	if err := w.db.Update(context.Background(), func(tx *store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return tx.BumpDirectory()
	}); err != nil {
		w.t.Fatal(err)
	}
}

func TestReevaluationRevokesWhatIsNoLongerAllowed(t *testing.T) {
	w, src := reevalWorld(t)
	ctx := context.Background()
	w.person("olga", "ops")
	w.person("sam", "sec")
	events := make(chan GrantEvent, 16)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go w.s.WatchGrants(wctx, "prod-1", 0, func(ev GrantEvent) error { events <- ev; return nil })
	<-events // SYNCED

	olga, _ := w.s.RequestElevation(ctx, elevation("prod-1", "olga", 1))
	<-events
	bob, _ := w.s.RequestElevation(ctx, elevation("prod-1", "bob", 2))
	if _, err := w.s.Approve(ctx, "sam", bob.Request.ID, ""); err != nil {
		t.Fatal(err)
	}
	<-events
	dev, _ := w.s.RequestElevation(ctx, elevation("dev-1", "zed", 3))
	for _, v := range []View{olga, dev} {
		if v.Request.Status != store.StatusGranted {
			t.Fatalf("setup: %s is %s", v.Request.User, v.Request.Status)
		}
	}

	// Nothing changed: nothing is revoked.
	if n, err := w.s.Reevaluate(ctx, "test"); n != 0 || err != nil {
		t.Fatalf("re-evaluation without a change revoked %d, %v", n, err)
	}

	// olga leaves @ops: her grant goes, and the host is told at once.
	w.update(func(tx *store.Tx) error { return tx.SetUserGroups("olga", nil) })
	if n, err := w.s.Reevaluate(ctx, "groups or host labels changed"); n != 1 || err != nil {
		t.Fatalf("after olga left ops: revoked %d, %v; want 1", n, err)
	}
	ev := <-events
	if ev.Kind != Remove || ev.Grant.ID != olga.Grant.ID || !strings.Contains(ev.Reason, "no longer allowed (groups or host labels changed): no role allows user olga") {
		t.Fatalf("event %+v, want REMOVE of olga's grant with the reason", ev)
	}
	if st, reason := w.grantState(olga.Request.ID); st != store.StatusRevoked || !strings.Contains(reason, "no role allows user olga") {
		t.Fatalf("olga's request %s %q", st, reason)
	}
	if trail := w.trail(olga.Request.ID); !strings.HasSuffix(trail, "revoked/policy") {
		t.Fatalf("audit trail %s, want it to end with revoked/policy", trail)
	}

	// bob's only approver, sam, leaves @sec: the approval no longer counts.
	w.update(func(tx *store.Tx) error { return tx.SetUserGroups("sam", []string{"dev"}) })
	if n, _ := w.s.Reevaluate(ctx, "groups or host labels changed"); n != 1 {
		t.Fatalf("after sam left sec: revoked %d, want 1", n)
	}
	if _, reason := w.grantState(bob.Request.ID); !strings.Contains(reason, "role approved needs 1 approval(s) from [@leads @sec]; 0 of this grant's approvers qualify") {
		t.Fatalf("bob's request reason %q", reason)
	}
	<-events

	// A reload that removes the dev role ends the dev grant too.
	src.Set(mustPolicy(t, strings.Replace(reevalPolicy, "  - {name: dev,", "  # - {name: dev,", 1)))
	if n, _ := w.s.Reevaluate(ctx, "policy reloaded"); n != 1 {
		t.Fatalf("after the reload: revoked %d, want 1", n)
	}
	if st, _ := w.grantState(dev.Request.ID); st != store.StatusRevoked {
		t.Fatalf("dev grant %s, want revoked", st)
	}
}

func TestReevaluationFollowsHostLabels(t *testing.T) {
	w, _ := reevalWorld(t)
	ctx := context.Background()
	dev, _ := w.s.RequestElevation(ctx, elevation("dev-1", "zed", 3))
	w.update(func(tx *store.Tx) error {
		return tx.SetHostLabels("dev-1", map[string]string{"env": "dev", "tier": "web"})
	})
	if n, _ := w.s.Reevaluate(ctx, "labels"); n != 0 {
		t.Fatal("an extra label that the selector ignores must not revoke")
	}
	w.update(func(tx *store.Tx) error { return tx.SetHostLabels("dev-1", map[string]string{"env": "prod"}) })
	if n, _ := w.s.Reevaluate(ctx, "labels"); n != 1 {
		t.Fatal("moving the host to prod must revoke the dev grant")
	}
	if st, _ := w.grantState(dev.Request.ID); st != store.StatusRevoked {
		t.Fatalf("dev grant %s", st)
	}
}

func TestRunReevaluationNoticesChangesByOtherProcesses(t *testing.T) {
	w, _ := reevalWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dev, _ := w.s.RequestElevation(ctx, elevation("dev-1", "zed", 3))
	go w.s.RunReevaluation(ctx, 10*time.Millisecond)
	time.Sleep(30 * time.Millisecond)
	// Another process (the CLI) changes the labels in the database.
	w.update(func(tx *store.Tx) error { return tx.SetHostLabels("dev-1", map[string]string{"env": "staging"}) })
	deadline := time.Now().Add(5 * time.Second)
	for {
		if st, _ := w.grantState(dev.Request.ID); st == store.StatusRevoked {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the loop did not notice the label change within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
