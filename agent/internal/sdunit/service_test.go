package sdunit

import (
	"fmt"
	"testing"
	"time"
)

// TestServiceProperties: each setting goes to systemd under its D-Bus
// name and signature (a wrong one fails StartTransientUnit as a whole),
// with the values that make a shell end cleanly.
func TestServiceProperties(t *testing.T) {
	s := Service{Name: "x.service", Description: "a shell", Argv: []string{"/usr/bin/pam-agent", "shell-helper"},
		Env: []string{"PATH=/usr/bin"}, TTY: "/dev/pts/7", Slice: "pam-agent-shells.slice",
		BindsTo: "pam-agent.service", StopTimeout: 2 * time.Second}
	want := map[string]struct{ sig, value string }{
		"Description":     {"s", "a shell"},
		"Type":            {"s", "simple"},
		"ExecStart":       {"a(sasb)", "[{/usr/bin/pam-agent [/usr/bin/pam-agent shell-helper] false}]"},
		"Environment":     {"as", "[PATH=/usr/bin]"},
		"IgnoreSIGPIPE":   {"b", "false"},
		"KillMode":        {"s", "control-group"},
		"SendSIGHUP":      {"b", "true"},
		"TimeoutStopUSec": {"t", "2000000"},
		"CollectMode":     {"s", "inactive-or-failed"},
		"TTYPath":         {"s", "/dev/pts/7"},
		"StandardInput":   {"s", "tty-fail"},
		"StandardOutput":  {"s", "tty"},
		"StandardError":   {"s", "tty"},
		"Slice":           {"s", "pam-agent-shells.slice"},
		"BindsTo":         {"as", "[pam-agent.service]"},
		"After":           {"as", "[pam-agent.service]"},
	}
	got := map[string]bool{}
	for _, p := range s.properties() {
		w, ok := want[p.Name]
		if !ok {
			t.Errorf("unexpected property %s=%s", p.Name, p.Value)
			continue
		}
		got[p.Name] = true
		if sig, v := p.Value.Signature().String(), fmt.Sprint(p.Value.Value()); sig != w.sig || v != w.value {
			t.Errorf("%s = %s %s, want %s %s", p.Name, sig, v, w.sig, w.value)
		}
	}
	for name := range want {
		if !got[name] {
			t.Errorf("property %s is missing", name)
		}
	}
}

// TestServiceWithoutTerminal: no tty, slice or binding, no such settings
// (systemd's defaults apply).
func TestServiceWithoutTerminal(t *testing.T) {
	for _, p := range (Service{Name: "x.service", Argv: []string{"/bin/true"}}).properties() {
		switch p.Name {
		case "TTYPath", "StandardInput", "StandardOutput", "StandardError", "Slice", "BindsTo", "After":
			t.Errorf("%s is set without being asked for: %s", p.Name, p.Value)
		}
	}
}
