package requests

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/store"
)

const detectPolicy = `detections:
  overrides:
    history-clearing: {response: suspend}
    setuid-file: {response: flag}
roles:
  - {name: auto, users: ["*"], max_duration: 1h, auto_approve: true}
`

var eventSeq int

func execOf(g *store.Grant, line string) Exec {
	eventSeq++
	argv := strings.Fields(line)
	if head, script, ok := strings.Cut(line, " -c "); ok {
		argv = append(strings.Fields(head), "-c", script)
	}
	return Exec{EventID: fmt.Sprintf("ev-%d", eventSeq), GrantID: g.ID, At: time.Now(), PID: uint32(1000 + eventSeq),
		Filename: "/usr/bin/" + argv[0], Argv: argv, Cwd: "/root"}
}

// followHost follows host's grant stream; it is past its snapshot on return.
func followHost(t *testing.T, s *Service, host string) <-chan GrantEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	events := make(chan GrantEvent, 16)
	go s.WatchGrants(ctx, host, 0, func(ev GrantEvent) error { events <- ev; return nil })
	for ev := next(t, events); ev.Kind != Synced; ev = next(t, events) {
	}
	return events
}

func (w *world) grantFor(user, host string) *store.Grant {
	w.t.Helper()
	v, err := w.s.RequestElevation(context.Background(), Elevation{HostID: host, User: user, UID: 1000, Duration: 30 * time.Minute,
		Reason: "detection test", Context: store.RequestContext{SessionID: 3, TTY: true}})
	if err != nil || v.Grant == nil {
		w.w(fmt.Errorf("grant for %s: %+v %v", user, v.Request, err))
	}
	return v.Grant
}

func (w *world) w(err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) findings(g *store.Grant) []store.Finding {
	w.t.Helper()
	var out []store.Finding
	w.w(w.db.View(context.Background(), func(tx *store.Tx) (err error) { out, err = tx.FindingsOfGrant(g.ID); return err }))
	return out
}

func (w *world) request(id string) store.Request {
	w.t.Helper()
	v, err := w.s.Get(context.Background(), id)
	w.w(err)
	return v.Request
}

