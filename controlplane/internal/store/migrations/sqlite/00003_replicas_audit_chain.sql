-- Replicas and the tamper-evident audit trail.
--
-- audit_events gains a hash chain: hash = SHA-256 over prev_hash and the
-- row's content, prev_hash = the hash of the row before. The store
-- appends under the audit_seq counter's lock, so the chain stays linear
-- with several writers, and seals rows written before this migration at
-- open. Triggers refuse to change a sealed row or delete any row.
--
-- grant_changes keeps the reason of a removal, so a replica that did not
-- make the change can tell the host why; requests get a version that
-- watchers order by; the changes horizon says how far pruning went.

-- +goose Up
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN hash TEXT NOT NULL DEFAULT '';
INSERT INTO counters (name, value) SELECT 'audit_seq', COALESCE(MAX(id), 0) FROM audit_events;

-- +goose StatementBegin
CREATE TRIGGER audit_events_sealed BEFORE UPDATE ON audit_events
WHEN OLD.hash <> ''
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
-- +goose StatementEnd

ALTER TABLE grant_changes ADD COLUMN reason TEXT NOT NULL DEFAULT '';
INSERT INTO counters (name, value) VALUES ('grant_changes_horizon', 0);
ALTER TABLE requests ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

-- +goose Down
ALTER TABLE requests DROP COLUMN version;
DELETE FROM counters WHERE name IN ('audit_seq', 'grant_changes_horizon');
ALTER TABLE grant_changes DROP COLUMN reason;
DROP TRIGGER audit_events_no_delete;
DROP TRIGGER audit_events_sealed;
ALTER TABLE audit_events DROP COLUMN hash;
ALTER TABLE audit_events DROP COLUMN prev_hash;
