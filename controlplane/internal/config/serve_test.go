package config

import (
	"strings"
	"testing"
)

func TestPlainHTTPOnlyOnLoopback(t *testing.T) {
	for _, c := range []struct {
		addr string
		tls  bool
		ok   bool
	}{
		{"127.0.0.1:7080", false, true},
		{"127.0.0.2:7080", false, true},
		{"[::1]:7080", false, true},
		{"localhost:7080", false, true},
		{"0.0.0.0:7080", false, false},
		{":7080", false, false},
		{"192.0.2.10:7080", false, false},
		{"cp.example.com:7080", false, false},
		{"0.0.0.0:7080", true, true},
		{"cp.example.com:7080", true, true},
	} {
		s := Serve{DataDir: t.TempDir(), HTTP: c.addr, HTTPTLS: c.tls}
		err := s.CheckAndSetDefaults()
		if c.ok != (err == nil) {
			t.Errorf("--http %s, --http-tls=%v: %v; want ok=%v", c.addr, c.tls, err, c.ok)
		}
		if err != nil && (!strings.Contains(err.Error(), c.addr) || !strings.Contains(err.Error(), "--http-tls")) {
			t.Errorf("error %q names neither the address nor the way out", err)
		}
	}
}
