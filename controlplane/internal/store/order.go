package store

import "fmt"

// EventPos is an event's place in the order Follow and the SIEM exports
// read events in: by Tx, then by Seq. A reader keeps the position of the
// last event it delivered and asks for the final events after it.
//
// That is only sound if nothing is ever stored behind a position a
// reader has passed; the rule that makes it so depends on the database:
//
//   - SQLite has one writer at a time (BEGIN IMMEDIATE, across every
//     process), and seq is AUTOINCREMENT: seqs follow the commits and are
//     never reused. Tx is always 0 and every committed row is final.
//   - PostgreSQL has several writers (replicas, and the request core
//     beside ingest), and a row inserted with a lower seq may commit after
//     one with a higher seq. Tx is the 64-bit id of the transaction that
//     stored the row (pg_current_xact_id), and a row is final once its Tx
//     is below the xmin of the reader's snapshot, the oldest transaction
//     still running: every transaction below it has committed or rolled
//     back, and transactions that start later get higher ids, so no row
//     can ever again appear below that bound. The writers pay nothing for
//     this (no shared counter); the price is that a reader waits for the
//     oldest running transaction, wherever it runs, before it passes it.
type EventPos struct {
	Tx, Seq int64
}

// Less reports whether p comes before q.
func (p EventPos) Less(q EventPos) bool {
	return p.Tx < q.Tx || p.Tx == q.Tx && p.Seq < q.Seq
}

func (p EventPos) String() string { return fmt.Sprintf("%d.%d", p.Tx, p.Seq) }

// eventOrder is how a dialect orders events by EventPos and says which
// are final.
type eventOrder struct {
	// by is the ORDER BY of positions, ascending.
	by string
	// after is the condition that a row comes after a position.
	after func(EventPos) (string, []any)
	// final is the condition that a row is final; empty when every
	// committed row is.
	final string
	// horizon selects the position up to which every row is final:
	// nothing will ever be stored at or before it.
	horizon string
}

var sqliteOrder = eventOrder{
	by:      `seq`,
	after:   func(p EventPos) (string, []any) { return `seq > ?`, []any{p.Seq} },
	horizon: `SELECT 0, COALESCE(MAX(seq), 0) FROM events`,
}

// pgXmin is the oldest transaction running when the snapshot was taken,
// as a number (xid8 has no cast to bigint but through text).
const pgXmin = `pg_snapshot_xmin(pg_current_snapshot())::text::bigint`

var postgresOrder = eventOrder{
	by: `tx, seq`,
	after: func(p EventPos) (string, []any) {
		return `(tx, seq) > (?, ?)`, []any{p.Tx, p.Seq}
	},
	final:   `tx < (SELECT ` + pgXmin + `)`,
	horizon: `SELECT ` + pgXmin + `, 0`,
}

// EventHorizon is the position up to which every stored event is final,
// in this transaction's snapshot: a reader that has read every event up
// to it may go on from there.
func (t *Tx) EventHorizon() (EventPos, error) {
	var p EventPos
	if err := t.queryRow(t.d.order.horizon).Scan(&p.Tx, &p.Seq); err != nil {
		return EventPos{}, fmt.Errorf("read the events' horizon: %w", err)
	}
	return p, nil
}
