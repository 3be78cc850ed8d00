package daemon_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/agent/internal/audit"
	"github.com/zpam/zpam/agent/internal/config"
	"github.com/zpam/zpam/agent/internal/cpclient"
	"github.com/zpam/zpam/agent/internal/cpclient/cptest"
	"github.com/zpam/zpam/agent/internal/daemon"
	"github.com/zpam/zpam/agent/internal/grant/granttest"
	"github.com/zpam/zpam/agent/internal/kernel"
	"github.com/zpam/zpam/agent/internal/localapi/localclient"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	"github.com/zpam/zpam/proto/zpam/jointoken"
	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// fakeEnforcer is the kernel for daemon tests.
type fakeEnforcer struct {
	*granttest.Kernel
	mode    kernel.Mode
	events  chan kernel.Event
	tel     *fakeTelemetry
	removed bool

	mu     sync.Mutex
	closed bool
}

func (f *fakeEnforcer) OpenTelemetry(_ context.Context, _ kernel.TelemetryOptions, handle func(kernel.ProcessEvent)) (daemon.Telemetry, error) {
	f.tel.handle = handle
	return f.tel, nil
}
func (f *fakeEnforcer) RemoveTelemetry() error         { f.removed = true; return nil }
func (f *fakeEnforcer) Mode() kernel.Mode              { return f.mode }
func (f *fakeEnforcer) RefreshAllowlist() (int, error) { return 0, nil }
func (f *fakeEnforcer) Drops() uint64                  { return 0 }
func (f *fakeEnforcer) Stored(kernel.Event)            {}
func (f *fakeEnforcer) LostInFlight() uint64           { return 0 }
func (f *fakeEnforcer) Events() <-chan kernel.Event    { return f.events }
func (f *fakeEnforcer) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func (f *fakeEnforcer) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

type fixture struct {
	cp       *cptest.Server
	cfg      *config.Config
	enforcer *fakeEnforcer
	audit    *fakeAudit

	rotateEvery time.Duration

	mu       sync.Mutex
	notified []string
	readyOK  bool // READY came after the enforcer was open
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	cp := cptest.New(t)
	cfg := &config.Config{Server: config.Servers{cp.Addr()}, JoinToken: cp.Token(), StateDir: filepath.Join(t.TempDir(), "state"), Socket: filepath.Join(t.TempDir(), "run", "agent.sock")}
	if err := cfg.CheckAndSetDefaults(); err != nil {
		t.Fatal(err)
	}
	return &fixture{cp: cp, cfg: cfg, audit: newFakeAudit(),
		enforcer: &fakeEnforcer{Kernel: granttest.New(), mode: kernel.ModeSignal, events: make(chan kernel.Event, 8), tel: newFakeTelemetry()}}
}

func (f *fixture) daemon() *daemon.Daemon {
	opened := false
	return daemon.New(daemon.Options{
		Config: f.cfg, Version: "test", Log: discard,
		OpenEnforcer: func(context.Context, kernel.Options, *slog.Logger) (daemon.Enforcer, error) {
			opened = true
			return f.enforcer, nil
		},
		Notify: func(state string) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.notified = append(f.notified, state)
			if state == "READY=1" {
				f.readyOK = opened
			}
		},
		Backoff:             cpclient.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond},
		RotateCheckInterval: f.rotateEvery,
		LossInterval:        50 * time.Millisecond,
		OpenAudit: func(context.Context, audit.Options) (daemon.AuditStream, error) {
			return f.audit, nil
		},
	})
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func status(t *testing.T, socket string) *localv1.StatusResponse {
	t.Helper()
	c, err := localclient.Dial(socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.Status(context.Background(), &localv1.StatusRequest{})
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	return resp
}

func TestStartEnforcesGrantsAndCloseKeepsThem(t *testing.T) {
	f := newFixture(t)
	me := uint32(os.Getuid())
	f.cp.Upsert(&commonv1.Grant{Id: "g-1", Uid: me, SessionId: 4, Scope: commonv1.GrantScope_GRANT_SCOPE_SESSION, ExpiresAt: timestamppb.New(time.Now().Add(time.Hour))})
	d := f.daemon()
	if err := d.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	eventually(t, "grant in the kernel", func() bool { return f.enforcer.Has("g-1") })
	f.mu.Lock()
	ready := f.readyOK && len(f.notified) == 1
	f.mu.Unlock()
	if !ready {
		t.Fatalf("notifications %v; want READY=1 once, after the enforcer opened", f.notified)
	}
	resp := status(t, f.cfg.Socket)
	if resp.GetMode() != "signal" || len(resp.GetGrants()) != 1 || resp.GetHostId() == "" {
		t.Fatalf("status = %v, want mode signal, grant g-1, a host id", resp)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !f.enforcer.isClosed() || !f.enforcer.Has("g-1") {
		t.Fatal("Close must close the enforcer and leave its grants in place")
	}
	if _, err := os.Stat(f.cfg.Socket); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left behind: %v", err)
	}
}

func TestRestartReusesIdentityWithoutToken(t *testing.T) {
	f := newFixture(t)
	d := f.daemon()
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	first := status(t, f.cfg.Socket).GetHostId()
	_ = d.Close()
	f.cfg.JoinToken = ""
	d = f.daemon()
	if err := d.Start(context.Background()); err != nil {
		t.Fatalf("restart without a token: %v", err)
	}
	defer d.Close()
	if got := status(t, f.cfg.Socket).GetHostId(); got != first || f.cp.Enrollments() != 1 {
		t.Fatalf("host %s after restart (was %s), %d enrollments; want same host, 1", got, first, f.cp.Enrollments())
	}
}

func TestStartRefusesUntrustedServer(t *testing.T) {
	f := newFixture(t)
	other := make([]byte, 32)
	_, _ = rand.Read(other)
	tok, _ := jointoken.New(other)
	f.cfg.JoinToken = tok.String()
	err := f.daemon().Start(context.Background())
	if !errors.Is(err, cpclient.ErrUntrustedServer) {
		t.Fatalf("Start = %v, want ErrUntrustedServer", err)
	}
	if !f.enforcer.isClosed() {
		t.Fatal("failed Start left the enforcer open")
	}
	if _, err := os.Stat(f.cfg.StateDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("state dir written after refusing the server: %v", err)
	}
}

// TestWatchdogPings: with a watchdog asked for, the running agent keeps
// sending WATCHDOG=1, and sends no more once Close has returned.
func TestWatchdogPings(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "20000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	f := newFixture(t)
	d := f.daemon()
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	pings := func() int {
		f.mu.Lock()
		defer f.mu.Unlock()
		n := 0
		for _, s := range f.notified {
			if s == "WATCHDOG=1" {
				n++
			}
		}
		return n
	}
	eventually(t, "three WATCHDOG=1 pings", func() bool { return pings() >= 3 })
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	after := pings()
	time.Sleep(50 * time.Millisecond) // five ping intervals
	if got := pings(); got != after {
		t.Fatalf("%d pings after Close returned", got-after)
	}
}
