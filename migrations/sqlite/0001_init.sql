-- Monitors by name: rows elsewhere carry the small integer id, never the
-- name, so a renamed-away monitor keeps its history under its old id.
CREATE TABLE monitors (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL
);

-- One row per check. Integer times (unix ms) and microsecond figures keep a
-- healthy check to a few dozen bytes; WITHOUT ROWID makes the primary key
-- the table itself, and (monitor, time) is also what every read wants.
CREATE TABLE checks (
    monitor_id  INTEGER NOT NULL,
    at_ms       INTEGER NOT NULL,
    cause       INTEGER NOT NULL,
    status      INTEGER,
    latency_us  INTEGER NOT NULL,
    dns_us      INTEGER NOT NULL,
    connect_us  INTEGER NOT NULL,
    tls_us      INTEGER NOT NULL,
    ttfb_us     INTEGER NOT NULL,
    transfer_us INTEGER NOT NULL,
    flags       INTEGER NOT NULL,
    PRIMARY KEY (monitor_id, at_ms)
) WITHOUT ROWID;

-- What failed checks saw (error, responder, verdict, evidence): JSON, only
-- for failures, kept apart so healthy rows stay small.
CREATE TABLE check_details (
    monitor_id INTEGER NOT NULL,
    at_ms      INTEGER NOT NULL,
    detail     TEXT NOT NULL,
    PRIMARY KEY (monitor_id, at_ms)
);

-- Hourly and daily rollups; `bucket` is the hour or day number since the
-- Unix epoch (UTC). `causes` and `histogram` are compact encodings (see
-- src/store/rollup.rs) so that percentiles survive a restart.
CREATE TABLE rollups_hourly (
    monitor_id INTEGER NOT NULL,
    bucket     INTEGER NOT NULL,
    total      INTEGER NOT NULL,
    ok         INTEGER NOT NULL,
    failed     INTEGER NOT NULL,
    unknown    INTEGER NOT NULL,
    n5xx       INTEGER NOT NULL,
    p50_us     INTEGER NOT NULL,
    p95_us     INTEGER NOT NULL,
    p99_us     INTEGER NOT NULL,
    causes     BLOB NOT NULL,
    histogram  BLOB NOT NULL,
    PRIMARY KEY (monitor_id, bucket)
) WITHOUT ROWID;

CREATE TABLE rollups_daily (
    monitor_id INTEGER NOT NULL,
    bucket     INTEGER NOT NULL,
    total      INTEGER NOT NULL,
    ok         INTEGER NOT NULL,
    failed     INTEGER NOT NULL,
    unknown    INTEGER NOT NULL,
    n5xx       INTEGER NOT NULL,
    p50_us     INTEGER NOT NULL,
    p95_us     INTEGER NOT NULL,
    p99_us     INTEGER NOT NULL,
    causes     BLOB NOT NULL,
    histogram  BLOB NOT NULL,
    PRIMARY KEY (monitor_id, bucket)
) WITHOUT ROWID;

-- Each daemon run: when it started and when it was last seen alive. The
-- time between runs is a gap that counts as unknown, never as up.
CREATE TABLE runs (
    id         INTEGER PRIMARY KEY,
    started_ms INTEGER NOT NULL,
    alive_ms   INTEGER NOT NULL,
    stopped_ms INTEGER
);
