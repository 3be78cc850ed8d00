package fleet

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
)

// Size of the fleet in the correctness test: enough hosts that a group
// change fans out to a hundred streams at once, few enough to enroll in
// seconds.
const (
	testHosts     = 500
	testGroupSize = 100
)

// TestFleetReceivesEveryChangeInOrderAcrossRestarts runs a real control
// plane and 500 simulated hosts, and makes group and single-host grants
// and revocations while every host is connected, right after a graceful
// restart, and right after a crash (SIGKILL), while the hosts are still
// reconnecting. Every host must receive exactly the changes made to its
// grants, each once and in revision order (the fleet checks both as
// events arrive), and end with exactly the grants in force. Nothing is
// timed.
func TestFleetReceivesEveryChangeInOrderAcrossRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and runs the control plane binary")
	}
	if err := RaiseFileLimit(testHosts + 1024); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	work := t.TempDir()
	cp, ids, err := Prepare(ctx, Setup{Bin: buildControlPlane(t), Work: work, Hosts: testHosts, GroupSize: testGroupSize})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cp.Stop)
	f, is := startFleet(ctx, t, cp, ids, work)
	exp := newExpectations()

	// Connected: a group grant to g00, single grants on g01, and half of
	// g00's grants revoked again.
	g00 := exp.granted(must(is.RequestGroup(ctx, map[string]string{"group": "g00"}))(t))
	singles := exp.granted(requestHosts(ctx, t, is, f.Group("g01")[:20]))
	exp.revoked(revokeAll(ctx, t, is, g00[:50]))
	awaitAll(ctx, t, is, exp)

	// Right after a graceful restart, while the hosts reconnect.
	since := time.Now()
	cp.Stop()
	if err := cp.Start(ctx); err != nil {
		t.Fatal(err)
	}
	exp.granted(must(is.RequestGroup(ctx, map[string]string{"group": "g01"}))(t))
	exp.revoked(revokeAll(ctx, t, is, g00[50:]))
	exp.revoked(revokeAll(ctx, t, is, singles))
	awaitAll(ctx, t, is, exp)
	waitMarked(ctx, t, f, since)

	// Right after a crash.
	since = time.Now()
	cp.Kill()
	if err := cp.Start(ctx); err != nil {
		t.Fatal(err)
	}
	exp.granted(must(is.RequestGroup(ctx, map[string]string{"group": "g02"}))(t))
	exp.granted(requestHosts(ctx, t, is, f.Group("g00")[:20]))
	awaitAll(ctx, t, is, exp)
	waitMarked(ctx, t, f, since)
	exp.check(t, f)
}

func startFleet(ctx context.Context, t *testing.T, cp *ControlPlane, ids []*Identity, work string) (*Fleet, *Issuer) {
	caPEM, err := cp.CAPEM()
	if err != nil {
		t.Fatal(err)
	}
	f, err := Start(Config{Addr: cp.Listen, CAPEM: caPEM, Identities: ids})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	waitMarked(ctx, t, f, time.Time{})
	admin, err := cp.AdminConn()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	workload, err := cp.WorkloadConn(filepath.Join(work, "workload"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { workload.Close() })
	return f, NewIssuer(f, admin, workload)
}

func waitMarked(ctx context.Context, t *testing.T, f *Fleet, since time.Time) {
	t.Helper()
	if _, err := f.WaitMarked(ctx, since); err != nil {
		t.Fatal(err)
	}
}

func requestHosts(ctx context.Context, t *testing.T, is *Issuer, hosts []*Agent) []Grant {
	t.Helper()
	var out []Grant
	for _, a := range hosts {
		out = append(out, must(is.RequestHost(ctx, a))(t))
	}
	return out
}

func revokeAll(ctx context.Context, t *testing.T, is *Issuer, grants []Grant) []Grant {
	t.Helper()
	for _, g := range grants {
		if err := is.RevokeGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	return grants
}

func awaitAll(ctx context.Context, t *testing.T, is *Issuer, exp *expectations) {
	t.Helper()
	for kind, grants := range exp.byKind {
		if _, err := is.Await(ctx, time.Now(), kind, grants); err != nil {
			for _, g := range grants {
				if _, ok := is.Fleet.rec.Receipts(Key{g.ID, kind})[g.Agent.Index]; !ok {
					at, streams := g.Agent.markedAt()
					t.Logf("host %d (%s): rev %d, marked %s, streams %d, conn %v", g.Agent.Index, g.Agent.ID.HostID, g.Agent.resumeFrom(), at.Format(time.StampMilli), streams, g.Agent.conn.GetState())
				}
			}
			t.Fatal(err)
		}
	}
}

// expectations is what every host must have received and hold.
type expectations struct {
	byKind map[agentv1.GrantEvent_Kind][]Grant
	active map[*Agent]map[string]bool
}

func newExpectations() *expectations {
	return &expectations{byKind: map[agentv1.GrantEvent_Kind][]Grant{}, active: map[*Agent]map[string]bool{}}
}

func (e *expectations) granted(gs []Grant) []Grant {
	e.byKind[agentv1.GrantEvent_KIND_UPSERT] = append(e.byKind[agentv1.GrantEvent_KIND_UPSERT], gs...)
	for _, g := range gs {
		if e.active[g.Agent] == nil {
			e.active[g.Agent] = map[string]bool{}
		}
		e.active[g.Agent][g.ID] = true
	}
	return gs
}

func (e *expectations) revoked(gs []Grant) {
	e.byKind[agentv1.GrantEvent_KIND_REMOVE] = append(e.byKind[agentv1.GrantEvent_KIND_REMOVE], gs...)
	for _, g := range gs {
		delete(e.active[g.Agent], g.ID)
	}
}

// check: no violation seen, each host received as many changes as were
// made to it (each expected one was awaited, and a second copy is a
// violation), and holds exactly the grants in force.
func (e *expectations) check(t *testing.T, f *Fleet) {
	t.Helper()
	if n, msgs := f.Violations(); n > 0 {
		t.Fatalf("%d violations, first: %v", n, msgs)
	}
	want := map[*Agent]int{}
	for _, gs := range e.byKind {
		for _, g := range gs {
			want[g.Agent]++
		}
	}
	for _, a := range f.Agents {
		if got := a.Received(); got != want[a] {
			t.Errorf("host %d received %d changes, %d were made", a.Index, got, want[a])
		}
		if got := a.ActiveCount(); got != len(e.active[a]) {
			t.Errorf("host %d holds %d grants, %d are in force", a.Index, got, len(e.active[a]))
		}
		for id := range e.active[a] {
			if !a.Active(id) {
				t.Errorf("host %d lacks grant %s", a.Index, id)
			}
		}
	}
	t.Logf("%d hosts, %d changes, %d streams opened", len(f.Agents), len(e.byKind[agentv1.GrantEvent_KIND_UPSERT])+len(e.byKind[agentv1.GrantEvent_KIND_REMOVE]), f.Streams())
}

func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// buildControlPlane builds pam-controlplane as make build does.
func buildControlPlane(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+"/", "./controlplane/cmd/pam-controlplane")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatal(fmt.Errorf("build pam-controlplane: %v\n%s", err, out))
	}
	return filepath.Join(dir, "pam-controlplane")
}
