package kernel

import (
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"
)

// spawnAs runs the setuid-root copy of the test binary as uid; it runs
// /bin/true once per argument as its children.
func spawnAs(uid uint32, path string, args ...string) error {
	cmd := exec.Command(path, args...)
	cmd.Env = []string{spawnEnv + "=1"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, NoSetGroups: true}}
	return cmd.Run()
}

func TestRootTelemetryAttributesTheElevatedTree(t *testing.T) {
	pinDir := setupRoot(t)
	mode := enforcingMode(t)
	spawner := setuidSelf(t)
	e := openEnforcer(t, Options{Mode: mode, PinDir: pinDir})
	defer e.Close()
	tel := openTelemetry(t, e, TelemetryOptions{})
	defer tel.Close()

	// Denied path first: no grant, so no tree runs and nothing is tagged.
	m0 := marker(t)
	if err := spawnAs(testUID, spawner, m0); !denied(mode, err) {
		t.Fatalf("spawner without a grant: %v; want the %s denial", err, mode)
	}

	if err := e.PutGrant(Grant{ID: "g-tree", UID: testUID, SessionID: AnySession, ExpiresAt: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	m1, m2, m3 := marker(t), marker(t), marker(t)
	if err := spawnAs(testUID, spawner, m1, m2, m3); err != nil {
		t.Fatalf("spawner under a grant: %v", err)
	}
	ours := func(ev ProcessEvent) bool {
		return ev.Kind == ProcExec && (slices.Contains(ev.Argv, m1) || slices.Contains(ev.Argv, m2) || slices.Contains(ev.Argv, m3) || slices.Contains(ev.Argv, m0))
	}
	// The spawner's own exec, then its three children.
	got := collect(t, tel, 3, func(ev ProcessEvent) bool { return ours(ev) && ev.Filename == "/bin/true" })
	for _, ev := range got {
		if ev.GrantID != "g-tree" || ev.Process.UID != testUID || ev.Process.EUID != 0 || slices.Contains(ev.Argv, m0) {
			t.Errorf("child exec %q uid %d euid %d grant %q; want the elevated spawner's children (uid %d, euid 0) under g-tree", ev.Argv, ev.Process.UID, ev.Process.EUID, ev.GrantID, testUID)
		}
	}
	// Outside the tree, root's own execs carry no grant.
	m4 := marker(t)
	if err := exec.Command("/bin/true", m4).Run(); err != nil {
		t.Fatal(err)
	}
	if ev := collect(t, tel, 1, hasArg(m4))[0]; ev.GrantID != "" {
		t.Fatalf("an exec outside the elevated tree names grant %q", ev.GrantID)
	}
	// The exit hook removed the tags of the tree's processes, which are gone.
	tags, err := tel.Attribution()
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range tags {
		if tg.GrantID == "g-tree" {
			t.Errorf("tag of ended pid %d still in the map", tg.PID)
		}
	}
}

func TestRootTelemetryCountsDropsAndSparesEscalations(t *testing.T) {
	pinDir := setupRoot(t)
	mode := enforcingMode(t)
	gated := setuidCopy(t, "sudo-like")
	e := openEnforcer(t, Options{Mode: mode, PinDir: pinDir})
	defer e.Close()
	// One page of ring: a few dozen records. Emptied, then closed, the
	// pinned programs keep recording with nobody reading, as while the
	// agent restarts. Other processes on the host exec too and share the
	// ring: emptying it first leaves them only the instant between the
	// close and the flood to take the room the flood needs.
	tel := openTelemetry(t, e, TelemetryOptions{RingSize: 4096})
	drainThroughSentinel(t, tel)
	tel.Close()

	m := marker(t)
	const n = 200
	for range n {
		if err := exec.Command("/bin/true", m).Run(); err != nil {
			t.Fatal(err)
		}
	}
	// The escalation ring is another ring: a denial in the flood is seen.
	wantDenied(t, testUID, gated)
	if ev := waitEvent(t, e, EventEscalationDenied); ev.Filename != gated {
		t.Fatalf("denial event %+v during a telemetry flood; want %s", ev, gated)
	}

	tel = openTelemetry(t, e, TelemetryOptions{RingSize: 4096})
	defer tel.Close()
	drops := tel.Drops()
	var kept int
	for _, ev := range drainThroughSentinel(t, tel) {
		if hasArg(m)(ev) {
			kept++
		}
	}
	t.Logf("%d of %d execs kept in a 4 KiB ring, %d records dropped", kept, n, drops)
	if kept == 0 || kept >= n || drops < uint64(n-kept) {
		t.Fatalf("kept %d of %d execs with %d drops counted; want some kept, the rest counted as dropped", kept, n, drops)
	}
}

// drainThroughSentinel returns the records handed over until one of a
// sentinel exec's. The ring hands records over in the order they entered
// it, so by then every record it held before the sentinel has been
// handed over, however late a loaded machine ran the reader: a drain
// timed by the clock would count what it had not read yet. The sentinel
// is run again until one finds room in the ring.
func drainThroughSentinel(t *testing.T, tel *testTelemetry) []ProcessEvent {
	t.Helper()
	m := marker(t)
	sentinel := hasArg(m)
	var got []ProcessEvent
	deadline := time.After(30 * time.Second)
	again := time.NewTicker(100 * time.Millisecond)
	defer again.Stop()
	run := func() {
		if err := exec.Command("/bin/true", m).Run(); err != nil {
			t.Fatal(err)
		}
	}
	run()
	for {
		select {
		case ev := <-tel.Events():
			if sentinel(ev) {
				return got
			}
			got = append(got, ev)
		case <-again.C:
			run()
		case <-deadline:
			t.Fatalf("no sentinel record within 30s (%d others)", len(got))
		}
	}
}
