package server

import (
	"errors"
	"net"
	"time"

	"google.golang.org/grpc/credentials"
)

// maxHandshakes bounds the TLS handshakes in progress at once. A fleet
// that lost its control plane reconnects all at once; with every
// handshake running, each got a ten-thousandth of the CPU, none finished
// before its agent's connect timeout, and the agents retried: the server
// worked flat out on handshakes nobody waited for any more. Bounded,
// handshakes finish in order in a millisecond or two of CPU each, and the
// connections accepted meanwhile wait for a slot before the server reads
// a byte of them. The bound is far above what two cores need over
// loopback, so that round trips on a real network (the server waits for
// the client's certificate) do not leave the CPU idle: 256 handshakes
// over 100 ms round trips are 2,560 a second, more than two cores sign.
const maxHandshakes = 256

// handshakeTimeout is how long a handshake may hold its slot: a client
// that connects and sends nothing would otherwise hold it for gRPC's
// connection timeout (two minutes), and a few hundred such clients would
// shut every agent out.
const handshakeTimeout = 10 * time.Second

// maxHandshakeWait is how long a connection may wait for a slot. The
// agent gives a connection attempt 10 s (cpclient's MinConnectTimeout)
// and then starts again; a connection that waited half of that is
// closed at once rather than handshaken, so that the CPU goes to
// handshakes whose agent still waits and not to those it is about to
// give up on (an abandoned handshake costs as much as a finished one).
const maxHandshakeWait = 5 * time.Second

// errHandshakeQueue ends a connection that waited too long for a slot.
var errHandshakeQueue = errors.New("too many TLS handshakes in progress; reconnect later")

// boundedCreds runs at most cap(slots) server handshakes at a time and
// closes connections that waited longer than maxWait for a slot.
type boundedCreds struct {
	credentials.TransportCredentials
	slots   chan struct{}
	maxWait time.Duration
}

func boundHandshakes(c credentials.TransportCredentials, n int, maxWait time.Duration) credentials.TransportCredentials {
	return &boundedCreds{TransportCredentials: c, slots: make(chan struct{}, n), maxWait: maxWait}
}

// ServerHandshake waits for a slot. gRPC clears the connection's
// deadline once the handshake is done.
func (c *boundedCreds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	queued := time.Now()
	c.slots <- struct{}{}
	defer func() { <-c.slots }()
	if time.Since(queued) > c.maxWait {
		return nil, nil, errHandshakeQueue
	}
	if err := conn.SetDeadline(time.Now().Add(handshakeTimeout)); err != nil {
		return nil, nil, err
	}
	return c.TransportCredentials.ServerHandshake(conn)
}

// Clone shares the slots: a clone serves the same listener.
func (c *boundedCreds) Clone() credentials.TransportCredentials {
	return &boundedCreds{TransportCredentials: c.TransportCredentials.Clone(), slots: c.slots, maxWait: c.maxWait}
}
