package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zpam/zpam/tests/roottest"
)

// selfService is a policy that grants users at once, with scope "session"
// (the default) or "user".
func selfService(scope string, users ...string) string {
	return fmt.Sprintf(`roles:
  - name: e2e-self-service
    users: [%s]
    max_duration: 10m
    auto_approve: true
    scope: %s
`, strings.Join(users, ", "), scope)
}

// setupRoot takes the root-test lock and makes the users; every user's
// sudoers drop-in allows everything, so only ZPAM stands between them and
// root.
func setupRoot(t *testing.T, names ...string) []account {
	t.Helper()
	roottest.Require(t)
	asked := time.Now()
	roottest.Lock(t)
	if waited := time.Since(asked); waited > time.Second {
		t.Logf("waited %v for the root-test lock: another root test run held it", waited.Round(time.Second))
	}
	users := make([]account, 0, len(names))
	for _, n := range names {
		users = append(users, testUser(t, n))
	}
	return users
}

// TestRootSessionGrantIsBoundToItsSession: a grant asked for from one login
// session (audit session id, as pam_loginuid sets it) is usable in that
// session only, not in another session of the same user nor outside any
// session; a role with scope: user widens it to every session.
func TestRootSessionGrantIsBoundToItsSession(t *testing.T) {
	users := setupRoot(t, "zpam-e2e-sess", "zpam-e2e-uscope")
	sessUser, scopeUser := users[0], users[1]
	s := startStack(t, `roles:
  - name: e2e-user-scope
    users: [zpam-e2e-uscope]
    max_duration: 10m
    auto_approve: true
    scope: user
  - name: e2e-session-scope   # scope omitted: session
    users: [zpam-e2e-sess]
    max_duration: 10m
    auto_approve: true
`)

	t.Run("scope session", func(t *testing.T) {
		a, b := newSession(t, s, sessUser), newSession(t, s, sessUser)
		t.Logf("session A %d, session B %d", a.id, b.id)
		wantKilled(t, "sudo in session A before elevate", a.run("sudo", "-n", "true"))

		g := s.elevate(t, a)
		if g.Scope != "session" || g.SessionID != a.id {
			t.Fatalf("grant %+v; want scope session bound to session A (%d)", g, a.id)
		}
		wantRoot(t, "sudo in session A, which asked", a.run("sudo", "-n", "id", "-u"))
		wantKilled(t, "sudo in session B of the same user", b.run("sudo", "-n", "true"))
		wantKilled(t, "sudo of the same user outside both sessions", sessUser.run("sudo", "-n", "true"))
		wantRoot(t, "sudo in session A after B was denied", a.run("sudo", "-n", "id", "-u"))
	})

	t.Run("scope user", func(t *testing.T) {
		c, d := newSession(t, s, scopeUser), newSession(t, s, scopeUser)
		wantKilled(t, "sudo in session D before elevate", d.run("sudo", "-n", "true"))

		if g := s.elevate(t, c); g.Scope != "user" {
			t.Fatalf("grant %+v; want scope user from the role", g)
		}
		wantRoot(t, "sudo in session C, which asked", c.run("sudo", "-n", "id", "-u"))
		wantRoot(t, "sudo in session D of the same user", d.run("sudo", "-n", "id", "-u"))
		wantRoot(t, "sudo of the same user outside both sessions", scopeUser.run("sudo", "-n", "id", "-u"))
	})
}

// TestRootRevokeDeniesWithinOneSecond: an admin's Revoke through the
// control plane reaches the host's kernel in well under a second.
func TestRootRevokeDeniesWithinOneSecond(t *testing.T) {
	u := setupRoot(t, "zpam-e2e-revoke")[0]
	s := startStack(t, selfService("session", u.Username))
	login := newSession(t, s, u)
	g := s.elevate(t, login)
	wantRoot(t, "sudo with the grant", login.run("sudo", "-n", "id", "-u"))

	s.revoke(t, g.ID)
	latency, attempts := killedWithin(t, login, time.Now(), time.Second)
	t.Logf("revoke latency: sudo killed %v after Revoke returned (attempt %d, polling every 50ms)", latency.Round(time.Millisecond), attempts)
	if st := s.status(t, u); len(st.Grants) != 0 {
		t.Fatalf("pamctl status lists grants %+v after the revoke; want none", st.Grants)
	}
}

