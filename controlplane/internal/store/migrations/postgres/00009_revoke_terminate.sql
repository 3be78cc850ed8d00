-- Ending a grant may also end the processes elevated under it: a
-- revocation asks for it (pamctl revoke --terminate), or the role does
-- for every ending of its grants (terminate_on_end), which the request
-- and its grant keep. The change log keeps it with the REMOVE, so a host
-- that resumes its grant stream from a revision, on any replica, still
-- ends the tree.

-- +goose Up
ALTER TABLE grant_changes ADD COLUMN terminate INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN terminate_on_end INTEGER NOT NULL DEFAULT 0;
ALTER TABLE grants ADD COLUMN terminate_on_end INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE grants DROP COLUMN terminate_on_end;
ALTER TABLE requests DROP COLUMN terminate_on_end;
ALTER TABLE grant_changes DROP COLUMN terminate;
