package fleet

import (
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
)

// Key names one change a host can receive: a grant's UPSERT or REMOVE.
type Key struct {
	GrantID string
	Kind    agentv1.GrantEvent_Kind
}

func (k Key) String() string { return fmt.Sprintf("%s of grant %s", k.Kind, k.GrantID) }

// receiptShards spreads receipts over locks: a change to a thousand hosts
// arrives on a thousand stream goroutines at once.
const receiptShards = 64

// Recorder keeps, for every change, which hosts received it and when.
// A host that receives the same change twice is a violation: the control
// plane sends each change exactly once per stream, and a resumed stream
// must not repeat what the previous one delivered.
type Recorder struct {
	seed   maphash.Seed
	shards [receiptShards]receiptShard
	faults faults
}

type receiptShard struct {
	mu      sync.Mutex
	entries map[Key]*receipt
}

// receipt is one change: who got it when, and a waiter for want hosts.
type receipt struct {
	hosts map[int32]time.Time
	want  int
	done  chan struct{}
}

func newRecorder() *Recorder {
	r := &Recorder{seed: maphash.MakeSeed()}
	for i := range r.shards {
		r.shards[i].entries = map[Key]*receipt{}
	}
	return r
}

func (r *Recorder) shard(k Key) *receiptShard {
	return &r.shards[maphash.String(r.seed, k.GrantID)%receiptShards]
}

func (s *receiptShard) entry(k Key) *receipt {
	e := s.entries[k]
	if e == nil {
		e = &receipt{hosts: map[int32]time.Time{}, done: make(chan struct{})}
		s.entries[k] = e
	}
	return e
}

// record notes that host received k at at.
func (r *Recorder) record(host int32, k Key, at time.Time) {
	s := r.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entry(k)
	if _, dup := e.hosts[host]; dup {
		r.faults.add(fmt.Sprintf("host %d received %s twice", host, k))
		return
	}
	e.hosts[host] = at
	e.check()
}

func (e *receipt) check() {
	if e.want > 0 && len(e.hosts) >= e.want {
		select {
		case <-e.done:
		default:
			close(e.done)
		}
	}
}

// Expect returns a channel closed once n hosts have received k, which
// may already be the case: a change can reach the hosts before the call
// that made it returns to its caller.
func (r *Recorder) Expect(k Key, n int) <-chan struct{} {
	s := r.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entry(k)
	e.want = n
	e.check()
	return e.done
}

// Receipts is when each host received k, by host index.
func (r *Recorder) Receipts(k Key) map[int32]time.Time {
	s := r.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int32]time.Time{}
	for h, at := range s.entry(k).hosts {
		out[h] = at
	}
	return out
}

// faults collects violations, keeping the first few messages and a count.
type faults struct {
	mu    sync.Mutex
	n     int
	first []string
}

const keptFaults = 20

func (f *faults) add(msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if len(f.first) < keptFaults {
		f.first = append(f.first, msg)
	}
}

func (f *faults) get() (int, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n, append([]string(nil), f.first...)
}
