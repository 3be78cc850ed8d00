package requests

import (
	"sync"

	"github.com/zpam/zpam/controlplane/internal/store"
)

// hub wakes the watchers of one process when a host's grants or a request
// may have changed. A wake-up carries no data: the watcher reads what it
// has not yet sent from the database, in revision (or version) order. So
// wake-ups may be repeated, merged or come from any replica, and a slow
// watcher costs one pending bit, never a queue.
type hub struct {
	mu       sync.Mutex
	hosts    topic
	requests topic
}

func newHub() *hub {
	return &hub{hosts: newTopic(), requests: newTopic()}
}

func (h *hub) subscribeHost(hostID string) *subscription { return h.subscribe(&h.hosts, hostID) }
func (h *hub) subscribeRequest(id string) *subscription  { return h.subscribe(&h.requests, id) }
func (h *hub) unsubscribeHost(s *subscription)           { h.unsubscribe(&h.hosts, s) }
func (h *hub) unsubscribeRequest(s *subscription)        { h.unsubscribe(&h.requests, s) }
func (h *hub) wakeHost(hostID string)                    { h.wake(&h.hosts, hostID) }
func (h *hub) wakeRequest(id string)                     { h.wake(&h.requests, id) }
func (h *hub) subscribe(t *topic, key string) *subscription {
	h.mu.Lock()
	defer h.mu.Unlock()
	return t.add(key)
}

func (h *hub) unsubscribe(t *topic, s *subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t.remove(s)
}

func (h *hub) wake(t *topic, key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t.wake(key)
}

// wakeAllRequests wakes every request watcher: after notes may have been
// lost, each re-reads its request.
func (h *hub) wakeAllRequests() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for key := range h.requests.subs {
		h.requests.wake(key)
	}
}

// publish wakes the watchers of what a committed transaction changed.
func (h *hub) publish(out *outbox) {
	for host := range out.hosts {
		h.wakeHost(host)
	}
	for _, r := range out.requests {
		h.wakeRequest(r.ID)
	}
}

// hostWatchers counts open grant streams: the connected agents.
func (h *hub) hostWatchers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hosts.count
}

// subscription is one watcher; wake holds at most one pending wake-up.
type subscription struct {
	key  string
	wake chan struct{}
}

// topic is not safe for concurrent use; hub.mu guards it.
type topic struct {
	subs  map[string]map[*subscription]struct{}
	count int
}

func newTopic() topic {
	return topic{subs: map[string]map[*subscription]struct{}{}}
}

func (t *topic) add(key string) *subscription {
	s := &subscription{key: key, wake: make(chan struct{}, 1)}
	if t.subs[key] == nil {
		t.subs[key] = map[*subscription]struct{}{}
	}
	t.subs[key][s] = struct{}{}
	t.count++
	return s
}

func (t *topic) remove(s *subscription) {
	set := t.subs[s.key]
	if _, ok := set[s]; !ok {
		return
	}
	delete(set, s)
	if len(set) == 0 {
		delete(t.subs, s.key)
	}
	t.count--
}

func (t *topic) wake(key string) {
	for s := range t.subs[key] {
		select {
		case s.wake <- struct{}{}:
		default: // already pending
		}
	}
}

// outbox collects what a transaction changed: the hosts whose grants
// changed and the requests, for wake-ups, notes and metrics after commit.
type outbox struct {
	hosts    map[string]bool
	requests []store.Request
	// mfaResults, reevaluated and findings are counted after commit.
	mfaResults  []string
	reevaluated int
	findings    []store.Finding
}

func (o *outbox) grant(hostID string) {
	if o.hosts == nil {
		o.hosts = map[string]bool{}
	}
	o.hosts[hostID] = true
}

func (o *outbox) request(r store.Request) { o.requests = append(o.requests, r) }
func (o *outbox) mfa(result string)       { o.mfaResults = append(o.mfaResults, result) }

// notify tells the other replicas, at commit, what to re-read.
func (o *outbox) notify(tx *store.Tx) {
	for host := range o.hosts {
		tx.Notify(noteHost + host)
	}
	for _, r := range o.requests {
		tx.Notify(noteRequest + r.ID)
	}
}
