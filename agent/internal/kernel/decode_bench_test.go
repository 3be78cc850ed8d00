package kernel

import (
	"testing"
	"unsafe"
)

func BenchmarkDecodeExec(b *testing.B) {
	raw := make([]byte, procHeaderSize+64)
	h := (*telemetryProcHeader)(unsafe.Pointer(&raw[0]))
	h.Kind, h.FilenameLen, h.CwdLen, h.ArgvLen = uint8(ProcExec), 9, 5, 20
	copy(raw[procHeaderSize:], "/bin/true/root/bin/true\x00zpam-abc\x00x")
	var clock bootClock
	for b.Loop() {
		if _, err := decodeProcessEvent(raw, &clock); err != nil {
			b.Fatal(err)
		}
	}
}
