package requests

import (
	"sync"

	"github.com/zpam/zpam/controlplane/internal/store"
)

// hub fans committed changes out to the watchers of one process. Each
// watcher has a bounded queue; a watcher whose queue is full is dropped
// (its channel closed) so it reconnects and re-reads a snapshot, instead of
// the control plane buffering without limit for a slow agent.
type hub struct {
	mu       sync.Mutex
	hosts    topic[GrantEvent]
	requests topic[View]
}

func newHub(buffer int) *hub {
	return &hub{hosts: newTopic[GrantEvent](buffer), requests: newTopic[View](buffer)}
}

func (h *hub) subscribeHost(hostID string) *subscription[GrantEvent] {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hosts.add(hostID)
}

func (h *hub) subscribeRequest(id string) *subscription[View] {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.requests.add(id)
}

func (h *hub) unsubscribeHost(s *subscription[GrantEvent]) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hosts.remove(s)
}

func (h *hub) unsubscribeRequest(s *subscription[View]) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests.remove(s)
}

func (h *hub) publish(out *outbox) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ev := range out.grants {
		h.hosts.publish(ev.Grant.HostID, ev)
	}
	for _, v := range out.views {
		h.requests.publish(v.Request.ID, v)
	}
}

// hostWatchers counts open grant streams: the connected agents.
func (h *hub) hostWatchers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hosts.count
}

type subscription[T any] struct {
	key string
	ch  chan T
}

// topic is not safe for concurrent use; hub.mu guards it.
type topic[T any] struct {
	subs   map[string]map[*subscription[T]]struct{}
	buffer int
	count  int
}

func newTopic[T any](buffer int) topic[T] {
	return topic[T]{subs: map[string]map[*subscription[T]]struct{}{}, buffer: buffer}
}

func (t *topic[T]) add(key string) *subscription[T] {
	s := &subscription[T]{key: key, ch: make(chan T, t.buffer)}
	if t.subs[key] == nil {
		t.subs[key] = map[*subscription[T]]struct{}{}
	}
	t.subs[key][s] = struct{}{}
	t.count++
	return s
}

// remove closes s's channel once, whether called by the watcher or by
// publish dropping a slow watcher.
func (t *topic[T]) remove(s *subscription[T]) {
	set := t.subs[s.key]
	if _, ok := set[s]; !ok {
		return
	}
	delete(set, s)
	if len(set) == 0 {
		delete(t.subs, s.key)
	}
	t.count--
	close(s.ch)
}

func (t *topic[T]) publish(key string, v T) {
	for s := range t.subs[key] {
		select {
		case s.ch <- v:
		default:
			t.remove(s)
		}
	}
}

// outbox collects what a transaction changed, published after commit.
type outbox struct {
	grants   []GrantEvent
	requests []store.Request
	views    []View
	// mfaResults and reevaluated are counted after commit.
	mfaResults  []string
	reevaluated int
}

func (o *outbox) grant(ev GrantEvent)     { o.grants = append(o.grants, ev) }
func (o *outbox) request(r store.Request) { o.requests = append(o.requests, r) }
func (o *outbox) mfa(result string)       { o.mfaResults = append(o.mfaResults, result) }

// resolve attaches grants to the changed requests, inside the transaction,
// so watchers get whole views.
func (o *outbox) resolve(tx *store.Tx) error {
	for _, r := range o.requests {
		v, err := viewOf(tx, r)
		if err != nil {
			return err
		}
		o.views = append(o.views, v)
	}
	return nil
}
