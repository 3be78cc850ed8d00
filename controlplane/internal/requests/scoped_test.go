package requests

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/zpam/zpam/controlplane/internal/store"
)

const scopedPolicy = `roles:
  - {name: web, users: [alice], hosts: {env: dev}, max_duration: 1h, auto_approve: true, commands: [/usr/bin/systemctl, /usr/bin/journalctl]}
  - {name: dev, users: ["*"], hosts: {env: dev}, max_duration: 1h, auto_approve: true}
`

// TestScopedRoleScopesTheGrant: under a role with commands, a request
// naming none is granted the role's commands and one naming a subset that
// subset, both sent to the host with the grant; one naming another
// program is denied. Narrowing the role later revokes a grant whose
// commands it no longer covers.
func TestScopedRoleScopesTheGrant(t *testing.T) {
	w, src := reevalWorld(t)
	src.Set(mustPolicy(t, scopedPolicy))
	ctx := context.Background()
	events := watchHost(t, w.s, "dev-1")

	all, err := w.s.RequestElevation(ctx, elevation("dev-1", "alice", 1))
	if err != nil || all.Grant == nil || !slices.Equal(all.Grant.Commands, []string{"/usr/bin/systemctl", "/usr/bin/journalctl"}) {
		t.Fatalf("request without commands: %+v, %v; want the role's commands", all.Grant, err)
	}
	if ev := next(t, events); ev.Kind != Upsert || !slices.Equal(ev.Grant.Commands, all.Grant.Commands) {
		t.Fatalf("host got %+v; want the grant with its commands", ev)
	}
	in := elevation("dev-1", "alice", 2)
	in.Commands = []string{"/usr/bin/journalctl"}
	sub, err := w.s.RequestElevation(ctx, in)
	if err != nil || sub.Grant == nil || !slices.Equal(sub.Grant.Commands, in.Commands) {
		t.Fatalf("request for a subset: %+v, %v", sub.Grant, err)
	}
	next(t, events)
	in.Commands = []string{"/usr/bin/journalctl", "/bin/bash"}
	denied, err := w.s.RequestElevation(ctx, in)
	if err != nil || denied.Request.Status != store.StatusDenied || !strings.Contains(denied.Request.StatusReason, "command /bin/bash is not one of role web's commands") {
		t.Fatalf("request for another program: %s %q, %v; want denied naming /bin/bash", denied.Request.Status, denied.Request.StatusReason, err)
	}

	src.Set(mustPolicy(t, strings.Replace(scopedPolicy, "/usr/bin/systemctl, ", "", 1)))
	if n, err := w.s.Reevaluate(ctx, "policy reloaded"); n != 1 || err != nil {
		t.Fatalf("after the role dropped systemctl: revoked %d, %v; want the grant that has it", n, err)
	}
	if ev := next(t, events); ev.Kind != Remove || ev.Grant.ID != all.Grant.ID || !strings.Contains(ev.Reason, "command /usr/bin/systemctl is not one of role web's commands") {
		t.Fatalf("event %+v; want the removal of the grant with systemctl", ev)
	}
}

// watchHost streams host's grants past the snapshot.
func watchHost(t *testing.T, s *Service, host string) <-chan GrantEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	events := make(chan GrantEvent, 64)
	go s.WatchGrants(ctx, host, 0, func(ev GrantEvent) error { events <- ev; return nil })
	for ev := next(t, events); ev.Kind != Synced; ev = next(t, events) {
	}
	return events
}
