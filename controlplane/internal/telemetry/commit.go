package telemetry

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/zpam/zpam/controlplane/internal/store"
)

// maxGroupRows bounds one group commit: long enough that the commit's
// fixed cost (the WAL pages of every index's right edge, the sync) is
// shared by several batches, short enough that the request core's
// writes, which queue behind it for the same SQLite writer, wait some
// 50 ms at most.
const maxGroupRows = 4096

// maxQueuedRows bounds the rows queued or committing, from every
// uploader together: past it Submit waits, and the streams behind it are
// not read, so that many uploaders cannot make this process hold more
// than one batch each beside the queue.
const maxQueuedRows = 4 * maxGroupRows

// commitTimeout bounds one group commit. It is not any caller's context:
// the group holds the batches of many uploaders, and one that leaves must
// not fail the others' batches.
const commitTimeout = time.Minute

// committer stores the batches of every uploader in shared transactions
// (group commit): while one transaction commits, the batches that arrive
// queue, and the next transaction takes them all. Ingest is bounded by
// one writer (SQLite has one; on PostgreSQL each replica has one here);
// sharing a commit's fixed cost takes a part of that writer's work off
// (with groups, commits were some 15 % of it in a profile), which counts
// most with many uploaders.
//
// Batches are committed in the order they were queued, so one stream's
// batches commit, and are acked, in order. The committing goroutine runs
// only while there is something queued.
type committer struct {
	store *store.Store
	// committed is told about each group once its batches have their
	// results.
	committed func(group []*Pending)
	// room holds a unit for each row queued or committing.
	room    *semaphore.Weighted
	mu      sync.Mutex
	queue   []*Pending
	running bool
}

func newCommitter(st *store.Store, committed func([]*Pending)) *committer {
	return &committer{store: st, committed: committed, room: semaphore.NewWeighted(maxQueuedRows)}
}

// Pending is a batch queued for a group commit.
type Pending struct {
	rows     []store.EventRow
	rejected int
	start    time.Time
	done     chan struct{}
	// afterCommit runs in Wait once the batch is stored, before its
	// result is returned (and the batch acknowledged).
	afterCommit func(context.Context)
	// stored and err are set before done is closed.
	stored int
	err    error
}

// Wait returns the batch's result once its transaction has committed,
// or ctx's error if ctx ends first (the batch may still be stored).
func (p *Pending) Wait(ctx context.Context) (Result, error) {
	select {
	case <-p.done:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	if p.err != nil {
		return Result{}, p.err
	}
	if p.afterCommit != nil {
		p.afterCommit(ctx)
	}
	return Result{Stored: p.stored, Duplicates: len(p.rows) - p.stored, Rejected: p.rejected}, nil
}

// submit queues p once there is room for it, or fails when ctx ends
// first.
func (c *committer) submit(ctx context.Context, p *Pending) error {
	if err := c.room.Acquire(ctx, int64(len(p.rows))); err != nil {
		return fmt.Errorf("wait to store events: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queue = append(c.queue, p)
	if !c.running {
		c.running = true
		go c.run()
	}
	return nil
}

// run commits groups until the queue is empty.
func (c *committer) run() {
	for {
		group := c.take()
		if group == nil {
			return
		}
		c.commit(group)
	}
}

// take removes the next group from the queue: at least one batch, and
// more while they fit in maxGroupRows. Nil means the queue was empty and
// run must end.
func (c *committer) take() []*Pending {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 {
		c.running = false
		return nil
	}
	n, rows := 1, len(c.queue[0].rows)
	for n < len(c.queue) && rows+len(c.queue[n].rows) <= maxGroupRows {
		rows += len(c.queue[n].rows)
		n++
	}
	group := c.queue[:n:n]
	c.queue = c.queue[n:]
	return group
}

// commit stores every batch of group in one transaction. Each batch is
// inserted by statements of its own, so that its duplicates are counted
// apart; a retried transaction (PostgreSQL) counts them afresh.
func (c *committer) commit(group []*Pending) {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	err := c.store.Update(ctx, func(tx *store.Tx) error {
		for _, p := range group {
			var err error
			if p.stored, err = tx.InsertEvents(p.rows); err != nil {
				return err
			}
		}
		return nil
	})
	for _, p := range group {
		p.err = err
	}
	c.committed(group)
	for _, p := range group {
		c.room.Release(int64(len(p.rows)))
		close(p.done)
	}
}
