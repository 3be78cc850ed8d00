package store

import (
	"database/sql"
	"sync"
)

// maxCachedStmts bounds the statement cache. The store's queries are
// constants, a few hundred at most; a query built per call (an IN list of
// some length) would otherwise grow the cache without end, so past the
// bound queries are parsed each time as before.
const maxCachedStmts = 512

// stmtCache keeps one prepared statement per query text. SQLite parses
// and plans a statement on every prepare, which the driver does on every
// call: in a transaction that decides a grant for a thousand hosts, or a
// thousand watchers reading their changes after it, parsing was a third
// of the work. database/sql prepares a cached statement once per
// connection and reuses it inside every transaction on that connection
// (Tx.Stmt).
//
// A statement is prepared in the background the first time its query is
// asked for, and that call runs it unprepared: preparing on the pool
// from inside a transaction would wait for a second connection while
// holding one, which deadlocks once the pool is bounded and every
// connection is in such a transaction.
type stmtCache struct {
	mu      sync.Mutex
	stmts   map[string]*sql.Stmt
	pending map[string]bool
	closed  bool
	wg      sync.WaitGroup
}

// get returns the prepared statement of query, or nil when it is not
// prepared yet (or cannot be cached): the caller then runs the query
// unprepared.
func (c *stmtCache) get(db *sql.DB, query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts[query]; ok {
		return st
	}
	if c.closed || c.pending[query] || len(c.stmts)+len(c.pending) >= maxCachedStmts {
		return nil
	}
	if c.pending == nil {
		c.stmts, c.pending = map[string]*sql.Stmt{}, map[string]bool{}
	}
	c.pending[query] = true
	c.wg.Go(func() { c.prepare(db, query) })
	return nil
}

// prepare caches query's statement. A query that fails to prepare stays
// pending, so it is never tried again: it runs unprepared and reports
// its error there.
func (c *stmtCache) prepare(db *sql.DB, query string) {
	st, err := db.Prepare(query)
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		st.Close()
		return
	}
	delete(c.pending, query)
	c.stmts[query] = st
}

// close waits for the prepares under way and closes every statement.
func (c *stmtCache) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		st.Close()
	}
	c.stmts, c.pending = nil, nil
}
