package daemon

import "testing"

func TestTTYPath(t *testing.T) {
	for tty, want := range map[string]string{
		"pts3":    "/dev/pts/3", // what the kernel reports for a pseudo-terminal
		"pts/3":   "/dev/pts/3",
		"tty1":    "/dev/tty1",
		"ttyS0":   "/dev/ttyS0",
		"ttyAMA0": "/dev/ttyAMA0",
	} {
		if got, err := ttyPath(tty); err != nil || got != want {
			t.Errorf("ttyPath(%q) = %q, %v; want %q", tty, got, err, want)
		}
	}
	for _, bad := range []string{"", "pts", "pts/", "pts/../../etc/passwd", "../tty1", "tty", "console", "pts3/x", "null"} {
		if got, err := ttyPath(bad); err == nil {
			t.Errorf("ttyPath(%q) = %q; want an error", bad, got)
		}
	}
}
