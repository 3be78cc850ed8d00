package grant

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/zpam/zpam/agent/internal/kernel"
)

func TestWaitReturnsAtOnceWhenAlreadyWritten(t *testing.T) {
	tb, _ := newTable(t)
	apply(t, tb, upsert(sessionGrant("g-1", 1000, 7, time.Hour)))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := tb.Wait(ctx, "g-1"); err != nil {
		t.Fatalf("Wait after the write = %v, want nil", err)
	}
}

func TestWaitBlocksUntilWritten(t *testing.T) {
	tb, k := newTable(t)
	done := make(chan error, 1)
	go func() { done <- tb.Wait(context.Background(), "g-1") }()
	select {
	case err := <-done:
		t.Fatalf("Wait returned %v before the grant was written", err)
	case <-time.After(50 * time.Millisecond):
	}
	apply(t, tb, upsert(sessionGrant("g-1", 1000, 7, time.Hour)))
	if err := <-done; err != nil {
		t.Fatalf("Wait = %v, want nil", err)
	}
	if !k.Has("g-1") {
		t.Fatal("Wait returned but the kernel has no g-1")
	}
}

// TestWaitBackWaitsForTheSameIDAgain: a removed grant answers Wait with
// its end at once, but WaitBack (a suspended grant being resumed) waits
// for the id's next write, and hears of its ending again too.
func TestWaitBackWaitsForTheSameIDAgain(t *testing.T) {
	tb, k := newTable(t)
	g := sessionGrant("g-1", 1000, 7, time.Hour)
	apply(t, tb, upsert(g), removeEv("g-1"))
	if err := tb.Wait(context.Background(), "g-1"); !errors.Is(err, ErrEnded) {
		t.Fatalf("Wait on a removed grant = %v, want ErrEnded", err)
	}
	done := make(chan error, 1)
	go func() { done <- tb.WaitBack(context.Background(), "g-1") }()
	select {
	case err := <-done:
		t.Fatalf("WaitBack returned %v before the grant came back", err)
	case <-time.After(50 * time.Millisecond):
	}
	apply(t, tb, upsert(g))
	if err := <-done; err != nil || !k.Has("g-1") {
		t.Fatalf("WaitBack = %v, kernel has g-1: %v", err, k.Has("g-1"))
	}
	if err := tb.WaitBack(context.Background(), "g-1"); err != nil {
		t.Fatalf("WaitBack on an active grant = %v", err)
	}
	apply(t, tb, removeEv("g-1"))
	go func() { done <- tb.WaitBack(context.Background(), "g-1") }()
	time.Sleep(20 * time.Millisecond)
	apply(t, tb, removeEv("g-1"))
	select {
	case err := <-done:
		if !errors.Is(err, ErrEnded) {
			t.Fatalf("WaitBack through a second removal = %v, want ErrEnded", err)
		}
	case <-time.After(time.Second):
		t.Fatal("WaitBack was not told of the second removal")
	}
}

func TestWaitTimesOut(t *testing.T) {
	tb, _ := newTable(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := tb.Wait(ctx, "never"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v, want deadline exceeded", err)
	}
	if len(tb.waiters) != 0 {
		t.Fatalf("waiter left behind: %v", tb.waiters)
	}
}

func TestWaitReportsKernelWriteFailure(t *testing.T) {
	tb, _ := newTable(t)
	done := make(chan error, 1)
	go func() { done <- tb.Wait(context.Background(), "g-1") }()
	time.Sleep(20 * time.Millisecond)
	tb.k = failingKernel{tb.k}
	if err := tb.HandleGrantEvent(upsert(sessionGrant("g-1", 1000, 7, time.Hour))); err == nil {
		t.Fatal("failed write not reported")
	}
	if err := <-done; err == nil {
		t.Fatal("waiter not told about the failed write")
	}
}

type failingKernel struct{ Kernel }

func (failingKernel) PutGrant(kernel.Grant) error { return errors.New("map full") }

func TestForUIDListsOnlyThatUsersLiveGrants(t *testing.T) {
	tb, k := newTable(t)
	apply(t, tb, upsert(sessionGrant("mine", 1000, 7, time.Hour)), upsert(sessionGrant("theirs", 1001, 8, time.Hour)))
	_ = k.PutGrant(kernel.Grant{ID: "unknown", UID: 1000, SessionID: kernel.AnySession, ExpiresAt: time.Now().Add(time.Minute)})
	got, err := tb.ForUID(1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].GetId() != "unknown" || got[1].GetId() != "mine" {
		t.Fatalf("ForUID(1000) = %v, want [unknown mine] by expiry", got)
	}
	if got[0].GetScope().String() != "GRANT_SCOPE_USER" {
		t.Errorf("entry at AnySession has scope %v, want user", got[0].GetScope())
	}
}

func TestReapDeletesExpiredEntries(t *testing.T) {
	tb, k := newTable(t)
	apply(t, tb, upsert(sessionGrant("short", 1000, 7, time.Minute)), upsert(sessionGrant("long", 1000, 8, time.Hour)))
	tb.now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	if err := tb.Reap(); err != nil {
		t.Fatal(err)
	}
	if k.Has("short") || !k.Has("long") {
		t.Fatalf("after reap kernel has %v, want [long]", k.IDs())
	}
}
