package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/zpam/zpam/controlplane/internal/risk"
)

func init() {
	dialectCases = append(dialectCases,
		dialectCase{"RequestRiskAndHistory", testRequestRiskAndHistory},
		dialectCase{"SuspendedGrants", testSuspendedGrants},
		dialectCase{"FindingsAndMatches", testFindingsAndMatches},
		dialectCase{"ElevatedCommands", testElevatedCommands},
	)
}

func testRequestRiskAndHistory(t *testing.T, open opener) {
	s := open()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	assessed := risk.Assessment{Score: 40, Factors: []risk.Factor{{Name: risk.NewSourceAddress, Weight: 25, Reason: "new source address 203.0.113.9"}, {Name: risk.NoTTY, Weight: 15, Reason: "not asked from a terminal"}}}
	err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.InsertHost(Host{ID: "h1", EnrolledAt: now}); err != nil {
			return err
		}
		for i, r := range []Request{
			{ID: "old", Context: RequestContext{SourceAddress: "10.0.0.1"}, CreatedAt: now.Add(-100 * 24 * time.Hour), GrantID: "g0"},
			{ID: "r1", Context: RequestContext{SourceAddress: "10.0.0.1"}, CreatedAt: now.Add(-2 * time.Hour), GrantID: "g1", Duration: time.Hour},
			{ID: "r2", Context: RequestContext{SourceAddress: "10.0.0.2"}, CreatedAt: now.Add(-time.Hour)},
			{ID: "r3", CreatedAt: now, Risk: assessed},
			{ID: "bob", User: "bob", CreatedAt: now},
		} {
			r.HostID, r.Status, r.Scope, r.UpdatedAt = "h1", StatusDenied, ScopeSession, now
			if r.User == "" {
				r.User = "alice"
			}
			if err := tx.InsertRequest(r); err != nil {
				return fmt.Errorf("request %d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(tx *Tx) error {
		r3, err := tx.Request("r3")
		if err != nil || r3.Risk.Score != 40 || len(r3.Risk.Factors) != 2 || r3.Risk.Factors[0] != assessed.Factors[0] {
			return fmt.Errorf("risk read back as %+v, %v", r3.Risk, err)
		}
		if r2, _ := tx.Request("r2"); r2.Risk.Factors == nil || r2.Risk.Score != 0 {
			return fmt.Errorf("unscored request's risk: %+v", r2.Risk)
		}
		h, err := tx.RequestHistory("alice", now.Add(-risk.Window), 10)
		if err != nil || len(h) != 3 {
			return fmt.Errorf("history %+v, %v; want r3, r2, r1 (not the 100-day-old one nor bob's)", h, err)
		}
		if h[0].CreatedAt != now || h[1].SourceAddress != "10.0.0.2" || h[1].Granted || !h[2].Granted || h[2].Duration != time.Hour || h[2].HostID != "h1" {
			return fmt.Errorf("history %+v", h)
		}
		if h, err := tx.RequestHistory("alice", now.Add(-risk.Window), 1); err != nil || len(h) != 1 {
			return fmt.Errorf("limited history %+v, %v", h, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testSuspendedGrants(t *testing.T, open opener) {
	s := open()
	ctx := context.Background()
	now := time.Now()
	g := Grant{ID: "g1", RequestID: "r1", HostID: "h1", User: "alice", Scope: ScopeSession, GrantedAt: now, ExpiresAt: now.Add(time.Hour), State: GrantActive, Revision: 1}
	err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.InsertHost(Host{ID: "h1", EnrolledAt: now}); err != nil {
			return err
		}
		if err := tx.InsertRequest(Request{ID: "r1", HostID: "h1", User: "alice", Status: StatusGranted, Scope: ScopeSession, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		return tx.InsertGrant(g)
	})
	if err != nil {
		t.Fatal(err)
	}
	step := func(what string, fn func(tx *Tx) error) {
		t.Helper()
		if err := s.Update(ctx, fn); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	step("suspend", func(tx *Tx) error {
		if ok, err := tx.MoveGrant("g1", GrantActive, GrantSuspended, 2); err != nil || !ok {
			return fmt.Errorf("suspend: %v %v", ok, err)
		}
		if ok, err := tx.MoveGrant("g1", GrantActive, GrantSuspended, 3); err != nil || ok {
			return fmt.Errorf("suspending twice: %v %v", ok, err)
		}
		return nil
	})
	step("read", func(tx *Tx) error {
		if got, err := tx.ActiveGrants("h1", now); err != nil || len(got) != 0 {
			return fmt.Errorf("a host's snapshot includes the suspended grant: %v %v", got, err)
		}
		if got, err := tx.AllActiveGrants(now, "", 10); err != nil || len(got) != 1 || got[0].State != GrantSuspended || got[0].Revision != 2 {
			return fmt.Errorf("re-evaluation misses the suspended grant: %+v %v", got, err)
		}
		if got, err := tx.DueGrants(now.Add(2*time.Hour), 10); err != nil || len(got) != 1 {
			return fmt.Errorf("the suspended grant does not expire: %+v %v", got, err)
		}
		if n, err := tx.CountActiveGrants(now); err != nil || n != 0 {
			return fmt.Errorf("counted as active: %d %v", n, err)
		}
		return nil
	})
	step("resume and end", func(tx *Tx) error {
		if ok, err := tx.MoveGrant("g1", GrantSuspended, GrantActive, 4); err != nil || !ok {
			return fmt.Errorf("resume: %v %v", ok, err)
		}
		if ok, err := tx.MoveGrant("g1", GrantActive, GrantSuspended, 5); err != nil || !ok {
			return fmt.Errorf("suspend again: %v %v", ok, err)
		}
		if ok, err := tx.EndGrant("g1", GrantRevoked, now, 6); err != nil || !ok {
			return fmt.Errorf("revoking a suspended grant: %v %v", ok, err)
		}
		if ok, err := tx.MoveGrant("g1", GrantSuspended, GrantActive, 7); err != nil || ok {
			return fmt.Errorf("resuming a revoked grant: %v %v", ok, err)
		}
		return nil
	})
}

func testFindingsAndMatches(t *testing.T, open opener) {
	s := open()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	f := Finding{ID: "f1", GrantID: "g1", RequestID: "r1", HostID: "h1", User: "alice", Rule: "log-deletion", Description: "a log deleted",
		Severity: "high", Response: "revoke", Outcome: "grant revoked", Matches: 1, FirstAt: now, LastAt: now,
		Evidence: []Evidence{{EventID: "e1", At: now, PID: 42, Command: "rm /var/log/x"}}}
	err := s.Update(ctx, func(tx *Tx) error {
		if first, err := tx.RecordMatch("g1", "log-deletion", "e1"); err != nil || !first {
			return fmt.Errorf("first match: %v %v", first, err)
		}
		if again, err := tx.RecordMatch("g1", "log-deletion", "e1"); err != nil || again {
			return fmt.Errorf("the same match again counted: %v %v", again, err)
		}
		if _, found, err := tx.FindingOf("g1", "log-deletion"); err != nil || found {
			return fmt.Errorf("finding before insert: %v %v", found, err)
		}
		if err := tx.InsertFinding(f); err != nil {
			return err
		}
		for i, sev := range []string{"info", "medium"} {
			other := Finding{ID: fmt.Sprintf("f%d", i+2), GrantID: "g2", Rule: fmt.Sprintf("rule-%d", i), User: "alice", Severity: sev, FirstAt: now.Add(-time.Hour), LastAt: now}
			if err := tx.InsertFinding(other); err != nil {
				return err
			}
		}
		got, found, err := tx.FindingOf("g1", "log-deletion")
		if err != nil || !found {
			return fmt.Errorf("finding after insert: %v %v", found, err)
		}
		got.Matches, got.LastAt, got.Outcome = 2, now.Add(time.Second), "grant had already ended"
		got.Evidence = append(got.Evidence, Evidence{EventID: "e2", At: now.Add(time.Second), Command: "rm /var/log/y"})
		return tx.UpdateFinding(got)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(tx *Tx) error {
		list, err := tx.FindingsOfGrant("g1")
		if err != nil || len(list) != 1 {
			return fmt.Errorf("findings of g1: %+v %v", list, err)
		}
		g := list[0]
		if g.Matches != 2 || len(g.Evidence) != 2 || g.Evidence[0] != f.Evidence[0] || g.Outcome != "grant had already ended" || !g.FirstAt.Equal(now) || g.Description != "a log deleted" {
			return fmt.Errorf("finding read back as %+v", g)
		}
		if n, err := tx.CountFindings("alice", now.Add(-2*time.Hour), []string{"medium", "high", "critical"}); err != nil || n != 2 {
			return fmt.Errorf("counted %d (%v), want 2: the info finding does not count", n, err)
		}
		if n, err := tx.CountFindings("alice", now.Add(-time.Minute), []string{"medium", "high", "critical"}); err != nil || n != 1 {
			return fmt.Errorf("counted %d since a minute ago (%v), want 1", n, err)
		}
		if all, err := tx.FindingsSince(FindingFilter{}, now.Add(-2*time.Hour), 10); err != nil || len(all) != 3 || all[0].ID != "f1" {
			return fmt.Errorf("fleet findings %+v %v", all, err)
		}
		if host, err := tx.FindingsSince(FindingFilter{User: "alice", HostID: "h1"}, now.Add(-2*time.Hour), 10); err != nil || len(host) != 1 || host[0].ID != "f1" {
			return fmt.Errorf("alice's findings on h1 %+v %v", host, err)
		}
		if none, err := tx.FindingsSince(FindingFilter{User: "bob", HostID: "h1"}, now.Add(-2*time.Hour), 10); err != nil || len(none) != 0 {
			return fmt.Errorf("bob's findings on h1 %+v %v", none, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testElevatedCommands(t *testing.T, open opener) {
	s := open()
	now := time.Now()
	err := s.Update(context.Background(), func(tx *Tx) error {
		if before, err := tx.ElevatedBefore("alice", "g1"); err != nil || before {
			return fmt.Errorf("history before anything ran: %v %v", before, err)
		}
		if first, err := tx.FirstElevated("alice", "/usr/bin/id", "g1", now); err != nil || !first {
			return fmt.Errorf("first id: %v %v", first, err)
		}
		if first, err := tx.FirstElevated("alice", "/usr/bin/id", "g2", now); err != nil || first {
			return fmt.Errorf("id again under g2 counted as new: %v %v", first, err)
		}
		if first, err := tx.FirstElevated("bob", "/usr/bin/id", "g3", now); err != nil || !first {
			return fmt.Errorf("bob's first id: %v %v", first, err)
		}
		if before, err := tx.ElevatedBefore("alice", "g1"); err != nil || before {
			return fmt.Errorf("g1's own commands count as history: %v %v", before, err)
		}
		if before, err := tx.ElevatedBefore("alice", "g2"); err != nil || !before {
			return fmt.Errorf("under g2, g1 is history: %v %v", before, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
