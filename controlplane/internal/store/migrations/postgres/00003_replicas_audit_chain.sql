-- The PostgreSQL twin of migrations/sqlite/00003_replicas_audit_chain.sql:
-- the audit hash chain and its append-only triggers, the reason of a grant
-- removal, request versions and the changes horizon.

-- +goose Up
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN hash TEXT NOT NULL DEFAULT '';
INSERT INTO counters (name, value) SELECT 'audit_seq', COALESCE(MAX(id), 0) FROM audit_events;

-- +goose StatementBegin
CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.hash <> '' THEN
        RAISE EXCEPTION 'audit_events is append-only';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

ALTER TABLE grant_changes ADD COLUMN reason TEXT NOT NULL DEFAULT '';
INSERT INTO counters (name, value) VALUES ('grant_changes_horizon', 0);
ALTER TABLE requests ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

-- +goose Down
ALTER TABLE requests DROP COLUMN version;
DELETE FROM counters WHERE name IN ('audit_seq', 'grant_changes_horizon');
ALTER TABLE grant_changes DROP COLUMN reason;
DROP TRIGGER audit_events_append_only ON audit_events;
DROP FUNCTION audit_events_append_only();
ALTER TABLE audit_events DROP COLUMN hash;
ALTER TABLE audit_events DROP COLUMN prev_hash;
