// Package localapitest runs an agent without a kernel, for tests of the
// local API and of pamctl: the fake control plane, the real control plane
// client and grant table over an in-memory kernel map, and the local API
// on a real unix socket.
package localapitest

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/zpam/zpam/agent/internal/cpclient"
	"github.com/zpam/zpam/agent/internal/cpclient/cptest"
	"github.com/zpam/zpam/agent/internal/grant"
	"github.com/zpam/zpam/agent/internal/grant/granttest"
	"github.com/zpam/zpam/agent/internal/kernel"
	"github.com/zpam/zpam/agent/internal/localapi"
	"github.com/zpam/zpam/agent/internal/localapi/localclient"
)

// Agent is a running agent without a kernel.
type Agent struct {
	CP      *cptest.Server
	Client  *cpclient.Client
	Kernel  *granttest.Kernel
	Table   *grant.Table
	Denials *Denials
	Socket  string
	API     *localapi.Server
	// HostID is the host the agent enrolled as.
	HostID string
}

// Start runs an agent over k (a fresh map if nil) until the test ends.
func Start(t testing.TB, k *granttest.Kernel) *Agent {
	t.Helper()
	if k == nil {
		k = granttest.New()
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := &Agent{CP: cptest.New(t), Kernel: k, Denials: &Denials{}, Socket: filepath.Join(t.TempDir(), "run", "agent.sock")}
	id, err := cpclient.Enroll(context.Background(), cpclient.EnrollParams{Servers: []string{a.CP.Addr()}, JoinToken: a.CP.Token(), StateDir: t.TempDir(), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	a.Client, err = cpclient.Dial(cpclient.Options{Servers: []string{a.CP.Addr()}, Identity: id, Log: log, Backoff: cpclient.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	a.Table = grant.New(k, log)
	a.HostID = id.HostID
	ctx, cancel := context.WithCancel(context.Background())
	watching := make(chan struct{})
	go func() { a.Client.WatchGrants(ctx, a.Table); close(watching) }()
	a.API = localapi.New(localapi.Options{
		Socket: a.Socket, Mode: kernel.ModeSignal, HostID: id.HostID, Version: "test",
		ControlPlane: a.Client, Grants: a.Table, Denials: a.Denials, Audit: a.Client, Risk: a.Client, Log: log, EnforceTimeout: 5 * time.Second,
	})
	if err := a.API.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.API.Close()
		cancel()
		<-watching
		a.Client.Close()
	})
	return a
}

// Dial connects a pamctl-side client, closed with the test.
func (a *Agent) Dial(t testing.TB) *localclient.Client {
	t.Helper()
	c, err := localclient.Dial(a.Socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Denials is a settable denial history.
type Denials struct {
	mu  sync.Mutex
	evs []kernel.Event
}

// Add records a denial.
func (d *Denials) Add(ev kernel.Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.evs = append(d.evs, ev)
}

// Recent returns uid's denials.
func (d *Denials) Recent(uid uint32) []kernel.Event {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []kernel.Event
	for _, ev := range d.evs {
		if ev.UID == uid {
			out = append(out, ev)
		}
	}
	return out
}

// Eventually polls cond for up to thirty seconds: long enough for a
// loaded CI machine, and only a failing test ever waits that long.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
