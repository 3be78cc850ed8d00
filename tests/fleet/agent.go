package fleet

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"google.golang.org/grpc"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
)

// Agent is one simulated host. Its stream goroutine is the only writer of
// the state under mu; the fleet reads it for checks and resume points.
type Agent struct {
	// Index is the host's position in the fleet, the key of its receipts.
	Index int32
	ID    *Identity
	conn  *grpc.ClientConn
	rec   *Recorder

	mu sync.Mutex
	// rev is the revision the stream has brought the host to: where the
	// next stream resumes, as pam-agent keeps it in grants.json.
	rev int64
	// active is the set of grants in force on the host.
	active map[string]bool
	// marked is when the latest stream delivered its SYNCED or RESUMED.
	marked  time.Time
	streams int
	// received counts the changes (UPSERT, REMOVE) the host received,
	// on a stream or as the difference a snapshot made.
	received int
}

// Conn is the host's own connection, for calls made as this host.
func (a *Agent) Conn() *grpc.ClientConn { return a.conn }

// Active reports whether grant id is in force on the host.
func (a *Agent) Active(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.active[id]
}

// ActiveCount is how many grants are in force on the host.
func (a *Agent) ActiveCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.active)
}

// Received is how many changes the host has received.
func (a *Agent) Received() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.received
}

func (a *Agent) markedAt() (time.Time, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.marked, a.streams
}

func (a *Agent) resumeFrom() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rev
}

// run keeps a grant stream open until ctx ends, reconnecting with the
// agent's backoff.
func (a *Agent) run(ctx context.Context) {
	b := backoff{min: 500 * time.Millisecond, max: 30 * time.Second}
	for {
		received := a.watchOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if received {
			b.attempt = 0
		}
		t := time.NewTimer(b.next())
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (a *Agent) watchOnce(ctx context.Context) (received bool) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	from := a.resumeFrom()
	stream, err := agentv1.NewAgentServiceClient(a.conn).WatchGrants(ctx, &agentv1.WatchGrantsRequest{FromRevision: from})
	if err != nil {
		return false
	}
	s := streamState{snapshot: from == 0, named: map[string]time.Time{}}
	for {
		ev, err := stream.Recv()
		if err != nil {
			return received
		}
		received = true
		a.handle(&s, ev, time.Now())
	}
}

// streamState is what one stream has said so far: during a snapshot
// (from revision 0, until SYNCED) grants come in id order, not revision
// order, and those named replace the host's set at SYNCED.
type streamState struct {
	snapshot bool
	// named is each grant the snapshot named, and when.
	named map[string]time.Time
}

func (a *Agent) handle(s *streamState, ev *agentv1.GrantEvent, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch ev.GetKind() {
	case agentv1.GrantEvent_KIND_UPSERT, agentv1.GrantEvent_KIND_REMOVE:
		if s.snapshot {
			a.named(s, ev, at)
		} else {
			a.change(ev, at)
		}
	case agentv1.GrantEvent_KIND_SYNCED:
		a.synced(s, at)
		a.mark(ev, at)
	case agentv1.GrantEvent_KIND_RESUMED:
		a.mark(ev, at)
	default:
		a.rec.faults.add(fmt.Sprintf("host %d: event of kind %v", a.Index, ev.GetKind()))
	}
}

func (a *Agent) named(s *streamState, ev *agentv1.GrantEvent, at time.Time) {
	if ev.GetKind() != agentv1.GrantEvent_KIND_UPSERT {
		a.rec.faults.add(fmt.Sprintf("host %d: %v of grant %s in a snapshot", a.Index, ev.GetKind(), ev.GetGrant().GetId()))
		return
	}
	a.checkHost(ev)
	s.named[ev.GetGrant().GetId()] = at
}

// synced applies a complete snapshot: what it named that the host did not
// hold is an UPSERT received, what the host held that it did not name a
// REMOVE (a host that resumes from revision 0, having seen no change
// yet, learns changes this way, as pam-agent does).
func (a *Agent) synced(s *streamState, at time.Time) {
	for id, when := range s.named {
		if !a.active[id] {
			a.receive(Key{GrantID: id, Kind: agentv1.GrantEvent_KIND_UPSERT}, when)
		}
	}
	for id := range a.active {
		if _, ok := s.named[id]; !ok {
			a.receive(Key{GrantID: id, Kind: agentv1.GrantEvent_KIND_REMOVE}, at)
		}
	}
	a.active = map[string]bool{}
	for id := range s.named {
		a.active[id] = true
	}
	s.snapshot = false
}

func (a *Agent) change(ev *agentv1.GrantEvent, at time.Time) {
	id := ev.GetGrant().GetId()
	if ev.GetRevision() <= a.rev {
		a.rec.faults.add(fmt.Sprintf("host %d: %v of grant %s at revision %d after revision %d", a.Index, ev.GetKind(), id, ev.GetRevision(), a.rev))
	}
	a.checkHost(ev)
	a.rev = max(a.rev, ev.GetRevision())
	if ev.GetKind() == agentv1.GrantEvent_KIND_UPSERT {
		a.active[id] = true
	} else {
		delete(a.active, id)
	}
	a.receive(Key{GrantID: id, Kind: ev.GetKind()}, at)
}

func (a *Agent) checkHost(ev *agentv1.GrantEvent) {
	if h := ev.GetGrant().GetHostId(); h != a.ID.HostID {
		a.rec.faults.add(fmt.Sprintf("host %d (%s) was sent grant %s of host %s", a.Index, a.ID.HostID, ev.GetGrant().GetId(), h))
	}
}

func (a *Agent) receive(k Key, at time.Time) {
	a.received++
	a.rec.record(a.Index, k, at)
}

func (a *Agent) mark(ev *agentv1.GrantEvent, at time.Time) {
	if ev.GetRevision() < a.rev {
		a.rec.faults.add(fmt.Sprintf("host %d: %v at revision %d after revision %d", a.Index, ev.GetKind(), ev.GetRevision(), a.rev))
	}
	a.rev = max(a.rev, ev.GetRevision())
	a.marked = at
	a.streams++
}

// backoff is the agent's reconnect pacing (cpclient.Backoff): min·2^n
// capped at max, drawn uniformly from its upper half, so that hosts that
// lost the same control plane do not come back in lockstep.
type backoff struct {
	min, max time.Duration
	attempt  int
}

func (b *backoff) next() time.Duration {
	d := b.max
	if b.attempt < 32 && b.min<<b.attempt < b.max {
		d = b.min << b.attempt
	}
	b.attempt++
	return d/2 + rand.N(d/2+1)
}
