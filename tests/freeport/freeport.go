// Package freeport hands out loopback addresses for daemons a test or a
// benchmark starts, stops and starts again on the same address.
//
// The usual way, listening on port 0 and closing, returns a port from the
// kernel's ephemeral range: the range it also gives every outgoing
// connection of every process on the host its local port from. Between
// the close and the daemon's bind, or while a daemon is stopped for a
// restart, another process's connection can take it, and the daemon
// fails with "address already in use" (a loaded CI machine saw it). So
// the ports come from below that range, where the kernel never assigns
// one by itself: only a process binding that very port can take it.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// lowest is the first port handed out; below it are well-known and
// registered services' ports that hosts tend to run.
const lowest = 20000

// defaultEphemeral is the kernel's default ip_local_port_range start.
const defaultEphemeral = 32768

var (
	mu     sync.Mutex
	handed = map[int]bool{}
)

// Addr is a 127.0.0.1:PORT nobody listens on now, outside the ephemeral
// range and never handed out before in this process.
func Addr() (string, error) {
	p, err := Port()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), nil
}

// Port is Addr's port.
func Port() (int, error) {
	high := ephemeralStart()
	if high <= lowest {
		return 0, fmt.Errorf("the ephemeral port range starts at %d: no room below it above %d (net.ipv4.ip_local_port_range)", high, lowest)
	}
	mu.Lock()
	defer mu.Unlock()
	for range 200 {
		p := lowest + rand.IntN(high-lowest)
		if handed[p] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue // someone's
		}
		l.Close()
		handed[p] = true
		return p, nil
	}
	return 0, fmt.Errorf("no free loopback port in %d-%d after 200 tries", lowest, high-1)
}

// ephemeralStart is the first port of the kernel's ephemeral range.
func ephemeralStart() int {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return defaultEphemeral
	}
	f := strings.Fields(string(data))
	if len(f) != 2 {
		return defaultEphemeral
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return defaultEphemeral
	}
	return n
}
