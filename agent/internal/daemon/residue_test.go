package daemon

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/agent/internal/grant"
	"github.com/zpam/zpam/agent/internal/residue"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

func TestResidueTrackerReportsTheWindowsChanges(t *testing.T) {
	root := t.TempDir()
	sudoersD := filepath.Join(root, "etc", "sudoers.d")
	if err := os.MkdirAll(sudoersD, 0o755); err != nil {
		t.Fatal(err)
	}
	got := make(chan *commonv1.ResidueSnapshot, 2)
	tr := newResidueTracker(residue.Reader{Root: root}, slog.New(slog.NewTextHandler(io.Discard, nil)),
		func(g *commonv1.Grant, s *commonv1.ResidueSnapshot) {
			if g.GetId() != "g-1" && g.GetId() != "g-old" {
				t.Errorf("snapshot for %s", g.GetId())
			}
			got <- s
		})
	g := &commonv1.Grant{Id: "g-1", GrantedAt: timestamppb.Now()}
	tr.observe(grant.Applied, g)
	tr.observe(grant.Applied, g) // an update: the baseline stays
	tr.mu.Lock()
	w := tr.windows["g-1"]
	tr.mu.Unlock()
	<-w.ready
	if err := os.WriteFile(filepath.Join(sudoersD, "eve"), []byte("eve ALL=(ALL) NOPASSWD: ALL\n"), 0o440); err != nil {
		t.Fatal(err)
	}
	tr.observe(grant.Removed, g)
	// A grant this agent never saw enforced has nothing to compare.
	tr.observe(grant.Expired, &commonv1.Grant{Id: "g-old"})
	tr.wait()
	snaps := []*commonv1.ResidueSnapshot{<-got, <-got}
	if snaps[0].GetEnded() != grant.Removed {
		snaps[0], snaps[1] = snaps[1], snaps[0]
	}
	s := snaps[0]
	if len(s.GetChanges()) != 1 || s.GetChanges()[0].GetItem() != "/etc/sudoers.d/eve" || s.GetChanges()[0].GetChange() != "added" ||
		s.GetBaselineAt() == nil || s.GetEnforcedAt() == nil || s.GetTakenAt().AsTime().Before(s.GetBaselineAt().AsTime()) {
		t.Fatalf("snapshot %v", s)
	}
	old := snaps[1]
	if old.GetEnded() != grant.Expired || len(old.GetChanges()) != 0 || !strings.Contains(strings.Join(old.GetNotes(), " "), "no baseline") {
		t.Fatalf("snapshot of an unseen grant %v", old)
	}
}

func TestResidueTrackerSaysWhenAGrantArrivedLate(t *testing.T) {
	got := make(chan *commonv1.ResidueSnapshot, 1)
	tr := newResidueTracker(residue.Reader{Root: t.TempDir()}, slog.New(slog.NewTextHandler(io.Discard, nil)),
		func(_ *commonv1.Grant, s *commonv1.ResidueSnapshot) { got <- s })
	g := &commonv1.Grant{Id: "g-1", GrantedAt: timestamppb.New(time.Now().Add(-time.Hour))}
	tr.observe(grant.Applied, g)
	tr.observe(grant.Removed, g)
	tr.wait()
	if notes := strings.Join((<-got).GetNotes(), " "); !strings.Contains(notes, "changes before that are not compared") {
		t.Fatalf("notes %q", notes)
	}
}