// TestDetectionRevokesWithinTheIngestTransaction: rm of a log under a
// grant revokes it (the host is told at once, with the rule and the
// command), is recorded as a finding and on the audit trail; the same
// event resent counts nothing, a second one counts but does not respond
// again, and no other host can trigger anything on the grant.
func TestDetectionRevokesWithinTheIngestTransaction(t *testing.T) {
	w := newWorld(t, detectPolicy)
	ctx := context.Background()
	g := w.grantFor("alice", "dev-1")
	events := followHost(t, w.s, "dev-1")

	if err := w.s.Inspect(ctx, "prod-1", []Exec{execOf(g, "rm /var/log/auth.log")}); err != nil {
		t.Fatal(err)
	}
	if f := w.findings(g); len(f) != 0 {
		t.Fatalf("another host's report raised %+v", f)
	}
	if err := w.s.Inspect(ctx, "dev-1", []Exec{execOf(g, "id -u")}); err != nil || len(w.findings(g)) != 0 {
		t.Fatalf("id -u: %v %+v", err, w.findings(g))
	}

	e := execOf(g, "rm /var/log/zpam-test.log")
	if err := w.s.Inspect(ctx, "dev-1", []Exec{e}); err != nil {
		t.Fatal(err)
	}
	ev := next(t, events)
	if ev.Kind != Remove || ev.Grant.ID != g.ID || !strings.Contains(ev.Reason, "detection log-deletion (high): rm /var/log/zpam-test.log") || ev.Terminate {
		t.Fatalf("host got %+v, want the REMOVE with the rule, not ending the tree", ev)
	}
	fs := w.findings(g)
	if len(fs) != 1 || fs[0].Rule != "log-deletion" || fs[0].Severity != "high" || fs[0].Response != "revoke" || fs[0].Outcome != outcomeRevoked ||
		fs[0].Matches != 1 || fs[0].Evidence[0].EventID != e.EventID || fs[0].Evidence[0].PID != e.PID || fs[0].User != "alice" {
		t.Fatalf("findings %+v", fs)
	}
	r := w.request(g.RequestID)
	if r.Status != store.StatusRevoked || !strings.Contains(r.StatusReason, "detection log-deletion") {
		t.Fatalf("request %s %q", r.Status, r.StatusReason)
	}
	if trail := w.trail(g.RequestID); !strings.HasSuffix(trail, "granted/system,revoked/detection,finding/detection") {
		t.Fatalf("trail %s", trail)
	}

	w.w(w.s.Inspect(ctx, "dev-1", []Exec{e})) // resent
	w.w(w.s.Inspect(ctx, "dev-1", []Exec{execOf(g, "shred -u /var/log/syslog")}))
	fs = w.findings(g)
	if len(fs) != 1 || fs[0].Matches != 2 || len(fs[0].Evidence) != 2 || fs[0].Outcome != outcomeRevoked {
		t.Fatalf("after a resend and a second match: %+v", fs)
	}
	if trail := w.trail(g.RequestID); strings.Count(trail, "finding/") != 1 {
		t.Fatalf("a further match of an ended grant was audited again: %s", trail)
	}
	select {
	case ev := <-events:
		t.Fatalf("the host got %+v after the grant had ended", ev)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestTerminatingRuleEndsTheTree: a critical rule's terminate response
// revokes the grant with a REMOVE that has the host end the elevated
// processes, and the finding says so.
func TestTerminatingRuleEndsTheTree(t *testing.T) {
	w := newWorld(t, detectPolicy)
	g := w.grantFor("alice", "dev-1")
	events := followHost(t, w.s, "dev-1")
	w.w(w.s.Inspect(context.Background(), "dev-1", []Exec{execOf(g, "insmod /tmp/rootkit.ko")}))
	if ev := next(t, events); ev.Kind != Remove || ev.Grant.ID != g.ID || !ev.Terminate || !strings.Contains(ev.Reason, "detection kernel-module (critical)") {
		t.Fatalf("host got %+v, want a terminating REMOVE naming the rule", ev)
	}
	if fs := w.findings(g); len(fs) != 1 || fs[0].Response != "terminate" || fs[0].Outcome != outcomeTerminated {
		t.Fatalf("findings %+v", fs)
	}
}

// TestSuspendAndResume: a suspending rule takes the grant off the host
// and marks it suspended; only its requester resumes it, only with a
// fresh code, and it comes back on the host until its old expiry; a
// further match suspends it again.
func TestSuspendAndResume(t *testing.T) {
	w := newWorld(t, detectPolicy)
	ctx := context.Background()
	secret := w.person("alice")
	w.person("bob")
	g := w.grantFor("alice", "dev-1")
	events := followHost(t, w.s, "dev-1")

	w.w(w.s.Inspect(ctx, "dev-1", []Exec{execOf(g, "bash -c history -c")}))
	ev := next(t, events)
	if ev.Kind != Remove || !strings.Contains(ev.Reason, "suspended by detection history-clearing (high)") ||
		!strings.Contains(ev.Reason, "pamctl elevate --resume "+g.RequestID) {
		t.Fatalf("host got %+v", ev)
	}
	r := w.request(g.RequestID)
	if r.Status != store.StatusSuspended || w.findings(g)[0].Outcome != outcomeSuspended {
		t.Fatalf("request %s, findings %+v", r.Status, w.findings(g))
	}
	w.w(w.db.View(ctx, func(tx *store.Tx) error {
		if active, err := tx.ActiveGrants("dev-1", w.c.now()); err != nil || len(active) != 0 {
			return fmt.Errorf("suspended grant in the host's snapshot: %v %v", active, err)
		}
		return nil
	}))

	cases := []struct {
		host, person, otp string
		want              error
		says              string
	}{
		{"dev-1", "bob", w.code(secret), errdefs.ErrPermission, "only alice may resume"},
		{"prod-1", "alice", w.code(secret), errdefs.ErrNotFound, "on this host"},
		{"dev-1", "alice", "", errdefs.ErrPermission, "needs a fresh one-time code"},
		{"dev-1", "alice", "000000", errdefs.ErrPermission, "not valid"},
	}
	for _, c := range cases {
		if _, err := w.s.Resume(ctx, c.host, c.person, g.RequestID, c.otp); !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("resume on %s as %s with %q: %v, want %v saying %q", c.host, c.person, c.otp, err, c.want, c.says)
		}
	}
	v, err := w.s.Resume(ctx, "dev-1", "alice", g.ID, w.code(secret))
	if err != nil || v.Request.Status != store.StatusGranted || v.Grant.State != store.GrantActive || !v.Grant.ExpiresAt.Equal(g.ExpiresAt) {
		t.Fatalf("resume: %+v %v", v, err)
	}
	if ev := next(t, events); ev.Kind != Upsert || ev.Grant.ID != g.ID || !ev.Grant.ExpiresAt.Equal(g.ExpiresAt) {
		t.Fatalf("host got %+v after the resume", ev)
	}
	if _, err := w.s.Resume(ctx, "dev-1", "alice", g.ID, w.code(secret)); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("resuming an active grant: %v", err)
	}

	w.w(w.s.Inspect(ctx, "dev-1", []Exec{execOf(g, "sh -c unset HISTFILE")}))
	if ev := next(t, events); ev.Kind != Remove {
		t.Fatalf("a match after the resume: host got %+v", ev)
	}
	if fs := w.findings(g); len(fs) != 1 || fs[0].Matches != 2 || w.request(g.RequestID).Status != store.StatusSuspended {
		t.Fatalf("after a second match: %+v", fs)
	}
	if trail := w.trail(g.RequestID); !strings.Contains(trail, "suspended/detection,finding/detection,mfa_failed/alice,mfa_verified/alice,resumed/alice,suspended/detection,finding/detection") {
		t.Fatalf("trail %s", trail)
	}
	if _, err := w.s.Revoke(ctx, "admin", g.ID, "enough"); err != nil {
		t.Fatalf("revoking a suspended grant: %v", err)
	}
}

