// Package localclient is pamctl's side of the local API: a gRPC client over
// the agent's unix socket. It is apart from localapi so that pamctl does
// not link the agent's kernel code.
package localclient

import (
	"context"
	"fmt"
	"net"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/local"

	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
)

// Client is pamctl's connection to the agent.
type Client struct {
	localv1.LocalAgentClient
	localv1.LocalBreakGlassClient
	localv1.LocalRequestsClient
	localv1.LocalShellClient
	// Audit is pamctl audit's service on the same socket.
	Audit localv1.LocalAuditClient
	// Risk is pamctl elevate --resume's and pamctl residue's service.
	Risk localv1.LocalRiskClient
	conn *grpc.ClientConn

	mu      sync.Mutex
	dialErr error
}

// Dial prepares a connection to the agent's socket; it connects on first
// use.
func Dial(socket string) (*Client, error) {
	c := &Client{}
	conn, err := grpc.NewClient("passthrough:///pam-agent",
		grpc.WithTransportCredentials(local.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			var d net.Dialer
			conn, err := d.DialContext(ctx, "unix", socket)
			c.setDialErr(err)
			return conn, err
		}))
	if err != nil {
		return nil, fmt.Errorf("dial agent: %w", err)
	}
	c.conn, c.LocalAgentClient, c.LocalBreakGlassClient = conn, localv1.NewLocalAgentClient(conn), localv1.NewLocalBreakGlassClient(conn)
	c.Audit, c.Risk = localv1.NewLocalAuditClient(conn), localv1.NewLocalRiskClient(conn)
	c.LocalRequestsClient, c.LocalShellClient = localv1.NewLocalRequestsClient(conn), localv1.NewLocalShellClient(conn)
	return c, nil
}

func (c *Client) setDialErr(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dialErr = err
}

// DialErr is the error of the last attempt to connect to the socket, nil
// once connected. It tells "agent unreachable" apart from errors the agent
// returned.
func (c *Client) DialErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dialErr
}

// Close ends the connection.
func (c *Client) Close() error { return c.conn.Close() }
