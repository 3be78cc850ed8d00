package kernel

import "testing"

func TestParseMode(t *testing.T) {
	for _, s := range []string{"auto", "lsm", "signal", "audit"} {
		if m, err := ParseMode(s); err != nil || string(m) != s {
			t.Errorf("ParseMode(%q) = %q, %v", s, m, err)
		}
	}
	if _, err := ParseMode("enforce"); err == nil {
		t.Error(`ParseMode("enforce") accepted an unknown mode`)
	}
	if ModeAudit.Enforcing() || !ModeSignal.Enforcing() || !ModeLSM.Enforcing() {
		t.Error("only lsm and signal enforce")
	}
}
