-- Risk and response: each request's risk assessment, the findings that
-- detection rules raise on a grant's commands, the matches already
-- counted (so a resent telemetry batch counts nothing twice), and the
-- commands each person has run elevated (for "never ran this elevated
-- before"). A grant may also be suspended (grants.state) and its request
-- suspended (requests.status); both are text columns already.

-- +goose Up
-- JSON of the assessment ({"score": 45, "factors": [...]}); '' for
-- requests filed before scoring, which count as scored 0.
ALTER TABLE requests ADD COLUMN risk TEXT NOT NULL DEFAULT '';

-- One finding per rule and grant; every further match is counted and
-- the first ones are kept in evidence (JSON list).
CREATE TABLE findings (
    id          TEXT PRIMARY KEY,
    grant_id    TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    host_id     TEXT NOT NULL,
    user_name   TEXT NOT NULL,
    rule        TEXT NOT NULL,
    description TEXT NOT NULL,
    severity    TEXT NOT NULL,
    response    TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    evidence    TEXT NOT NULL,
    matches     BIGINT NOT NULL,
    first_at    BIGINT NOT NULL,
    last_at     BIGINT NOT NULL,
    UNIQUE (grant_id, rule)
);
-- A person's recent findings (risk), and the newest across the fleet.
CREATE INDEX findings_user_at ON findings(user_name, first_at);
CREATE INDEX findings_at ON findings(first_at);

CREATE TABLE finding_matches (
    grant_id TEXT NOT NULL,
    rule     TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (grant_id, rule, event_id)
);

CREATE TABLE elevated_commands (
    user_name      TEXT NOT NULL,
    filename       TEXT NOT NULL,
    first_grant_id TEXT NOT NULL,
    first_at       BIGINT NOT NULL,
    PRIMARY KEY (user_name, filename)
);

-- +goose Down
DROP TABLE elevated_commands;
DROP TABLE finding_matches;
DROP INDEX findings_at;
DROP INDEX findings_user_at;
DROP TABLE findings;
ALTER TABLE requests DROP COLUMN risk;
