package pamctl

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func pending(id string) *localv1.ElevateUpdate {
	return &localv1.ElevateUpdate{Request: &commonv1.Request{Id: id, Status: commonv1.RequestStatus_REQUEST_STATUS_PENDING_APPROVAL, ApprovalsNeeded: 2}}
}

func TestLiveProgressRedrawsOneLineAndClearsIt(t *testing.T) {
	var w lockedBuffer
	p := newProgress(&w, true)
	p.update(pending("r-1"))
	p.close()
	got := w.String()
	want := "\r\033[K⠋ request r-1 is waiting for approval (2 more, from an admin) — 0s elapsed"
	if !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "\r\033[K") || strings.Contains(got, "\n") {
		t.Fatalf("live output %q; want a redrawn line starting %q, cleared at the end", got, want)
	}
}

func TestPlainProgressPrintsEachChangeOnce(t *testing.T) {
	var w lockedBuffer
	p := newProgress(&w, false)
	p.update(pending("r-1"))
	p.update(pending("r-1"))
	p.update(&localv1.ElevateUpdate{Request: &commonv1.Request{Id: "r-1", Status: commonv1.RequestStatus_REQUEST_STATUS_DENIED}})
	p.close()
	if got := w.String(); got != "request r-1 is waiting for approval (2 more, from an admin)\n" {
		t.Fatalf("plain output %q", got)
	}
}
