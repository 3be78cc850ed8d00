package cpclient

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// Options configure Dial.
type Options struct {
	// Servers are the control plane's replicas, HOST:PORT, in order of
	// preference; one is enough.
	Servers  []string
	Identity *Identity
	Log      *slog.Logger
	// Backoff paces reconnects; zero means DefaultBackoff.
	Backoff Backoff
}

// Client is the mTLS connection to the control plane as an enrolled host.
// It is safe for concurrent use.
type Client struct {
	conn       *grpc.ClientConn
	api        agentv1.AgentServiceClient
	ids        agentv1.IdentityServiceClient
	breakGlass agentv1.BreakGlassServiceClient
	telemetry  agentv1.TelemetryServiceClient
	audit      agentv1.HostAuditServiceClient
	relay      agentv1.RelayServiceClient
	risk       agentv1.HostRiskServiceClient
	log        *slog.Logger
	backoff    Backoff
	connected  atomic.Bool
	// identity is presented at every TLS handshake; Rotate replaces it.
	identity atomic.Pointer[Identity]
}

// Dial prepares the connection; it connects lazily and reconnects by
// itself. With several servers, gRPC's pick_first policy connects to the
// first that answers and, when that connection breaks, to the next: the
// grant stream and unary calls alike move to another replica. Each
// server's certificate is verified for that server's own host name.
func Dial(o Options) (*Client, error) {
	if o.Backoff == (Backoff{}) {
		o.Backoff = DefaultBackoff
	}
	c := &Client{log: o.Log, backoff: o.Backoff}
	c.identity.Store(o.Identity)
	tlsConf, err := mutualTLS(o.Identity, c.Identity)
	if err != nil {
		return nil, err
	}
	target, resolver, err := replicas(o.Servers)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(target, grpc.WithResolvers(resolver),
		grpc.WithTransportCredentials(credentials.NewTLS(tlsConf)),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: connBackoff(o.Backoff), MinConnectTimeout: 10 * time.Second}))
	if err != nil {
		return nil, fmt.Errorf("dial control plane: %w", err)
	}
	c.conn, c.api = conn, agentv1.NewAgentServiceClient(conn)
	c.ids, c.breakGlass = agentv1.NewIdentityServiceClient(conn), agentv1.NewBreakGlassServiceClient(conn)
	c.telemetry, c.audit = agentv1.NewTelemetryServiceClient(conn), agentv1.NewHostAuditServiceClient(conn)
	c.relay, c.risk = agentv1.NewRelayServiceClient(conn), agentv1.NewHostRiskServiceClient(conn)
	return c, nil
}

// replicas is a resolver that always answers with the configured
// servers, each named for its own TLS verification.
func replicas(servers []string) (string, *manual.Resolver, error) {
	if len(servers) == 0 {
		return "", nil, fmt.Errorf("no control plane address given")
	}
	var endpoints []resolver.Endpoint
	for _, s := range servers {
		host, err := hostOf(s)
		if err != nil {
			return "", nil, err
		}
		endpoints = append(endpoints, resolver.Endpoint{Addresses: []resolver.Address{{Addr: s, ServerName: host}}})
	}
	r := manual.NewBuilderWithScheme("zpam-replicas")
	r.InitialState(resolver.State{Endpoints: endpoints})
	return r.Scheme() + ":///control-plane", r, nil
}

// connBackoff keeps gRPC's own reconnect delay within our cap; its default
// grows to two minutes, which would delay revocations after an outage.
func connBackoff(b Backoff) backoff.Config {
	c := backoff.DefaultConfig
	c.BaseDelay, c.MaxDelay = b.Min, b.Max
	return c
}

// Backoff is the reconnect pacing the client was dialled with, for the
// other streams that ride on its connection.
func (c *Client) Backoff() Backoff { return c.backoff }

// Close ends the connection; streams in flight fail.
func (c *Client) Close() error { return c.conn.Close() }

// Connected reports whether the grant stream is open and has delivered
// its first event since it (re)connected.
func (c *Client) Connected() bool { return c.connected.Load() }

func (c *Client) setConnected(v bool) {
	if c.connected.Swap(v) != v {
		c.log.Info("control plane link changed", "connected", v)
	}
}

// RequestElevation files a request for a local user the agent identified.
func (c *Client) RequestElevation(ctx context.Context, req *agentv1.ElevationRequest) (*commonv1.Request, error) {
	return c.api.RequestElevation(ctx, req)
}

// CancelRequest withdraws a pending request of this host.
func (c *Client) CancelRequest(ctx context.Context, id string) (*commonv1.Request, error) {
	return c.api.CancelRequest(ctx, &agentv1.CancelRequestRequest{RequestId: id})
}
