// Package server is the control plane's network edge: thin gRPC adapters
// over the cores (AgentService, AdminService over requests;
// TelemetryService, HostAuditService, AuditService over telemetry),
// certificate-based authorisation, and the HTTP endpoints: the web
// console, /healthz and
// /metrics.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/zpam/zpam/controlplane/internal/breakglass"
	"github.com/zpam/zpam/controlplane/internal/ca"
	"github.com/zpam/zpam/controlplane/internal/config"
	"github.com/zpam/zpam/controlplane/internal/enroll"
	"github.com/zpam/zpam/controlplane/internal/export"
	"github.com/zpam/zpam/controlplane/internal/policy"
	"github.com/zpam/zpam/controlplane/internal/requests"
	"github.com/zpam/zpam/controlplane/internal/store"
	"github.com/zpam/zpam/controlplane/internal/telemetry"
	"github.com/zpam/zpam/controlplane/internal/web"
	adminv1 "github.com/zpam/zpam/proto/zpam/admin/v1"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
)

// gracePeriod is how long shutdown waits for calls in flight before
// cutting open streams (agents reconnect and resynchronise).
const gracePeriod = 3 * time.Second

// Server is a running control plane.
type Server struct {
	cfg     config.Serve
	log     *slog.Logger
	store   *store.Store
	policy  *policy.Source
	core    *requests.Service
	tel     *telemetry.Service
	exports *export.Exporter
	grpc    *grpc.Server
	http    *http.Server
	grpcLis net.Listener
	httpLis net.Listener
}

