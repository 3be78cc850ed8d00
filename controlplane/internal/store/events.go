package store

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// EventRow is one stored event: the columns queries filter on and the
// event's encoding, which the store does not read. GrantID and RequestID
// are written, not read back: the encoding has them. Pos is read back,
// never written: the database assigns it.
type EventRow struct {
	Pos       EventPos
	HostID    string
	ID        string
	Hostname  string
	At        time.Time
	Kind      int32
	User      string
	GrantID   string
	RequestID string
	Data      []byte
}

// attribution is the grant, or the request of an event without a grant.
func (r EventRow) attribution() string {
	if r.GrantID != "" {
		return r.GrantID
	}
	return r.RequestID
}

const eventColumns = `host_id, id, hostname, at, kind, user_name, attribution, data`

// insertChunk is the most rows one INSERT carries: 8 parameters each,
// well within every driver's limit, and long enough that parsing and
// stepping the statement is a small part of the work.
const insertChunk = 128

// insertStmts caches a prepared multi-row INSERT per row count, so the
// ingest path neither parses SQL nor plans per batch.
type insertStmts struct {
	mu    sync.Mutex
	stmts map[int]*sql.Stmt
}

func (c *insertStmts) get(s *Store, rows int) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts[rows]; ok {
		return st, nil
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO events (` + eventColumns + `) VALUES `)
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`(?,?,?,?,?,?,?,?)`)
	}
	b.WriteString(` ON CONFLICT (host_id, id) DO NOTHING`)
	st, err := s.db.Prepare(s.d.rebind(b.String()))
	if err != nil {
		return nil, fmt.Errorf("prepare event insert: %w", err)
	}
	if c.stmts == nil {
		c.stmts = map[int]*sql.Stmt{}
	}
	c.stmts[rows] = st
	return st, nil
}

func (c *insertStmts) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		st.Close()
	}
	c.stmts = nil
}

// InsertEvents stores rows, skipping those whose (host_id, id) is already
// stored, and returns how many were new.
func (t *Tx) InsertEvents(rows []EventRow) (int, error) {
	stored := 0
	args := make([]any, 0, 8*min(len(rows), insertChunk))
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), insertChunk)]
		rows = rows[len(chunk):]
		st, err := t.s.inserts.get(t.s, len(chunk))
		if err != nil {
			return stored, err
		}
		args = args[:0]
		for _, r := range chunk {
			args = append(args, r.HostID, r.ID, r.Hostname, unixNano(r.At), r.Kind, r.User, r.attribution(), r.Data)
		}
		res, err := t.tx.StmtContext(t.ctx, st).ExecContext(t.ctx, args...)
		if err != nil {
			return stored, fmt.Errorf("insert events: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return stored, fmt.Errorf("insert events: %w", err)
		}
		stored += int(n)
	}
	return stored, nil
}

// EventFilter selects stored events; zero fields select everything.
type EventFilter struct {
	User string
	// HostID selects one host exactly; Host is a host id or a hostname.
	HostID string
	Host   string
	// Grant is a grant id or a request id: either selects the events of
	// the request and of its grant.
	Grant string
	Kinds []int32
	Since time.Time
	// After selects rows after that position; the zero position is before
	// every row.
	After EventPos
	// Final selects only final rows (see EventPos): what a reader that
	// keeps a position may read.
	Final bool
	Limit int
	// Newest returns the Limit newest by time (newest first) instead of
	// the first Limit by position.
	Newest bool
}

// Events reads the rows f selects.
func (t *Tx) Events(f EventFilter) ([]EventRow, error) {
	where, args := f.where(t.d.order)
	order := ` ORDER BY ` + t.d.order.by
	if f.Newest {
		order = ` ORDER BY at DESC, seq DESC`
	}
	rows, err := t.query(`SELECT tx, seq, `+eventColumns+` FROM events`+where+order+` LIMIT ?`, append(args, f.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("query events: %w", err)
	}
	defer rows.Close()
	var out []EventRow
	for rows.Next() {
		var r EventRow
		var at int64
		var attribution string
		if err := rows.Scan(&r.Pos.Tx, &r.Pos.Seq, &r.HostID, &r.ID, &r.Hostname, &at, &r.Kind, &r.User, &attribution, &r.Data); err != nil {
			return nil, fmt.Errorf("query events: %w", err)
		}
		r.At = fromUnixNano(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

func (f EventFilter) where(o eventOrder) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, vals ...any) {
		conds = append(conds, cond)
		args = append(args, vals...)
	}
	if f.User != "" {
		add(`user_name = ?`, f.User)
	}
	if f.HostID != "" {
		add(`host_id = ?`, f.HostID)
	}
	if f.Host != "" {
		add(`(host_id = ? OR hostname = ?)`, f.Host, f.Host)
	}
	if f.Grant != "" {
		// A grant's events are attributed to it, and those of its request
		// before it was granted to the request; a request id finds both
		// through the grants table the same way.
		add(`attribution IN (?, (SELECT id FROM grants WHERE request_id = ?), (SELECT request_id FROM grants WHERE id = ?))`, f.Grant, f.Grant, f.Grant)
	}
	if len(f.Kinds) > 0 {
		kinds := make([]any, len(f.Kinds))
		for i, k := range f.Kinds {
			kinds[i] = k
		}
		add(`kind IN (`+placeholders(len(kinds))+`)`, kinds...)
	}
	if !f.Since.IsZero() {
		add(`at >= ?`, unixNano(f.Since))
	}
	if f.After != (EventPos{}) {
		cond, vals := o.after(f.After)
		add(cond, vals...)
	}
	if f.Final && o.final != "" {
		add(o.final)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return ` WHERE ` + strings.Join(conds, ` AND `), args
}

// PruneEvents deletes up to limit rows older than before, oldest first,
// and returns their positions so that exports can count what they never
// sent.
func (t *Tx) PruneEvents(before time.Time, limit int) ([]EventPos, error) {
	rows, err := t.query(`SELECT tx, seq FROM events WHERE at < ? ORDER BY at LIMIT ?`, unixNano(before), limit)
	if err != nil {
		return nil, fmt.Errorf("select events to prune: %w", err)
	}
	var pruned []EventPos
	for rows.Next() {
		var p EventPos
		if err := rows.Scan(&p.Tx, &p.Seq); err != nil {
			rows.Close()
			return nil, err
		}
		pruned = append(pruned, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(pruned) == 0 {
		return nil, err
	}
	args := make([]any, len(pruned))
	for i, p := range pruned {
		args[i] = p.Seq
	}
	for i := 0; i < len(args); i += 500 {
		part := args[i:min(i+500, len(args))]
		if _, err := t.exec(`DELETE FROM events WHERE seq IN (`+placeholders(len(part))+`)`, part...); err != nil {
			return nil, fmt.Errorf("prune events: %w", err)
		}
	}
	return pruned, nil
}

// ExportCursor is the position of the last event sink delivered, the
// zero position for a new sink.
func (t *Tx) ExportCursor(sink string) (EventPos, error) {
	var p EventPos
	err := t.queryRow(`SELECT tx, seq FROM export_cursors WHERE sink = ?`, sink).Scan(&p.Tx, &p.Seq)
	if errors.Is(err, sql.ErrNoRows) {
		return EventPos{}, nil
	}
	if err != nil {
		return EventPos{}, fmt.Errorf("read export cursor: %w", err)
	}
	return p, nil
}

// SetExportCursor records that sink delivered everything up to p.
func (t *Tx) SetExportCursor(sink string, p EventPos) error {
	_, err := t.exec(`INSERT INTO export_cursors (sink, tx, seq) VALUES (?, ?, ?)
		ON CONFLICT (sink) DO UPDATE SET tx = excluded.tx, seq = excluded.seq`, sink, p.Tx, p.Seq)
	if err != nil {
		return fmt.Errorf("write export cursor: %w", err)
	}
	return nil
}
