package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	adminv1 "github.com/zpam/zpam/proto/zpam/admin/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// findings asks the control plane's RiskService, as an admin, for the
// findings of grant id.
func (s *stack) findings(t *testing.T, id string) []*commonv1.Finding {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := adminv1.NewRiskServiceClient(s.adminConn(t)).ListFindings(ctx, &adminv1.ListFindingsRequest{Grant: id})
	if err != nil {
		t.Fatalf("ListFindings %s: %v", id, err)
	}
	return resp.GetFindings()
}

// execStored waits until the control plane holds an exec under grant id
// whose last argument is last: detection ran over it in that ingest.
func (s *stack) execStored(t *testing.T, id, last string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("the exec ending in %q at the control plane", last), 20*time.Second, func() bool {
		for _, ev := range s.storedEvents(t, &commonv1.AuditFilter{Kinds: []commonv1.EventKind{commonv1.EventKind_EVENT_KIND_EXEC}, Grant: id}) {
			if argv := ev.GetExec().GetArgv(); len(argv) > 0 && argv[len(argv)-1] == last {
				return true
			}
		}
		return false
	})
}

// scratchLog creates a file under /var/log for a test to delete, and
// removes it after the test if the test did not.
func scratchLog(t *testing.T) string {
	t.Helper()
	path := fmt.Sprintf("/var/log/zpam-e2e-%d.log", time.Now().UnixNano())
	if err := os.WriteFile(path, []byte("zpam e2e\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	return path
}

// elevatedWorks reports whether sudo runs for r right now.
func elevatedWorks(r runner) bool {
	o := r.run("/usr/bin/sudo", "-n", "/usr/bin/id", "-u")
	return o.ok() && strings.TrimSpace(o.Output) == "0"
}

// TestRootDetectionRevokesTheGrantOnTheHost: under a grant, ordinary
// commands raise no finding and sudo keeps working; deleting a log under
// /var/log (built-in rule log-deletion, response revoke) is found by the
// control plane in the upload that carried it, the grant leaves the
// host's kernel and sudo is denied again; the finding names the grant
// and the command, and the user reads it with pamctl residue, with the
// agent's before/after snapshot showing the log gone.
func TestRootDetectionRevokesTheGrantOnTheHost(t *testing.T) {
	alice := setupRoot(t, "zpam-e2e-risk")[0]
	s := startStack(t, selfService("session", "zpam-e2e-risk"))
	ls := newSession(t, s, alice)
	path := scratchLog(t) // there before the grant, as the host's logs are
	g := s.elevate(t, ls)

	marker := fmt.Sprintf("zpam-e2e-benign-%d", time.Now().UnixNano())
	if o := ls.run("/usr/bin/sudo", "-n", "/bin/ls", "-la", "/var/log", "/tmp/"+marker); o.Err != "" {
		t.Fatalf("sudo ls: %v", o)
	}
	s.execStored(t, g.ID, "/tmp/"+marker)
	if fs := s.findings(t, g.ID); len(fs) != 0 {
		t.Fatalf("an ordinary command raised %v", fs)
	}
	if !elevatedWorks(ls) {
		t.Fatal("sudo stopped working after an ordinary command")
	}

	waitFor(t, "the agent's residue baseline", 30*time.Second, func() bool {
		return strings.Contains(s.agentLog(t), `msg="residue baseline read" grant_id=`+g.ID)
	})
	if o := ls.run("/usr/bin/sudo", "-n", "/bin/rm", path); !o.ok() {
		t.Fatalf("sudo rm %s: %v", path, o)
	}
	waitFor(t, "the grant revoked on the host", 20*time.Second, func() bool { return len(s.status(t, ls).Grants) == 0 })
	if o := ls.run("/usr/bin/sudo", "-n", "/usr/bin/id", "-u"); !o.killed() {
		t.Fatalf("sudo after the detection: %v; want it killed", o)
	}
	fs := s.findings(t, g.ID)
	if len(fs) != 1 || fs[0].GetRule() != "log-deletion" || fs[0].GetResponse() != "revoke" || fs[0].GetOutcome() != "grant revoked" ||
		fs[0].GetRequestId() != g.RequestID || fs[0].GetUser() != alice.Username || !strings.Contains(fs[0].GetEvidence()[0].GetCommand(), "rm "+path) {
		t.Fatalf("findings %v", fs)
	}

	if o := ls.run(s.pamctl("findings", "--grant", g.RequestID)...); !o.ok() || !strings.Contains(o.Output, "log-deletion") || !strings.Contains(o.Output, "grant revoked") {
		t.Fatalf("pamctl findings as %s: %v", alice.Username, o)
	}
	// The agent reads its snapshot when the grant leaves the kernel and
	// ships it through the spool: the report has it shortly after.
	var rep residueReport
	waitFor(t, "the host's snapshot in the residue report", 20*time.Second, func() bool {
		rep = s.residue(t, ls, g.ID)
		return len(rep.Snapshots) > 0
	})
	if rep.State != "revoked" || len(rep.Findings) != 1 || rep.Findings[0].Rule != "log-deletion" || rep.Findings[0].GrantID != g.ID {
		t.Fatalf("pamctl residue: %+v", rep)
	}
	if !rep.mentions(path) {
		t.Fatalf("pamctl residue does not name %s among the paths commands named: %+v", path, rep.Mentioned)
	}
	if c, ok := rep.change(path); !ok || c.Change != "removed" || c.Category != "log" {
		t.Fatalf("the host's snapshot does not show %s removed: %+v", path, rep.Snapshots)
	}
}

// residueReport is the part of pamctl residue --json the tests read.
type residueReport struct {
	State    string `json:"state"`
	Findings []struct {
		Rule    string `json:"rule"`
		GrantID string `json:"grant_id"`
	} `json:"findings"`
	Mentioned []struct {
		Path     string `json:"path"`
		Category string `json:"category"`
	} `json:"mentioned"`
	Snapshots []struct {
		Ended   string          `json:"ended"`
		Notes   []string        `json:"notes"`
		Changes []residueChange `json:"changes"`
	} `json:"snapshots"`
}

type residueChange struct {
	Category string `json:"category"`
	Change   string `json:"change"`
	Item     string `json:"item"`
}

func (r residueReport) mentions(path string) bool {
	for _, m := range r.Mentioned {
		if m.Path == path {
			return true
		}
	}
	return false
}

func (r residueReport) change(item string) (residueChange, bool) {
	for _, s := range r.Snapshots {
		for _, c := range s.Changes {
			if c.Item == item {
				return c, true
			}
		}
	}
	return residueChange{}, false
}

// residue runs pamctl residue ID --json through r.
func (s *stack) residue(t *testing.T, r runner, id string) residueReport {
	t.Helper()
	o := r.run(s.pamctl("residue", id, "--json")...)
	var rep residueReport
	if err := json.Unmarshal([]byte(o.Output), &rep); err != nil || !o.ok() {
		t.Fatalf("pamctl residue %s: %v (%v)", id, o, err)
	}
	return rep
}

// TestRootSuspendedGrantResumesWithAFreshCode: a rule whose response is
// suspend takes the grant off the host; pamctl elevate --resume refuses
// a wrong code and, with the person's current one, puts the same grant
// back until its old expiry, enforced on the host before it returns.
func TestRootSuspendedGrantResumesWithAFreshCode(t *testing.T) {
	bob := setupRoot(t, "zpam-e2e-susp")[0]
	s := startStack(t, selfService("session", "zpam-e2e-susp")+`detections:
  overrides:
    log-deletion: {response: suspend}
`)
	code := s.addPerson(t, bob.Username)
	ls := newSession(t, s, bob)
	g := s.elevate(t, ls)

	path := scratchLog(t)
	if o := ls.run("/usr/bin/sudo", "-n", "/bin/rm", path); !o.ok() {
		t.Fatalf("sudo rm %s: %v", path, o)
	}
	waitFor(t, "the grant suspended on the host", 20*time.Second, func() bool { return len(s.status(t, ls).Grants) == 0 })
	if elevatedWorks(ls) {
		t.Fatal("sudo works while the grant is suspended")
	}
	if fs := s.findings(t, g.ID); len(fs) != 1 || fs[0].GetResponse() != "suspend" || !strings.Contains(fs[0].GetOutcome(), "suspended") {
		t.Fatalf("findings %v", fs)
	}

	if o := ls.run(s.pamctl("elevate", "--resume", g.ID, "--otp", "000000")...); o.ok() || !strings.Contains(o.Output, "not valid") {
		t.Fatalf("resume with a wrong code: %v", o)
	}
	if o := ls.run(s.pamctl("elevate", "--resume", g.ID, "--for", "1m", "--otp", "123456")...); o.Exit != 2 || !strings.Contains(o.Output, "cannot be combined with --for") {
		t.Fatalf("resume with --for: %v", o)
	}
	o := ls.run(s.pamctl("elevate", "--resume", g.RequestID, "--otp", code(), "--json")...)
	var res struct {
		Status   string `json:"status"`
		Enforced bool   `json:"enforced"`
		Grant    *grant `json:"grant"`
	}
	if err := json.Unmarshal([]byte(lastLine(o.Output)), &res); err != nil || !o.ok() || res.Status != "granted" || !res.Enforced || res.Grant == nil || res.Grant.ID != g.ID {
		t.Fatalf("pamctl elevate --resume: %v", o)
	}
	if !elevatedWorks(ls) {
		t.Fatal("sudo does not work once the grant was resumed")
	}
}
