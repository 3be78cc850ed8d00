-- Times are Unix nanoseconds (BIGINT, 0 = unset); lists and maps are JSON
-- text. Both keep the schema portable to PostgreSQL.

-- +goose Up
CREATE TABLE join_tokens (
    secret_hash  TEXT PRIMARY KEY,
    labels       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT NOT NULL DEFAULT 0,
    used_by_host TEXT NOT NULL DEFAULT ''
);

CREATE TABLE hosts (
    id          TEXT PRIMARY KEY,
    hostname    TEXT NOT NULL,
    labels      TEXT NOT NULL,
    facts       TEXT NOT NULL,
    enrolled_at BIGINT NOT NULL,
    removed_at  BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    groups_json   TEXT NOT NULL,
    totp_secret   TEXT NOT NULL,
    last_otp_step BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);

CREATE TABLE requests (
    id                TEXT PRIMARY KEY,
    host_id           TEXT NOT NULL REFERENCES hosts(id),
    hostname          TEXT NOT NULL,
    user_name         TEXT NOT NULL,
    uid               BIGINT NOT NULL,
    duration_ns       BIGINT NOT NULL,
    reason            TEXT NOT NULL,
    commands          TEXT NOT NULL,
    context           TEXT NOT NULL,
    status            TEXT NOT NULL,
    status_reason     TEXT NOT NULL,
    role              TEXT NOT NULL,
    scope             TEXT NOT NULL,
    approvals_needed  INTEGER NOT NULL,
    approvers_allowed TEXT NOT NULL,
    approved_by       TEXT NOT NULL,
    grant_id          TEXT NOT NULL DEFAULT '',
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX requests_status ON requests(status, created_at);

CREATE TABLE grants (
    id         TEXT PRIMARY KEY,
    request_id TEXT NOT NULL UNIQUE REFERENCES requests(id),
    host_id    TEXT NOT NULL REFERENCES hosts(id),
    user_name  TEXT NOT NULL,
    uid        BIGINT NOT NULL,
    scope      TEXT NOT NULL,
    session_id BIGINT NOT NULL,
    granted_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    commands   TEXT NOT NULL,
    approvers  TEXT NOT NULL,
    role       TEXT NOT NULL,
    state      TEXT NOT NULL,
    ended_at   BIGINT NOT NULL DEFAULT 0,
    revision   BIGINT NOT NULL
);
CREATE INDEX grants_host_state ON grants(host_id, state);
CREATE INDEX grants_state_expiry ON grants(state, expires_at);

-- One row per counter; bumping it with UPDATE serialises writers on every
-- database, which is what makes revisions gap-free and monotonic.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('grant_revision', 0);

CREATE TABLE grant_changes (
    revision   BIGINT PRIMARY KEY,
    host_id    TEXT NOT NULL,
    grant_id   TEXT NOT NULL,
    kind       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX grant_changes_host ON grant_changes(host_id, revision);

-- Append-only: the store has no UPDATE or DELETE for this table.
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,
    actor      TEXT NOT NULL,
    request_id TEXT NOT NULL,
    grant_id   TEXT NOT NULL,
    host_id    TEXT NOT NULL,
    user_name  TEXT NOT NULL,
    at         BIGINT NOT NULL,
    detail     TEXT NOT NULL
);
CREATE INDEX audit_events_at ON audit_events(at);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE grant_changes;
DROP TABLE counters;
DROP TABLE grants;
DROP TABLE requests;
DROP TABLE users;
DROP TABLE hosts;
DROP TABLE join_tokens;
