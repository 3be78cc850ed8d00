package grant

import (
	"slices"
	"testing"
	"time"

	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// TestTreeEndsWhenAskedOrWhenTheRoleSays: the tree of a grant is ended on
// a REMOVE that asks for it, and on every ending of a grant whose role
// says terminate_on_end (a plain REMOVE, a local expiry, a snapshot that
// drops it); a plain REMOVE or expiry of any other grant ends nothing.
func TestTreeEndsWhenAskedOrWhenTheRoleSays(t *testing.T) {
	tb, _ := newTable(t)
	var ended []string
	tb.OnEndTree(func(g *commonv1.Grant) { ended = append(ended, g.GetId()) })
	want := func(phase string, ids ...string) {
		t.Helper()
		if !slices.Equal(ended, ids) {
			t.Fatalf("%s: trees ended %v; want %v", phase, ended, ids)
		}
		ended = nil
	}
	onEnd := func(g *commonv1.Grant) *commonv1.Grant { g.TerminateOnEnd = true; return g }
	tb.StreamOpened()
	apply(t, tb,
		upsert(sessionGrant("plain", 1000, 1, 3*time.Hour)),
		upsert(sessionGrant("asked", 1000, 2, 3*time.Hour)),
		upsert(onEnd(sessionGrant("role-removed", 1000, 3, 3*time.Hour))),
		upsert(onEnd(sessionGrant("role-dropped", 1000, 4, 3*time.Hour))),
		upsert(onEnd(sessionGrant("role-expires", 1000, 5, time.Hour))),
		upsert(sessionGrant("plain-expires", 1000, 6, time.Hour)),
		syncedEv)
	want("while applied")

	asked := removeEv("asked")
	asked.Terminate = true
	apply(t, tb, removeEv("plain"), asked, removeEv("role-removed"))
	want("removals", "asked", "role-removed")

	later := time.Now().Add(2 * time.Hour)
	tb.now = func() time.Time { return later }
	if err := tb.Reap(); err != nil {
		t.Fatal(err)
	}
	tb.now = time.Now
	want("expiry", "role-expires")

	tb.StreamOpened()
	apply(t, tb, syncedEv)
	want("a snapshot without it", "role-dropped")
}