// killedWithin runs sudo through r every 50ms until it is killed and
// says how long after since that was, and at which attempt; it fails the
// test when sudo still runs, or fails otherwise, past within.
func killedWithin(t *testing.T, r runner, since time.Time, within time.Duration) (time.Duration, int) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for attempt := 1; ; attempt++ {
		o := r.run("sudo", "-n", "true")
		latency := time.Since(since)
		switch {
		case !o.killed() && !o.ok():
			t.Fatalf("sudo: %v; want it to run (grant not yet removed) or be killed", o)
		case latency > within:
			t.Fatalf("sudo %v after %v; want it killed within %v", o, latency, within)
		case o.killed():
			return latency, attempt
		}
		<-tick.C
	}
}

// TestRootAgentKilledLeavesEnforcementPinned: with the agent SIGKILLed,
// the pinned programs and maps alone keep denying the user without a grant
// and allowing the one with a grant; a restarted agent re-adopts them.
func TestRootAgentKilledLeavesEnforcementPinned(t *testing.T) {
	users := setupRoot(t, "zpam-e2e-kill-g", "zpam-e2e-kill-n")
	holder, other := users[0], users[1]
	s := startStack(t, selfService("session", holder.Username, other.Username))
	s.elevate(t, holder)
	enforced := func(when string) {
		t.Helper()
		wantRoot(t, "sudo of the user with a grant, "+when, holder.run("sudo", "-n", "id", "-u"))
		wantKilled(t, "sudo of the user without a grant, "+when, other.run("sudo", "-n", "true"))
	}
	enforced("agent running")

	s.agent.kill()
	if o := holder.run(s.path("pamctl"), "status", "--socket", s.sock); o.Exit != 5 {
		t.Fatalf("pamctl status with the agent killed: %v; want exit 5 (agent unreachable)", o)
	}
	enforced("agent killed with SIGKILL")

	s.startAgent(t) // no join token: the state dir holds the identity
	if log := s.agentLog(t); !strings.Contains(log, "re-adopted pinned enforcement") {
		t.Fatalf("restarted agent did not re-adopt the pinned enforcement; its log:\n%s", log)
	}
	st := s.status(t, holder)
	if st.Mode != "signal" || !st.Enforcing || len(st.Grants) != 1 {
		t.Fatalf("status after the restart %+v; want mode signal, enforcing, the one grant", st)
	}
	enforced("agent restarted")
}

// TestRootDenialIsToldOnTheTerminal: a denied sudo on a terminal gets the
// agent's one-line hint on that terminal and is listed by pamctl status;
// with a grant, sudo on a terminal runs and nothing is said.
func TestRootDenialIsToldOnTheTerminal(t *testing.T) {
	u := setupRoot(t, "zpam-e2e-tty")[0]
	s := startStack(t, selfService("session", u.Username))
	before := time.Now().Add(-time.Second)

	denied := onTerminal(t, u, "sudo -n true; echo sudo exited $?")
	denied.waitFor(t, "sudo exited 137") // 128 + SIGKILL
	denied.waitFor(t, "pam-agent: sudo blocked — no active grant; run: pamctl elevate")
	st := s.status(t, u)
	if len(st.RecentDenials) != 1 || st.RecentDenials[0].Filename != "/usr/bin/sudo" || st.RecentDenials[0].Time.Before(before) {
		t.Fatalf("pamctl status lists denials %+v; want the one sudo just denied", st.RecentDenials)
	}

	s.elevate(t, u)
	allowed := onTerminal(t, u, "sudo -n id -u; echo sudo exited $?")
	allowed.waitFor(t, "sudo exited 0")
	// Events are handled in order, so once the agent has logged this, the
	// test's only allowed escalation, it has handled anything the run
	// could have had denied.
	waitFor(t, "the agent to log the allowed escalation", 5*time.Second, func() bool {
		return strings.Contains(s.agentLog(t), "escalation allowed")
	})
	if strings.Contains(allowed.screen(), "blocked") {
		t.Fatalf("%s shows %q: an allowed sudo was told it was blocked", allowed.name, allowed.screen())
	}
}