// New opens the store, loads CA and policy, and binds both listeners, so
// address errors surface before anything is served.
func New(ctx context.Context, cfg config.Serve, log *slog.Logger) (*Server, error) {
	s := &Server{cfg: cfg, log: log}
	if err := s.open(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) open(ctx context.Context) error {
	layout := s.cfg.Layout()
	auth, err := ca.Load(layout)
	if err != nil {
		return fmt.Errorf("%w (run pam-controlplane init --data-dir %s)", err, layout.Dir)
	}
	if s.policy, err = policy.NewSource(layout.Policy(), s.log); err != nil {
		return err
	}
	if s.store, err = store.Open(ctx, s.cfg.Database.Driver, s.cfg.Database.DSN()); err != nil {
		return err
	}
	m := newMetrics()
	inspector := &execInspector{}
	if err := s.openTelemetry(m, inspector); err != nil {
		return err
	}
	s.core = requests.New(requests.Config{Store: s.store, Policy: s.policy, Observer: lifecycleObserver{m, s.tel}, Log: s.log})
	inspector.core = s.core
	m.watchCore(s.core)
	signer, err := breakglass.LoadOrCreate(layout, auth, time.Now())
	if err != nil {
		return err
	}
	enr := enroll.New(enroll.Config{Store: s.store, Signer: auth, CAPEM: auth.CertPEM, CADER: auth.Cert.Raw, CertTTL: s.cfg.HostCertTTL, Enrolled: m.enrolled, Rotated: m.rotated})
	if err := s.buildGRPC(layout, auth, enr, signer); err != nil {
		return err
	}
	if err := s.buildHTTP(layout, auth, m); err != nil {
		return err
	}
	return s.listen()
}

// buildHTTP makes the HTTP server of the console, /healthz and /metrics,
// over TLS with the server certificate when --http-tls is set.
func (s *Server) buildHTTP(layout config.Layout, auth *ca.Authority, m *metrics) error {
	console, err := web.New(web.Config{Core: s.core, Store: s.store, Log: s.log, TLS: s.cfg.HTTPTLS})
	if err != nil {
		return err
	}
	s.http = &http.Server{Handler: newHTTPHandler(s.store, m, console), ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	if s.cfg.HTTPTLS {
		s.http.TLSConfig, err = ca.BrowserTLS(layout, auth)
	}
	return err
}

// openTelemetry makes the telemetry core and the SIEM exports over it.
func (s *Server) openTelemetry(m *metrics, inspector *execInspector) error {
	tm := newTelemetryMetrics(m.registry)
	inspector.metrics = tm
	s.tel = telemetry.New(telemetry.Config{Store: s.store, Retention: s.cfg.Retention, Observer: tm, Log: s.log, Inspector: inspector})
	sinks, err := openSinks(s.cfg)
	if err != nil {
		return err
	}
	s.exports = export.New(export.Config{Source: s.tel, Sinks: sinks, Metrics: tm, Log: s.log})
	tm.exporter = s.exports
	return nil
}

// connReadBuffer is gRPC's read buffer per connection (32 KiB by
// default), held for as long as an agent stays connected. It sits on top
// of the TLS connection, which keeps whole records decrypted in its own
// buffer, so a small one costs a few more copies out of that buffer and
// saves 28 KiB of the control plane's memory per connected agent.
const connReadBuffer = 4 << 10

func (s *Server) buildGRPC(layout config.Layout, auth *ca.Authority, enr *enroll.Service, signer *breakglass.Signer) error {
	tlsCfg, err := ca.ServerTLS(layout, auth)
	if err != nil {
		return err
	}
	authz := &authorizer{hostActive: s.core.HostActive}
	s.grpc = grpc.NewServer(
		grpc.Creds(boundHandshakes(credentials.NewTLS(tlsCfg), maxHandshakes, maxHandshakeWait)),
		grpc.ChainUnaryInterceptor(authz.unary),
		grpc.ChainStreamInterceptor(authz.stream),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.ReadBufferSize(connReadBuffer),
	)
	agentv1.RegisterAgentServiceServer(s.grpc, &agentService{core: s.core, enroll: enr})
	adminv1.RegisterAdminServiceServer(s.grpc, &adminService{core: s.core})
	agentv1.RegisterIdentityServiceServer(s.grpc, &identityService{enroll: enr})
	agentv1.RegisterBreakGlassServiceServer(s.grpc, &breakGlassService{core: s.core, signer: signer})
	adminv1.RegisterWorkloadServiceServer(s.grpc, &workloadService{core: s.core})
	agentv1.RegisterTelemetryServiceServer(s.grpc, &telemetryService{core: s.tel})
	agentv1.RegisterHostAuditServiceServer(s.grpc, &hostAuditService{core: s.tel})
	adminv1.RegisterAuditServiceServer(s.grpc, &auditService{core: s.tel, approvers: s.core})
	agentv1.RegisterRelayServiceServer(s.grpc, &relayService{core: s.core})
	adminv1.RegisterRiskServiceServer(s.grpc, &riskService{core: s.core, events: s.tel})
	agentv1.RegisterHostRiskServiceServer(s.grpc, &hostRiskService{core: s.core, events: s.tel})
	return nil
}

func (s *Server) listen() error {
	var err error
	if s.grpcLis, err = net.Listen("tcp", s.cfg.Listen); err != nil {
		return fmt.Errorf("listen on --listen %s: %w", s.cfg.Listen, err)
	}
	if s.httpLis, err = net.Listen("tcp", s.cfg.HTTP); err != nil {
		return fmt.Errorf("listen on --http %s: %w", s.cfg.HTTP, err)
	}
	return nil
}

// GRPCAddr is the bound gRPC address.
func (s *Server) GRPCAddr() net.Addr { return s.grpcLis.Addr() }

// HTTPAddr is the bound HTTP address.
func (s *Server) HTTPAddr() net.Addr { return s.httpLis.Addr() }

// Reload re-reads policy.yaml now, as SIGHUP does.
func (s *Server) Reload() error { return s.policy.Reload() }

// Core is the request service, for tests.
func (s *Server) Core() *requests.Service { return s.core }

// Run serves until ctx ends, then shuts down: gRPC first (no new
// decisions), then HTTP, then the background loops; Close releases the
// store. reload delivers SIGHUP.
func (s *Server) Run(ctx context.Context, reload <-chan os.Signal) error {
	loops, stopLoops := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.policy.Run(loops, s.cfg.PolicyPoll, reload) })
	wg.Go(func() { s.core.RunExpiry(loops, s.cfg.ExpiryTick) })
	wg.Go(s.core.ReevaluationLoop(loops, s.cfg.PolicyPoll))
	wg.Go(func() { s.tel.RunRetention(loops) })
	wg.Go(func() { s.exports.Run(loops) })
	wg.Go(func() { s.core.RunFanout(loops, s.cfg.FanoutPoll) })
	wg.Go(func() { s.core.RunPrune(loops, s.cfg.ChangeRetention) })
	errs := make(chan error, 2)
	go func() { errs <- s.grpc.Serve(s.grpcLis) }()
	go func() { errs <- s.serveHTTP() }()
	s.log.Info("serving", "grpc", s.GRPCAddr().String(), "http", s.HTTPAddr().String(), "http_tls", s.cfg.HTTPTLS, "database", s.cfg.Database.String())
	var err error
	select {
	case <-ctx.Done():
	case err = <-errs:
		err = fmt.Errorf("serve: %w", err)
	}
	s.shutdown()
	stopLoops()
	wg.Wait()
	return err
}

func (s *Server) serveHTTP() error {
	if s.http.TLSConfig != nil {
		return s.http.ServeTLS(s.httpLis, "", "")
	}
	return s.http.Serve(s.httpLis)
}

func (s *Server) shutdown() {
	s.log.Info("shutting down")
	stopped := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(gracePeriod):
		s.grpc.Stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), gracePeriod)
	defer cancel()
	if err := s.http.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Warn("http shutdown", "error", err)
	}
}

// Close releases listeners, export sinks and the store.
func (s *Server) Close() error {
	for _, l := range []net.Listener{s.grpcLis, s.httpLis} {
		if l != nil {
			l.Close()
		}
	}
	if s.exports != nil {
		s.exports.Close()
	}
	if s.store != nil {
		return s.store.Close()
	}
	return nil
}
