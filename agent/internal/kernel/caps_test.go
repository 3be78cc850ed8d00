package kernel

import "testing"

func TestCapMask(t *testing.T) {
	mask, err := CapMask([]string{"CAP_SYS_ADMIN", "dac_override"})
	if err != nil || mask != 1<<21|1<<1 {
		t.Fatalf("CapMask = %#x, %v; want bits 21 and 1", mask, err)
	}
	if _, err := CapMask([]string{"CAP_ROOT"}); err == nil {
		t.Fatal("CapMask accepted an unknown capability")
	}
	def, err := CapMask(DefaultPrivilegedCaps)
	if err != nil {
		t.Fatal(err)
	}
	if def&(1<<13) != 0 || def&(1<<10) != 0 {
		t.Fatal("the default mask gates CAP_NET_RAW or CAP_NET_BIND_SERVICE, which ping and servers carry")
	}
}
