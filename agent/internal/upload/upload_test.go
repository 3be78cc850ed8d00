package upload_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zpam/zpam/agent/internal/cpclient"
	"github.com/zpam/zpam/agent/internal/cpclient/cptest"
	"github.com/zpam/zpam/agent/internal/spool"
	"github.com/zpam/zpam/agent/internal/upload"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

var fast = cpclient.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond}

type harness struct {
	cp     *cptest.Server
	client *cpclient.Client
	dir    string
	spool  *spool.Spool
	up     *upload.Uploader
	stop   func()
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	cp := cptest.New(t)
	id, err := cpclient.Enroll(context.Background(), cpclient.EnrollParams{
		Servers: []string{cp.Addr()}, JoinToken: cp.Token(), StateDir: filepath.Join(t.TempDir(), "state"), Log: discardLog(),
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cpclient.Dial(cpclient.Options{Servers: []string{cp.Addr()}, Identity: id, Log: discardLog(), Backoff: fast})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	h := &harness{cp: cp, client: c, dir: t.TempDir()}
	h.start(t, 0, nil)
	return h
}

// start opens the spool, calls before, and runs an uploader over it.
func (h *harness) start(t *testing.T, window int, before func()) {
	t.Helper()
	s, err := spool.Open(spool.Options{Dir: h.dir})
	if err != nil {
		t.Fatal(err)
	}
	h.spool = s
	if before != nil {
		before()
	}
	h.up = upload.New(upload.Options{Spool: s, Client: h.client, Backoff: fast, Window: window, BatchEvents: 50})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.up.Run(ctx); close(done) }()
	var once sync.Once
	h.stop = func() { once.Do(func() { cancel(); <-done; s.Close() }) }
	t.Cleanup(h.stop)
}

func (h *harness) publish(from, n int) {
	for i := from; i < from+n; i++ {
		h.spool.Publish(&commonv1.Event{Kind: commonv1.EventKind_EVENT_KIND_EXEC,
			Detail: &commonv1.Event_Exec{Exec: &commonv1.ExecEvent{Argv: []string{"true", fmt.Sprint(i)}}}})
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// exactlyOnce checks the control plane stored events 0..n-1, each once.
func exactlyOnce(t *testing.T, cp *cptest.Server, n int) {
	t.Helper()
	seen := map[string]bool{}
	for _, ev := range cp.Uploaded() {
		arg := ev.GetExec().GetArgv()[1]
		if seen[arg] {
			t.Fatalf("event %s stored twice", arg)
		}
		seen[arg] = true
	}
	for i := range n {
		if !seen[fmt.Sprint(i)] {
			t.Fatalf("event %d of %d never stored (%d stored)", i, n, len(seen))
		}
	}
	if len(seen) != n {
		t.Fatalf("%d events stored; want %d", len(seen), n)
	}
}

func TestUploadDeliversAndDeletesOnAck(t *testing.T) {
	h := newHarness(t)
	h.publish(0, 1000)
	eventually(t, "1000 events stored", func() bool { return len(h.cp.Uploaded()) == 1000 })
	eventually(t, "all acked", func() bool { return h.up.Stats().Acked == 1000 })
	exactlyOnce(t, h.cp, 1000)
	for _, ev := range h.cp.Uploaded() {
		if ev.GetHostId() == "" || ev.GetId() == "" {
			t.Fatalf("stored event %v lacks a host or an id", ev)
		}
	}
	if !h.up.Stats().Connected || h.spool.OldestUnacked() != (time.Time{}) {
		t.Fatalf("stats %+v, oldest unacked %v; want connected and nothing pending", h.up.Stats(), h.spool.OldestUnacked())
	}
}

func TestUploadResumesAfterOutageAndRestartWithoutLoss(t *testing.T) {
	h := newHarness(t)
	h.publish(0, 300)
	eventually(t, "first events stored", func() bool { return len(h.cp.Uploaded()) > 0 })
	h.cp.Stop()
	h.publish(300, 300) // while the control plane is down
	h.stop()            // and the agent restarts meanwhile
	h.start(t, 0, nil)
	h.publish(600, 300)
	h.cp.Start()
	eventually(t, "900 events stored", func() bool { return len(h.cp.Uploaded()) >= 900 })
	exactlyOnce(t, h.cp, 900)
	if _, _, streams := h.cp.UploadStats(); streams < 2 {
		t.Fatalf("%d upload streams; want a reconnect", streams)
	}
}

func TestUnackedBatchesAreResent(t *testing.T) {
	h := newHarness(t)
	var failed atomic.Bool
	h.cp.HoldUploads(func(*agentv1.EventBatch) error {
		if failed.CompareAndSwap(false, true) {
			return errors.New("cptest: lost before the ack")
		}
		return nil
	})
	h.publish(0, 200)
	eventually(t, "200 events stored", func() bool { return len(h.cp.Uploaded()) == 200 })
	exactlyOnce(t, h.cp, 200)
}

func TestUploadKeepsAtMostWindowBatchesUnacked(t *testing.T) {
	h := newHarness(t)
	h.stop()
	release := make(chan struct{})
	var held, maxHeld atomic.Int32
	h.cp.HoldUploads(func(*agentv1.EventBatch) error {
		n := held.Add(1)
		for m := maxHeld.Load(); n > m && !maxHeld.CompareAndSwap(m, n); m = maxHeld.Load() {
		}
		<-release
		held.Add(-1)
		return nil
	})
	h.start(t, 3, func() { h.publish(0, 1000) }) // 20 batches of 50
	eventually(t, "uploader blocked on its window", func() bool { return h.up.Stats().Sent == 150 })
	time.Sleep(100 * time.Millisecond)
	if sent := h.up.Stats().Sent; sent != 150 {
		t.Fatalf("%d events sent with 3 batches of 50 unacknowledged; the window must stop the sender", sent)
	}
	close(release)
	eventually(t, "all stored", func() bool { return len(h.cp.Uploaded()) == 1000 })
	exactlyOnce(t, h.cp, 1000)
	if maxHeld.Load() > 1 {
		t.Fatalf("the server saw %d batches at once; acks must be in order", maxHeld.Load())
	}
}
