// Package localapi serves zpam.local.v1 to pamctl on a unix socket. The
// caller is whoever SO_PEERCRED says; nothing in a request names a user.
package localapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/zpam/zpam/agent/internal/cpclient"
	"github.com/zpam/zpam/agent/internal/kernel"
	"github.com/zpam/zpam/agent/internal/recording"
	"github.com/zpam/zpam/agent/internal/shell"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
)

// ControlPlane is what the local API asks of the control plane client.
type ControlPlane interface {
	RequestElevation(context.Context, *agentv1.ElevationRequest) (*commonv1.Request, error)
	WatchRequest(ctx context.Context, id string, fn func(*commonv1.Request) (done bool, err error)) error
	CancelRequest(ctx context.Context, id string) (*commonv1.Request, error)
	Connected() bool
	cpclient.Relay
}

// Grants is the host's grant table.
type Grants interface {
	// Wait returns nil once grant id is written to the kernel.
	Wait(ctx context.Context, id string) error
	// WaitBack returns nil once grant id, which ended on this host
	// before (suspended), is written to the kernel again.
	WaitBack(ctx context.Context, id string) error
	ForUID(uid uint32) ([]*commonv1.Grant, error)
}

// Denials keeps the recent kernel denials per user.
type Denials interface {
	Recent(uid uint32) []kernel.Event
}

// Options configure a Server.
type Options struct {
	Socket       string
	Mode         kernel.Mode
	HostID       string
	Version      string
	ControlPlane ControlPlane
	Grants       Grants
	Denials      Denials
	// BreakGlass, when set, serves pamctl break-glass.
	BreakGlass BreakGlass
	// Audit relays pamctl audit; nil answers Unimplemented.
	Audit AuditRelay
	// Risk relays pamctl elevate --resume and pamctl residue; nil
	// answers Unimplemented.
	Risk RiskRelay
	Log  *slog.Logger
	// EnforceTimeout bounds the wait between "granted" upstream and the
	// grant reaching this host's kernel; zero means 30s.
	EnforceTimeout time.Duration
	// Recordings keeps recorded shells; nil: no recorded shells.
	Recordings *recording.Store
	// Shells starts the helpers of recorded shells; nil: no recorded
	// shells.
	Shells shell.Launcher
	// Publisher ships recording chunks; nil keeps them local only.
	Publisher recording.Publisher
	Hostname  string
}

// maxElevationsPerUID bounds the requests one user may have in flight.
const maxElevationsPerUID = 4

// Server is the local API. Start it once; Close stops it.
type Server struct {
	localv1.UnimplementedLocalAgentServer
	o   Options
	srv *grpc.Server
	lis net.Listener

	mu       sync.Mutex
	inflight map[uint32]int
	// open maps the request id of each open Elevate or Shell stream to
	// the uid it belongs to: only that caller may answer or withdraw it.
	open map[string]uint32
	done chan struct{}
}

// New makes a server; nothing listens until Start.
func New(o Options) *Server {
	if o.EnforceTimeout == 0 {
		o.EnforceTimeout = 30 * time.Second
	}
	s := &Server{o: o, inflight: map[uint32]int{}, open: map[string]uint32{}, done: make(chan struct{})}
	s.srv = grpc.NewServer(grpc.Creds(peerCreds{}), grpc.MaxRecvMsgSize(64<<10))
	localv1.RegisterLocalAgentServer(s.srv, s)
	localv1.RegisterLocalBreakGlassServer(s.srv, &breakGlassServer{s: s})
	localv1.RegisterLocalAuditServer(s.srv, auditServer{s: s})
	localv1.RegisterLocalRequestsServer(s.srv, &requestsAPI{s: s})
	localv1.RegisterLocalShellServer(s.srv, &shellAPI{s: s})
	localv1.RegisterLocalRiskServer(s.srv, &riskAPI{s: s})
	return s
}

// Start creates the socket and serves in the background.
func (s *Server) Start() error {
	l, err := listen(s.o.Socket)
	if err != nil {
		return err
	}
	s.lis = l
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(l); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.o.Log.Error("local API stopped", "err", err)
		}
	}()
	s.o.Log.Info("local API listening", "socket", s.o.Socket)
	return nil
}

// Close stops serving and removes the socket. Streams in flight end, and
// their pending requests are withdrawn upstream by their handlers.
func (s *Server) Close() error {
	s.srv.Stop()
	if s.lis == nil {
		return nil
	}
	<-s.done
	return nil
}

// admit counts an elevation of uid in flight; release undoes it.
func (s *Server) admit(uid uint32) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight[uid] >= maxElevationsPerUID {
		return nil, fmt.Errorf("%w: uid %d already has %d elevation requests in flight", errBusy, uid, maxElevationsPerUID)
	}
	s.inflight[uid]++
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.inflight[uid]--; s.inflight[uid] == 0 {
			delete(s.inflight, uid)
		}
	}, nil
}

// track marks request id as uid's open elevation until untrack is called.
func (s *Server) track(id string, uid uint32) (untrack func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open[id] = uid
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.open, id)
	}
}

// ownOpen says whether id is an open elevation of uid.
func (s *Server) ownOpen(id string, uid uint32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	owner, ok := s.open[id]
	return ok && owner == uid
}
