-- Telemetry in commit order. Follow and every SIEM export read the events
-- after a cursor, which is only sound if no event is ever stored behind
-- a cursor that has passed its place (see store.EventPos).
--
-- SQLite has one writer, so seq follows the commits; but a rowid without
-- AUTOINCREMENT is reused: once retention had deleted the newest rows, or
-- all of them after a quiet spell, new events were numbered again from
-- below the exports' cursors, which then skipped them. AUTOINCREMENT
-- never hands a seq out twice; SQLite cannot add it to a table, so the
-- table is rebuilt, and numbering resumes above every cursor. tx is the
-- PostgreSQL ordering column; here it stays 0.

-- +goose Up
CREATE TABLE events_ordered (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    host_id     TEXT NOT NULL,
    id          TEXT NOT NULL,
    hostname    TEXT NOT NULL,
    at          BIGINT NOT NULL,
    kind        INTEGER NOT NULL,
    user_name   TEXT NOT NULL,
    attribution TEXT NOT NULL,
    data        BLOB NOT NULL,
    tx          BIGINT NOT NULL DEFAULT 0
);
INSERT INTO events_ordered (seq, host_id, id, hostname, at, kind, user_name, attribution, data)
    SELECT seq, host_id, id, hostname, at, kind, user_name, attribution, data FROM events;
DROP TABLE events;
ALTER TABLE events_ordered RENAME TO events;
CREATE UNIQUE INDEX events_host_event ON events(host_id, id);
CREATE INDEX events_at ON events(at);
CREATE INDEX events_attribution ON events(attribution) WHERE attribution <> '';
CREATE INDEX events_user_at ON events(user_name, at);
DELETE FROM sqlite_sequence WHERE name = 'events';
INSERT INTO sqlite_sequence (name, seq) VALUES ('events',
    MAX((SELECT COALESCE(MAX(seq), 0) FROM events), (SELECT COALESCE(MAX(seq), 0) FROM export_cursors)));
ALTER TABLE export_cursors ADD COLUMN tx BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE export_cursors DROP COLUMN tx;
CREATE TABLE events_unordered (
    seq         INTEGER PRIMARY KEY,
    host_id     TEXT NOT NULL,
    id          TEXT NOT NULL,
    hostname    TEXT NOT NULL,
    at          BIGINT NOT NULL,
    kind        INTEGER NOT NULL,
    user_name   TEXT NOT NULL,
    attribution TEXT NOT NULL,
    data        BLOB NOT NULL
);
INSERT INTO events_unordered SELECT seq, host_id, id, hostname, at, kind, user_name, attribution, data FROM events;
DROP TABLE events;
ALTER TABLE events_unordered RENAME TO events;
CREATE UNIQUE INDEX events_host_event ON events(host_id, id);
CREATE INDEX events_at ON events(at);
CREATE INDEX events_attribution ON events(attribution) WHERE attribution <> '';
CREATE INDEX events_user_at ON events(user_name, at);
