-- The PostgreSQL twin of migrations/sqlite/00005_console_sessions.sql.
-- Web console sessions. The cookie carries a random token; only its
-- SHA-256 is stored, so reading the database does not yield a session.

-- +goose Up
CREATE TABLE console_sessions (
    token_hash   TEXT PRIMARY KEY,
    user_name    TEXT NOT NULL,
    csrf_token   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions(expires_at);

-- +goose Down
DROP TABLE console_sessions;
