package fleet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	grpcbackoff "google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
)

// Config configures a fleet.
type Config struct {
	// Addr is the control plane's gRPC address, HOST:PORT.
	Addr string
	// CAPEM is the control plane's CA (ca.pem of its data directory).
	CAPEM      []byte
	Identities []*Identity
	// SourceAddrs spreads the hosts' connections over this many loopback
	// source addresses (127.0.0.1, 127.0.0.2, …): each source address has
	// its own ~28,000 ephemeral ports towards one server port. Default 4.
	SourceAddrs int
	// SessionTickets lets each host resume its TLS session on reconnect
	// (a client session cache of one entry per host).
	SessionTickets bool
}

// CheckAndSetDefaults validates c and fills its defaults.
func (c *Config) CheckAndSetDefaults() error {
	if c.Addr == "" || len(c.CAPEM) == 0 || len(c.Identities) == 0 {
		return errors.New("fleet: Addr, CAPEM and Identities are required")
	}
	if c.SourceAddrs <= 0 {
		c.SourceAddrs = 4
	}
	if c.SourceAddrs > 250 {
		return fmt.Errorf("fleet: %d source addresses; at most 250 (127.0.0.1 to 127.0.0.250)", c.SourceAddrs)
	}
	return nil
}

// Fleet is the running simulation.
type Fleet struct {
	Agents []*Agent
	rec    *Recorder
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start connects every host and opens its grant stream. Connections are
// made lazily by gRPC on the first stream, all at once: the first
// synchronisation is itself a connection storm.
func Start(cfg Config) (*Fleet, error) {
	if err := cfg.CheckAndSetDefaults(); err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(cfg.CAPEM) {
		return nil, errors.New("fleet: the CA PEM holds no certificate")
	}
	f := &Fleet{rec: newRecorder()}
	for i, id := range cfg.Identities {
		conn, err := dial(cfg, pool, id, i)
		if err != nil {
			f.Close()
			return nil, err
		}
		f.Agents = append(f.Agents, &Agent{Index: int32(i), ID: id, conn: conn, rec: f.rec, active: map[string]bool{}})
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	for _, a := range f.Agents {
		f.wg.Go(func() { a.run(ctx) })
	}
	return f, nil
}

// Small per-connection buffers: the simulator holds thousands of
// connections that each carry a few small messages.
const (
	connBuffer = 4 << 10
	connWindow = 64 << 10
)

func dial(cfg Config, pool *x509.CertPool, id *Identity, i int) (*grpc.ClientConn, error) {
	cert, err := id.Certificate()
	if err != nil {
		return nil, err
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool, Certificates: []tls.Certificate{*cert}}
	if cfg.SessionTickets {
		tlsCfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
	}
	src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%cfg.SourceAddrs))}
	dialer := func(ctx context.Context, addr string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: src}
		return d.DialContext(ctx, "tcp", addr)
	}
	// The agent's connection pacing (cpclient.connBackoff): gRPC's
	// reconnect delay capped at 30 s, from 0.5 s.
	bo := grpcbackoff.DefaultConfig
	bo.BaseDelay, bo.MaxDelay = 500*time.Millisecond, 30*time.Second
	conn, err := grpc.NewClient(cfg.Addr,
		grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)),
		grpc.WithContextDialer(dialer),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo, MinConnectTimeout: 10 * time.Second}),
		grpc.WithReadBufferSize(connBuffer), grpc.WithWriteBufferSize(connBuffer),
		grpc.WithInitialWindowSize(connWindow), grpc.WithInitialConnWindowSize(connWindow))
	if err != nil {
		return nil, fmt.Errorf("dial %s as host %d: %w", cfg.Addr, i, err)
	}
	return conn, nil
}

// Recorder is where the hosts' receipts are kept.
func (f *Fleet) Recorder() *Recorder { return f.rec }

// Marked counts hosts whose latest stream delivered its SYNCED or
// RESUMED at or after since: hosts in sync with a stream opened since.
func (f *Fleet) Marked(since time.Time) int {
	n := 0
	for _, a := range f.Agents {
		if at, _ := a.markedAt(); !at.Before(since) {
			n++
		}
	}
	return n
}

// WaitMarked waits until every host is Marked since, and returns when the
// last one was; it fails at the deadline of ctx, saying how many are.
func (f *Fleet) WaitMarked(ctx context.Context, since time.Time) (time.Time, error) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if f.Marked(since) == len(f.Agents) {
			return f.lastMark(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("%d of %d hosts in sync with a stream opened since %s: %w",
				f.Marked(since), len(f.Agents), since.Format(time.StampMilli), ctx.Err())
		case <-t.C:
		}
	}
}

func (f *Fleet) lastMark() time.Time {
	var last time.Time
	for _, a := range f.Agents {
		if at, _ := a.markedAt(); at.After(last) {
			last = at
		}
	}
	return last
}

// Streams is how many streams the hosts have had deliver a marker, in
// all: the fleet's size once connected, more after reconnects.
func (f *Fleet) Streams() int {
	n := 0
	for _, a := range f.Agents {
		_, s := a.markedAt()
		n += s
	}
	return n
}

// Violations is how many checks failed (a revision out of order, a
// change received twice, another host's grant) and the first messages.
func (f *Fleet) Violations() (int, []string) { return f.rec.faults.get() }

// Close ends every stream and connection.
func (f *Fleet) Close() {
	if f.cancel != nil {
		f.cancel()
	}
	f.wg.Wait()
	for _, a := range f.Agents {
		a.conn.Close()
	}
}
