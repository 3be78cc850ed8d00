-- The PostgreSQL twin of migrations/sqlite/00004_workflow.sql.
-- Request workflow and identities: approval deadlines, MFA state and
-- failure lockout, break-glass and workload requests, the directory
-- revision that triggers re-evaluation, host certificate tracking.

-- +goose Up
ALTER TABLE requests ADD COLUMN approval_deadline BIGINT NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN approval_mfa INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN mfa_verified INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN break_glass INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN workload_id TEXT NOT NULL DEFAULT '';
CREATE INDEX requests_deadline ON requests(status, approval_deadline);

ALTER TABLE grants ADD COLUMN break_glass INTEGER NOT NULL DEFAULT 0;
ALTER TABLE grants ADD COLUMN workload_id TEXT NOT NULL DEFAULT '';

ALTER TABLE users ADD COLUMN otp_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN otp_locked_until BIGINT NOT NULL DEFAULT 0;

ALTER TABLE hosts ADD COLUMN cert_serial TEXT NOT NULL DEFAULT '';
ALTER TABLE hosts ADD COLUMN cert_expires_at BIGINT NOT NULL DEFAULT 0;

-- Bumped with every change of people's groups or hosts' labels, so the
-- serving process notices changes made by other processes (the CLI) and
-- re-evaluates active grants.
INSERT INTO counters (name, value) VALUES ('directory_revision', 0);

-- +goose Down
DELETE FROM counters WHERE name = 'directory_revision';
ALTER TABLE hosts DROP COLUMN cert_expires_at;
ALTER TABLE hosts DROP COLUMN cert_serial;
ALTER TABLE users DROP COLUMN otp_locked_until;
ALTER TABLE users DROP COLUMN otp_failures;
ALTER TABLE grants DROP COLUMN workload_id;
ALTER TABLE grants DROP COLUMN break_glass;
DROP INDEX requests_deadline;
ALTER TABLE requests DROP COLUMN workload_id;
ALTER TABLE requests DROP COLUMN break_glass;
ALTER TABLE requests DROP COLUMN mfa_verified;
ALTER TABLE requests DROP COLUMN approval_mfa;
ALTER TABLE requests DROP COLUMN approval_deadline;
