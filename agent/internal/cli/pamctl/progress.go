package pamctl

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
)

// spinner is drawn in front of the live line, one frame per tick.
var spinner = []rune("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")

// tick paces the live line: fast enough for the spinner to move.
const tick = 100 * time.Millisecond

// progress shows a request while it is pending: on a terminal, one line
// redrawn with a spinner and the elapsed time; otherwise a plain line per
// change, for logs and pipes.
type progress struct {
	w     io.Writer
	live  bool
	start time.Time

	mu    sync.Mutex
	text  string
	frame int
	drawn bool
	stop  chan struct{}
	done  chan struct{}
}

func newProgress(w io.Writer, live bool) *progress {
	p := &progress{w: w, live: live, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	if live {
		go p.tick()
	} else {
		close(p.done)
	}
	return p
}

func (p *progress) tick() {
	defer close(p.done)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			p.draw()
			p.mu.Unlock()
		}
	}
}

// update shows u if it is a pending status; final ones are for the caller.
func (p *progress) update(u *localv1.ElevateUpdate) {
	text := pendingText(u.GetRequest())
	p.mu.Lock()
	defer p.mu.Unlock()
	if text == "" || text == p.text {
		return
	}
	p.text = text
	if p.live {
		p.draw()
		return
	}
	fmt.Fprintln(p.w, text)
}

// draw must be called with mu held.
func (p *progress) draw() {
	if p.text == "" {
		return
	}
	elapsed := time.Since(p.start).Truncate(time.Second)
	fmt.Fprintf(p.w, "\r\033[K%c %s — %s elapsed", spinner[p.frame%len(spinner)], p.text, elapsed)
	p.frame++
	p.drawn = true
}

// clear wipes the live line so a prompt can take its place; the next
// pending update draws it again.
func (p *progress) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
	p.text = ""
}

// close stops redrawing and clears the live line.
func (p *progress) close() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

func pendingText(r *commonv1.Request) string {
	switch r.GetStatus() {
	case commonv1.RequestStatus_REQUEST_STATUS_PENDING_APPROVAL:
		return fmt.Sprintf("request %s is waiting for approval%s", r.GetId(), approvalsText(r))
	case commonv1.RequestStatus_REQUEST_STATUS_PENDING_MFA:
		return fmt.Sprintf("request %s needs a one-time code", r.GetId())
	}
	return ""
}

func approvalsText(r *commonv1.Request) string {
	n, who := r.GetApprovalsNeeded(), r.GetApproversAllowed()
	switch {
	case n > 0 && len(who) > 0:
		return fmt.Sprintf(" (%d more from %s)", n, strings.Join(who, ", "))
	case n > 0:
		return fmt.Sprintf(" (%d more, from an admin)", n)
	}
	return ""
}
