-- The PostgreSQL twin of migrations/sqlite/00006_requests_by_user.sql:
-- pamctl requests lists a person's own requests; without this index that
-- is a scan of every request ever filed.

-- +goose Up
CREATE INDEX requests_user ON requests(user_name, created_at);

-- +goose Down
DROP INDEX requests_user;
