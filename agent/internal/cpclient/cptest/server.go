// Package cptest is a fake control plane for agent tests, in the spirit of
// Tailscale's testcontrol: a real AgentService over real TLS with a CA made
// in the test. It enrolls hosts, serves a programmable set of grants and
// decides elevation requests with a programmable function.
package cptest

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	"github.com/zpam/zpam/proto/zpam/jointoken"
)

// Decider answers RequestElevation; the default leaves requests pending.
type Decider func(host string, req *agentv1.ElevationRequest) *commonv1.Request

// Server is the fake control plane. Its zero value is not usable; use New.
type Server struct {
	t    testing.TB
	pki  *pki
	addr string

	mu          sync.Mutex
	srv         *grpc.Server
	decide      Decider
	tokens      map[string]bool // secret → unused
	hosts       int
	enrollments int
	watches     int
	revision    int64
	grants      map[string]*commonv1.Grant
	grantSubs   map[chan *agentv1.GrantEvent]bool
	requests    map[string]*commonv1.Request
	requestSubs map[string][]chan *commonv1.Request
	canceled    []string
	certTTL     time.Duration
	rotations   int
	serials     []string
	telemetry   telemetryState
	code        string
}

// New starts a fake control plane on 127.0.0.1; it stops with the test.
func New(t testing.TB) *Server {
	t.Helper()
	p, err := newPKI()
	if err != nil {
		t.Fatalf("cptest: make PKI: %v", err)
	}
	s := &Server{
		t: t, pki: p, addr: "127.0.0.1:0", decide: Pending,
		tokens: map[string]bool{}, grants: map[string]*commonv1.Grant{},
		grantSubs: map[chan *agentv1.GrantEvent]bool{}, requests: map[string]*commonv1.Request{},
		requestSubs: map[string][]chan *commonv1.Request{}, certTTL: time.Hour,
		telemetry: telemetryState{ids: map[string]bool{}},
	}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start serves on the server's address, the same one after a Stop.
func (s *Server) Start() {
	s.t.Helper()
	lis, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatalf("cptest: listen: %v", err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(s.tlsConfig())))
	agentv1.RegisterAgentServiceServer(srv, &service{s: s})
	agentv1.RegisterIdentityServiceServer(srv, &identityService{s: s})
	agentv1.RegisterTelemetryServiceServer(srv, &telemetryService{s: s})
	agentv1.RegisterHostAuditServiceServer(srv, &auditService{s: s})
	agentv1.RegisterRelayServiceServer(srv, &relayService{s: s})
	s.mu.Lock()
	s.addr, s.srv = lis.Addr().String(), srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(lis) }()
}

// Stop closes the listener and every connection, as a crash would.
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Stop()
	}
}

// Restart is Stop then Start on the same address.
func (s *Server) Restart() {
	s.Stop()
	s.Start()
}

func (s *Server) tlsConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(s.pki.ca)
	return &tls.Config{
		MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{s.pki.server},
		ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool,
	}
}

// Addr is HOST:PORT to give the agent as --server.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// CAPEM is the CA certificate, as a --ca file would hold it.
func (s *Server) CAPEM() []byte { return pemCert(s.pki.ca.Raw) }

// Token issues a single-use join token for this server's CA.
func (s *Server) Token() string {
	tok, err := jointoken.New(s.pki.ca.Raw)
	if err != nil {
		s.t.Fatalf("cptest: token: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[tok.Secret] = true
	return tok.String()
}

// SetDecider replaces how RequestElevation answers.
func (s *Server) SetDecider(d Decider) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.decide = d
}

// Enrollments counts successful Enroll calls.
func (s *Server) Enrollments() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enrollments
}

// Watches counts WatchGrants streams opened.
func (s *Server) Watches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.watches
}

// SetCertTTL sets the validity of host certificates issued from now on.
func (s *Server) SetCertTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.certTTL = d
}

// Rotations counts RotateCertificate calls that issued a certificate.
func (s *Server) Rotations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rotations
}

// PresentedSerials lists the serials of the certificates that opened grant
// streams, oldest first.
func (s *Server) PresentedSerials() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.serials...)
}

// Canceled lists the ids of requests canceled by the agent.
func (s *Server) Canceled() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.canceled...)
}
