-- A revocation may also end the processes elevated under the grant
-- (pamctl revoke --terminate). The change log keeps that with the
-- REMOVE, so a host that resumes its grant stream from a revision, on
-- any replica, still ends the tree.

-- +goose Up
ALTER TABLE grant_changes ADD COLUMN terminate INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE grant_changes DROP COLUMN terminate;
