package kernel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"
	"unsafe"

	"github.com/cilium/ebpf/ringbuf"
)

func (t *Telemetry) startReader(ctx context.Context) error {
	rd, err := ringbuf.NewReader(t.maps.ZpamTelemetry)
	if err != nil {
		return fmt.Errorf("open telemetry ring buffer: %w", err)
	}
	t.reader = rd
	t.wg.Add(1)
	go t.readLoop(ctx)
	return nil
}

func (t *Telemetry) readLoop(ctx context.Context) {
	defer t.wg.Done()
	var (
		rec   ringbuf.Record
		clock bootClock
	)
	for ctx.Err() == nil {
		t.reader.SetDeadline(time.Now().Add(drainInterval))
		err := t.reader.ReadInto(&rec)
		if errors.Is(err, ringbuf.ErrClosed) {
			return
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		if err != nil {
			t.e.log.Warn("read telemetry record", "err", err)
			continue
		}
		ev, err := decodeProcessEvent(rec.RawSample, &clock)
		t.hand.check(ev.seq)
		if err != nil {
			t.decodeErrs.Add(1)
			t.e.log.Warn("decode telemetry record", "err", err)
		} else {
			t.handle(ev)
		}
		// Handled (stored, or counted as undecodable): not in flight.
		t.hand.stored(ev.seq)
	}
}

var procHeaderSize = int(unsafe.Sizeof(telemetryProcHeader{}))

// decodeProcessEvent runs for every exec and exit on the host, so the
// header is copied as the bpf2go struct it is (host layout, and the
// programs are built for this little-endian host only): reflection-based
// decoding cost more than the kernel's whole hook.
func decodeProcessEvent(raw []byte, clock *bootClock) (ProcessEvent, error) {
	if len(raw) < procHeaderSize {
		return ProcessEvent{}, fmt.Errorf("record of %d bytes is shorter than its %d-byte header", len(raw), procHeaderSize)
	}
	h := *(*telemetryProcHeader)(unsafe.Pointer(&raw[0]))
	ev := ProcessEvent{
		Kind: ProcKind(h.Kind),
		Time: clock.wall(h.BootNs),
		Process: Process{
			PID: h.Pid, PPID: h.Ppid, UID: h.Uid, EUID: h.Euid, LoginUID: h.Loginuid, SessionID: h.Session,
			TTY: cString(h.Tty[:]), Comm: cString(h.Comm[:]), CgroupID: h.CgroupId,
		},
		GrantID: cString(h.GrantId[:]),
		seq:     recordSeq{cpu: h.Cpu, seq: h.Seq},
	}
	switch ev.Kind {
	case ProcExit:
		ev.ExitCode, ev.Signal = int(h.ExitCode>>8&0xff), int(h.ExitCode&0x7f)
		return ev, nil
	case ProcExec:
		return ev, decodeExecData(&ev, &h, raw[procHeaderSize:])
	}
	return ev, fmt.Errorf("unknown record kind %d", h.Kind)
}

func decodeExecData(ev *ProcessEvent, h *telemetryProcHeader, data []byte) error {
	f, c, a := int(h.FilenameLen), int(h.CwdLen), int(h.ArgvLen)
	if f+c+a > len(data) {
		return fmt.Errorf("exec record holds %d data bytes, its header claims %d", len(data), f+c+a)
	}
	flags := telemetryZpamProcFlag(h.Flags)
	ev.Filename = string(data[:f])
	ev.FilenameTruncated = flags&telemetryZpamProcFlagZPAM_PROC_FILENAME_TRUNCATED != 0
	ev.Cwd = string(data[f : f+c])
	ev.CwdTruncated = flags&telemetryZpamProcFlagZPAM_PROC_CWD_TRUNCATED != 0
	ev.Argv = splitArgv(data[f+c : f+c+a])
	ev.ArgvTruncated = flags&telemetryZpamProcFlagZPAM_PROC_ARGV_TRUNCATED != 0
	return nil
}

// splitArgv splits the NUL-separated argument block; a cut block ends
// without its NUL, so its last argument is the partial one.
func splitArgv(b []byte) []string {
	b = bytes.TrimSuffix(b, []byte{0})
	if len(b) == 0 {
		return nil
	}
	parts := bytes.Split(b, []byte{0})
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = string(p)
	}
	return out
}
