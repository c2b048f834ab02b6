-- Status reports (contract section 8): what a person writes during an
-- outage. `monitors` and `pages` are JSON arrays of names; both empty means
-- every page. `resolved_ms` is set by the update that resolves it.
CREATE TABLE reports (
    id          INTEGER PRIMARY KEY,
    title       TEXT NOT NULL,
    status      TEXT NOT NULL,
    monitors    TEXT NOT NULL,
    pages       TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    resolved_ms INTEGER
);
CREATE INDEX reports_by_time ON reports (created_ms);

-- A report's timeline, its own first message included; `id` keeps the
-- order of two updates written in the same millisecond.
CREATE TABLE report_updates (
    id        INTEGER PRIMARY KEY,
    report_id INTEGER NOT NULL REFERENCES reports (id),
    at_ms     INTEGER NOT NULL,
    status    TEXT NOT NULL,
    message   TEXT NOT NULL
);
CREATE INDEX report_updates_by_report ON report_updates (report_id, at_ms);
