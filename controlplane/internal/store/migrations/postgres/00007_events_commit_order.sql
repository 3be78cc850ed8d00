-- The PostgreSQL twin of migrations/sqlite/00007_events_commit_order.sql:
-- telemetry in commit order. seq, an identity, orders rows as they were
-- inserted; with several writers (replicas, and the request core's
-- transactions beside ingest) a row can commit after a row with a higher
-- seq, so a cursor over seq that had passed it skipped it for good.
--
-- tx is the 64-bit id of the transaction that stored the row. Readers
-- order by (tx, seq) and read only rows whose tx is below the oldest
-- transaction still running (pg_current_snapshot's xmin): every
-- transaction below it has ended, so nothing can ever be stored behind
-- such a row (see store.EventPos). Writers pay nothing but the column and
-- its index. Rows stored before this migration keep tx 0 and sort first,
-- in seq order, as the exports' cursors (tx 0) already read them.

-- +goose Up
ALTER TABLE events ADD COLUMN tx BIGINT NOT NULL DEFAULT 0;
ALTER TABLE events ALTER COLUMN tx SET DEFAULT pg_current_xact_id()::text::bigint;
CREATE INDEX events_tx_seq ON events(tx, seq);
ALTER TABLE export_cursors ADD COLUMN tx BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE export_cursors DROP COLUMN tx;
DROP INDEX events_tx_seq;
ALTER TABLE events DROP COLUMN tx;
