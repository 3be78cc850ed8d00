package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"
)

// changesChannel is the PostgreSQL NOTIFY channel of committed changes.
const changesChannel = "zpam_changes"

// listenRetry is how soon a lost LISTEN connection is made again.
const listenRetry = time.Second

// Notify queues a note to the other replicas, delivered only if and when
// the transaction commits (PostgreSQL's NOTIFY is transactional, and
// notes of one transaction arrive together, in commit order). A note is a
// hint, never the change itself: receivers read the change from the
// database. Without replicas (SQLite) notes are dropped.
func (t *Tx) Notify(note string) {
	if t.d.shared && !slices.Contains(t.notes, note) {
		t.notes = append(t.notes, note)
	}
}

func (t *Tx) sendNotes() error {
	for _, n := range t.notes {
		if _, err := t.exec(`SELECT pg_notify(?, ?)`, changesChannel, n); err != nil {
			return fmt.Errorf("notify replicas: %w", err)
		}
	}
	return nil
}

// Listener receives the notes of every replica, this one included.
type Listener interface {
	// Connected is called each time the LISTEN connection is (re)made:
	// notes sent while it was down are lost, so catch up from the
	// database.
	Connected()
	// Note is called with each note, on one goroutine, in commit order.
	Note(note string)
}

// Listen delivers notes to l until ctx ends, on a connection of its own,
// reconnecting when it breaks; errors go to logErr. It needs PostgreSQL.
func (s *Store) Listen(ctx context.Context, l Listener, logErr func(error)) error {
	if !s.d.shared {
		return errors.New("listen: only PostgreSQL has replicas to listen to")
	}
	pl := &pgxlisten.Listener{
		Connect: func(ctx context.Context) (*pgx.Conn, error) { return pgx.Connect(ctx, s.url) },
		LogError: func(ctx context.Context, err error) {
			if ctx.Err() == nil {
				logErr(err)
			}
		},
		ReconnectDelay: listenRetry,
	}
	pl.Handle(changesChannel, listenHandler{l})
	err := pl.Listen(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

type listenHandler struct{ l Listener }

func (h listenHandler) HandleNotification(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
	h.l.Note(n.Payload)
	return nil
}

// HandleBacklog runs once LISTEN is in place on a new connection.
func (h listenHandler) HandleBacklog(context.Context, string, *pgx.Conn) error {
	h.l.Connected()
	return nil
}