func TestFlaggedFindingLeavesTheGrant(t *testing.T) {
	w := newWorld(t, detectPolicy)
	ctx := context.Background()
	g := w.grantFor("alice", "dev-1")
	w.w(w.s.Inspect(ctx, "dev-1", []Exec{execOf(g, "chmod u+s /tmp/sh")}))
	fs := w.findings(g)
	if len(fs) != 1 || fs[0].Rule != "setuid-file" || fs[0].Response != "flag" || fs[0].Outcome != outcomeFlagged {
		t.Fatalf("findings %+v", fs)
	}
	if r := w.request(g.RequestID); r.Status != store.StatusGranted {
		t.Fatalf("a flag changed the request to %s", r.Status)
	}
}

// TestNovelCommandNeedsAHistory: under a person's first grant every
// command is new and none is reported; under the next, only commands
// they never ran elevated are, as info findings that only flag.
func TestNovelCommandNeedsAHistory(t *testing.T) {
	w := newWorld(t, detectPolicy)
	ctx := context.Background()
	first := w.grantFor("alice", "dev-1")
	w.w(w.s.Inspect(ctx, "dev-1", []Exec{execOf(first, "id -u"), execOf(first, "systemctl status nginx")}))
	if fs := w.findings(first); len(fs) != 0 {
		t.Fatalf("first grant: %+v", fs)
	}
	second := w.grantFor("alice", "dev-1")
	w.w(w.s.Inspect(ctx, "dev-1", []Exec{execOf(second, "id -u"), execOf(second, "tcpdump -i any"), execOf(second, "tcpdump -w /tmp/x")}))
	fs := w.findings(second)
	if len(fs) != 1 || fs[0].Rule != "novel-elevated-command" || fs[0].Severity != "info" || fs[0].Outcome != outcomeFlagged || fs[0].Matches != 1 ||
		!strings.Contains(fs[0].Evidence[0].Command, "tcpdump -i any (first time alice ran it elevated)") {
		t.Fatalf("second grant: %+v", fs)
	}
	if r := w.request(second.RequestID); r.Status != store.StatusGranted {
		t.Fatalf("request %s", r.Status)
	}
}
