package breakglass

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/agent/internal/statefile"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// Files in the state dir.
const (
	policyFile = "breakglass.policy"
	auditFile  = "breakglass.log"
	outboxDir  = "breakglass-outbox"
)

// anySession is the kernel's "no audit session"; such callers get a
// user-scoped grant.
const anySession = ^uint32(0)

var (
	// ErrRefused: the caller may not break glass under the cached policy.
	ErrRefused = errors.New("break-glass refused")
	// ErrBadRequest: reason or duration is not acceptable.
	ErrBadRequest = errors.New("invalid break-glass request")
)

// Grants writes a locally decided grant to the kernel and keeps it across
// the control plane's snapshots until it is reported.
type Grants interface {
	PutLocal(*commonv1.Grant) error
}

// Upstream is the control plane, when reachable.
type Upstream interface {
	GetBreakGlassPolicy(context.Context) (*agentv1.SignedBreakGlassPolicy, error)
	ReportBreakGlass(context.Context, *agentv1.BreakGlassReport) error
	Connected() bool
}

// Options configure a Manager.
type Options struct {
	StateDir string
	HostID   string
	// CAPEM is the control plane CA the signer certificate must chain to.
	CAPEM    []byte
	Grants   Grants
	Upstream Upstream
	Log      *slog.Logger
	// Terminal writes a line to a tty ("pts/3"); best effort.
	Terminal func(tty, line string) error
	// Journal sends an alert-priority journal entry; nil means journald.
	Journal func(msg string, fields map[string]string) error
	Now     func() time.Time
}

// Manager caches the signed policy, opens windows and reports them.
type Manager struct {
	o    Options
	kick chan struct{}
	mu   sync.Mutex // serialises outbox flushes
}

// New makes a Manager; nothing runs until Run.
func New(o Options) *Manager {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Journal == nil {
		o.Journal = journalAlert
	}
	if o.Terminal == nil {
		o.Terminal = func(string, string) error { return nil }
	}
	return &Manager{o: o, kick: make(chan struct{}, 1)}
}

// Refresh fetches the host's policy, checks it and caches it. A policy
// that fails the checks is not cached: the old one stays.
func (m *Manager) Refresh(ctx context.Context) error {
	s, err := m.o.Upstream.GetBreakGlassPolicy(ctx)
	if err != nil {
		return fmt.Errorf("fetch break-glass policy: %w", err)
	}
	p, err := Verify(s, m.o.CAPEM, m.o.HostID, m.o.Now())
	if err != nil {
		return err
	}
	data, err := proto.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode break-glass policy: %w", err)
	}
	if err := statefile.Write(filepath.Join(m.o.StateDir, policyFile), data, 0o600); err != nil {
		return err
	}
	m.o.Log.Info("break-glass policy cached", "users", p.GetUsers(), "max_duration", p.GetMaxDuration().AsDuration(), "expires_at", p.GetExpiresAt().AsTime())
	return nil
}

// Policy loads the cached policy and checks signature, host and expiry
// on every load: the file is trusted only as far as its signature.
func (m *Manager) Policy() (*agentv1.BreakGlassPolicy, error) {
	data, err := os.ReadFile(filepath.Join(m.o.StateDir, policyFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: none was fetched yet; the agent fetches it once connected to the control plane", ErrNoPolicy)
	}
	if err != nil {
		return nil, fmt.Errorf("read break-glass policy: %w", err)
	}
	s := &agentv1.SignedBreakGlassPolicy{}
	if err := proto.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("%w: the cached file is damaged: %v", ErrNoPolicy, err)
	}
	return Verify(s, m.o.CAPEM, m.o.HostID, m.o.Now())
}

// Caller is who asks, as the kernel identified them.
type Caller struct {
	User      string
	UID       uint32
	SessionID uint32
	TTY       string
	PID       uint32
}

// Open checks the caller against the cached policy, without the network,
// and on success writes the kernel grant, raises the alarm and queues the
// report. duration 0 means the policy's maximum.
func (m *Manager) Open(ctx context.Context, c Caller, reason string, duration time.Duration) (*commonv1.Grant, bool, error) {
	p, err := m.Policy()
	if err != nil {
		return nil, false, err
	}
	if duration, err = m.check(p, c, reason, duration); err != nil {
		return nil, false, err
	}
	now := m.o.Now()
	g := &commonv1.Grant{
		Id: "bg-" + strings.ReplaceAll(uuid.NewString(), "-", ""), HostId: m.o.HostID, User: c.User, Uid: c.UID,
		Scope: commonv1.GrantScope_GRANT_SCOPE_SESSION, SessionId: c.SessionID, GrantedAt: timestamppb.New(now),
		ExpiresAt: timestamppb.New(now.Add(duration)), Role: "break-glass", BreakGlass: true,
	}
	if c.SessionID == anySession {
		g.Scope, g.SessionId = commonv1.GrantScope_GRANT_SCOPE_USER, 0
	}
	if err := m.o.Grants.PutLocal(g); err != nil {
		return nil, false, fmt.Errorf("write break-glass grant: %w", err)
	}
	rep := &agentv1.BreakGlassReport{GrantId: g.GetId(), User: c.User, Uid: c.UID, Reason: reason, StartedAt: g.GetGrantedAt(),
		ExpiresAt: g.GetExpiresAt(), SessionId: c.SessionID, Tty: c.TTY, Pid: c.PID}
	m.alarm(rep, duration)
	if err := m.enqueue(rep); err != nil {
		m.o.Log.Error("queue break-glass report", "grant_id", g.GetId(), "err", err)
	}
	return g, m.reportNow(ctx), nil
}

func (m *Manager) check(p *agentv1.BreakGlassPolicy, c Caller, reason string, d time.Duration) (time.Duration, error) {
	max := p.GetMaxDuration().AsDuration()
	switch {
	case !slices.Contains(p.GetUsers(), c.User) && !slices.Contains(p.GetUsers(), "*"):
		return 0, fmt.Errorf("%w: %s is not among the users the break-glass policy of this host allows", ErrRefused, c.User)
	case strings.TrimSpace(reason) == "":
		return 0, fmt.Errorf("%w: a reason is required, e.g. --reason \"INC-4411 database down\"", ErrBadRequest)
	case d < 0 || d > max:
		return 0, fmt.Errorf("%w: --for %s is longer than the %s break-glass allows", ErrBadRequest, d, max)
	case d == 0:
		return max, nil
	}
	return d, nil
}

// reportNow tries the report at once when the link is up, briefly, so
// pamctl can say whether upstream already knows.
func (m *Manager) reportNow(ctx context.Context) bool {
	defer m.Kick()
	if !m.o.Upstream.Connected() {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	n, err := m.Flush(ctx)
	return err == nil && n > 0 && len(m.Pending()) == 0
}
