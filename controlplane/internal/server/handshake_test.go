package server

import (
	"errors"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// heldCreds blocks each server handshake until release is closed.
type heldCreds struct {
	credentials.TransportCredentials
	entered chan struct{}
	release chan struct{}
}

func (h *heldCreds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	h.entered <- struct{}{}
	<-h.release
	return conn, nil, nil
}

// TestHandshakeSlots: with one slot taken, a connection that waits past
// the bound is closed without a handshake; once the slot is free, the
// next connection is handshaken.
func TestHandshakeSlots(t *testing.T) {
	inner := &heldCreds{TransportCredentials: insecure.NewCredentials(), entered: make(chan struct{}, 3), release: make(chan struct{})}
	creds := boundHandshakes(inner, 1, 50*time.Millisecond)
	first, _ := net.Pipe()
	done := make(chan error, 2)
	go func() { _, _, err := creds.ServerHandshake(first); done <- err }()
	<-inner.entered
	waited, _ := net.Pipe()
	go func() { _, _, err := creds.ServerHandshake(waited); done <- err }()
	// The second waits for the slot for longer than its 50 ms bound.
	time.Sleep(200 * time.Millisecond)
	close(inner.release)
	refused := 0
	for range 2 {
		err := <-done
		switch {
		case errors.Is(err, errHandshakeQueue):
			refused++
		case err != nil:
			t.Fatal(err)
		}
	}
	if refused != 1 {
		t.Fatalf("%d connections refused for waiting, want the one that waited", refused)
	}
	if len(inner.entered) != 0 {
		t.Fatal("the connection that waited past its bound was handshaken")
	}
	next, _ := net.Pipe()
	if _, _, err := creds.ServerHandshake(next); err != nil {
		t.Fatalf("a connection with a free slot: %v", err)
	}
	if len(inner.entered) != 1 {
		t.Fatal("a connection with a free slot was not handshaken")
	}
}
