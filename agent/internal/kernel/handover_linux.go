package kernel

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/cilium/ebpf"
)

// seqMod is ZPAM_SEQ_MOD of bpf/zpam.h: records are numbered 1 … seqMod
// per CPU, then 1 again; 0 is an unnumbered record.
const seqMod = 65535

// handover finds the records a ring's reader took and nobody stored.
//
// The ring buffer reader advances the ring's consumer position when it
// copies a record out, before the agent has stored it; an agent killed
// in between loses the record, and the ring cannot tell. So the agent
// writes, per CPU, the number of the last record it stored into a pinned
// array (handed); it lives in the kernel beside the ring and outlives the
// agent. A reader opened later compares the first record it gets from
// each CPU with the number after the last stored one: the records in
// between were taken by the earlier reader and never stored, and are
// counted lost in flight, in the array's last slot, cumulatively since
// the pins were made like the kernel's own drop counters.
//
// stored is called in ring order (one goroutine); check may run on
// another goroutine ahead of it (the escalation ring's reader runs ahead
// of the daemon that stores its events) but also in ring order.
type handover struct {
	mem  *ebpf.Memory
	cpus int
	// checked: this reader has compared the CPU's first record.
	checked []atomic.Bool
	// lost caches the counted total; the array holds it for the next
	// agent.
	lost atomic.Uint64
}

// handoverEntries sizes the array: a slot per possible CPU and the total.
func handoverEntries() (uint32, error) {
	n, err := ebpf.PossibleCPU()
	if err != nil {
		return 0, fmt.Errorf("count possible CPUs: %w", err)
	}
	return uint32(n) + 1, nil
}

func openHandover(m *ebpf.Map) (*handover, error) {
	mem, err := m.Memory()
	if err != nil {
		return nil, fmt.Errorf("map the handover array %s: %w", m, err)
	}
	cpus := int(m.MaxEntries()) - 1
	h := &handover{mem: mem, cpus: cpus, checked: make([]atomic.Bool, cpus)}
	h.lost.Store(h.slot(cpus))
	return h, nil
}

func (h *handover) slot(i int) uint64 {
	var b [8]byte
	if _, err := h.mem.ReadAt(b[:], int64(i)*8); err != nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b[:])
}

func (h *handover) setSlot(i int, v uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	_, _ = h.mem.WriteAt(b[:], int64(i)*8)
}

// check counts, at the first record of each CPU this reader gets, the
// records of that CPU an earlier reader took and never stored.
func (h *handover) check(s recordSeq) {
	cpu := int(s.cpu)
	if s.seq == 0 || cpu >= h.cpus || h.checked[cpu].Swap(true) {
		return
	}
	if gap := seqGap(uint16(h.slot(cpu)), s.seq); gap > 0 {
		h.setSlot(h.cpus, h.lost.Add(gap))
	}
}

// stored records that the record is in the spool. A number behind the
// last stored one (in the modular sense) leaves it: numbers only move
// forward, and a slot moved back would count stored records again.
func (h *handover) stored(s recordSeq) {
	cpu := int(s.cpu)
	if s.seq == 0 || cpu >= h.cpus {
		return
	}
	if last := uint16(h.slot(cpu)); last != 0 && seqGap(last, s.seq) >= seqMod/2 {
		return
	}
	h.setSlot(cpu, uint64(s.seq))
}

// Lost is the total counted lost in flight since the pins were made.
func (h *handover) Lost() uint64 { return h.lost.Load() }

// seqGap is how many numbers lie strictly between last and next, in
// the order 1 … seqMod, 1 …; last 0 is a CPU nothing was stored from yet,
// whose first record is number 1.
func seqGap(last, next uint16) uint64 {
	if next == 0 {
		return 0
	}
	return uint64((int(next) - int(last) - 1 + seqMod) % seqMod)
}
