package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// seqMod is ZPAM_SEQ_MOD of bpf/zpam.h: the kernel numbers each ring's
// records 1 … seqMod per CPU, then 1 again.
const seqMod = 65535

// ring names the pinned maps of one of the agent's kernel rings: the
// kernel's number of the last record it wrote (per CPU) and the agent's
// number of the last record it stored (per CPU; after the CPUs, the
// records it counted lost in flight).
type ring struct {
	name, seq, handed string
}

var (
	execRing       = ring{name: "exec", seq: "zpam_tele_seq", handed: "zpam_tele_handed"}
	escalationRing = ring{name: "escalation", seq: "zpam_events_seq", handed: "zpam_events_handed"}
)

// written is, per CPU, the number of the last record the kernel wrote to
// the ring.
func (r ring) written(t *testing.T, pinDir string) []uint64 {
	t.Helper()
	var dump []struct {
		Values []struct {
			CPU   int      `json:"cpu"`
			Value []string `json:"value"`
		} `json:"values"`
	}
	bpftoolDump(t, filepath.Join(pinDir, r.seq), &dump)
	if len(dump) != 1 {
		t.Fatalf("%s: %d entries; want 1", r.seq, len(dump))
	}
	out := make([]uint64, len(dump[0].Values))
	for _, v := range dump[0].Values {
		out[v.CPU] = littleEndian(t, v.Value)
	}
	return out
}

// stored is, per CPU, the number of the last record the agent stored.
func (r ring) stored(t *testing.T, pinDir string) []uint64 {
	t.Helper()
	var dump []struct {
		Key   []string `json:"key"`
		Value []string `json:"value"`
	}
	bpftoolDump(t, filepath.Join(pinDir, r.handed), &dump)
	out := make([]uint64, len(dump)-1) // the last slot is the lost count
	for _, e := range dump {
		if k := littleEndian(t, e.Key); int(k) < len(out) {
			out[k] = littleEndian(t, e.Value)
		}
	}
	return out
}

func bpftoolDump(t *testing.T, pin string, v any) {
	t.Helper()
	out, err := exec.Command("bpftool", "-j", "map", "dump", "pinned", pin).Output()
	if err != nil {
		t.Fatalf("bpftool map dump pinned %s: %v", pin, err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("bpftool map dump pinned %s printed %q: %v", pin, out, err)
	}
}

// littleEndian reads bpftool's hex bytes ("0x2a", …) as a number.
func littleEndian(t *testing.T, hex []string) uint64 {
	t.Helper()
	var n uint64
	for i := len(hex) - 1; i >= 0; i-- {
		b, err := strconv.ParseUint(strings.TrimPrefix(hex[i], "0x"), 16, 8)
		if err != nil {
			t.Fatalf("bpftool byte %q: %v", hex[i], err)
		}
		n = n<<8 | b
	}
	return n
}

// reached says the agent's last stored number is at or past want, in the
// order 1 … seqMod, 1 … (0: nothing written, or nothing stored yet).
func reached(stored, want uint64) bool {
	if want == 0 {
		return true
	}
	return stored != 0 && (stored+seqMod-want)%seqMod < seqMod/2
}

// unstored counts, per ring, the records the kernel numbered after the
// last one the agent stored: those a killed agent held in flight are
// among them (the others were still in the ring).
func unstored(written, stored []uint64) uint64 {
	var n uint64
	for cpu, w := range written {
		if w != 0 {
			n += (w + seqMod - stored[cpu]) % seqMod
		}
	}
	return n
}

// waitHandedOver waits until the agent has stored every record the
// kernel had written to each ring when it was called: a process that
// wrote its records before then and is now still (the workload at its
// gate) has none left in the ring or in the agent's hands. Other
// processes' records keep the numbers moving; that does not matter, the
// agent only has to get past the snapshot.
func waitHandedOver(t *testing.T, pinDir string, rings ...ring) {
	t.Helper()
	for _, r := range rings {
		want := r.written(t, pinDir)
		waitFor(t, fmt.Sprintf("the agent to store the %s ring's records up to %v", r.name, want), 30*time.Second, func() bool {
			got := r.stored(t, pinDir)
			for cpu, w := range want {
				if !reached(got[cpu], w) {
					return false
				}
			}
			return true
		})
	}
}
