package daemon

import (
	"sync"

	"github.com/zpam/zpam/agent/internal/kernel"
)

// Bounds of the in-memory denial history shown by pamctl status.
const (
	denialsPerUID = 10
	denialUIDs    = 1024
)

// denialLog keeps the last denials of each user, bounded in both
// directions so a denial storm cannot grow the agent.
type denialLog struct {
	mu    sync.Mutex
	byUID map[uint32][]kernel.Event
}

func newDenialLog() *denialLog { return &denialLog{byUID: map[uint32][]kernel.Event{}} }

func (l *denialLog) add(ev kernel.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.byUID[ev.UID]; !ok && len(l.byUID) >= denialUIDs {
		l.evictOldest()
	}
	evs := append(l.byUID[ev.UID], ev)
	if len(evs) > denialsPerUID {
		evs = append([]kernel.Event(nil), evs[len(evs)-denialsPerUID:]...)
	}
	l.byUID[ev.UID] = evs
}

// evictOldest drops the user whose latest denial is the oldest.
func (l *denialLog) evictOldest() {
	var victim uint32
	first := true
	for uid, evs := range l.byUID {
		if first || evs[len(evs)-1].Time.Before(l.byUID[victim][len(l.byUID[victim])-1].Time) {
			victim, first = uid, false
		}
	}
	delete(l.byUID, victim)
}

// Recent returns uid's denials, oldest first.
func (l *denialLog) Recent(uid uint32) []kernel.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]kernel.Event(nil), l.byUID[uid]...)
}
