-- Telemetry: what hosts observed, and the control plane's own request and
-- grant lifecycle, one row per event. seq is the order rows were stored
-- in: the cursor of Follow and of every SIEM export. data is the event's
-- protobuf encoding; the other columns are only what queries filter on,
-- and indexes exist only for those queries (each one costs every insert).

-- +goose Up
CREATE TABLE events (
    seq        INTEGER PRIMARY KEY,
    host_id    TEXT NOT NULL,
    id         TEXT NOT NULL,
    hostname   TEXT NOT NULL,
    at         BIGINT NOT NULL,
    kind       INTEGER NOT NULL,
    user_name  TEXT NOT NULL,
    -- The grant the event is attributed to, or the request when it has
    -- no grant (yet): one column and one index serve --grant with either
    -- id (see EventFilter.Grant).
    attribution TEXT NOT NULL,
    data       BLOB NOT NULL
);
-- Idempotent ingest: a resent event is stored once. Event ids are UUIDv7,
-- so per host this index grows at its right edge.
CREATE UNIQUE INDEX events_host_event ON events(host_id, id);
-- --since, newest first, and retention.
CREATE INDEX events_at ON events(at);
-- --grant; only attributed events are indexed.
CREATE INDEX events_attribution ON events(attribution) WHERE attribution <> '';
-- --user, and a user's own trail on a host.
CREATE INDEX events_user_at ON events(user_name, at);

-- Where each SIEM export has got to: the last seq it delivered.
CREATE TABLE export_cursors (
    sink TEXT PRIMARY KEY,
    seq  BIGINT NOT NULL
);

-- +goose Down
DROP TABLE export_cursors;
DROP TABLE events;
