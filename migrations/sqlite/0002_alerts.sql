-- Incidents: one per alert and monitor while its condition holds. A folded
-- incident (an edge failing because its upstream fails) points at the
-- upstream's incident and sends nothing of its own.
CREATE TABLE incidents (
    id           TEXT PRIMARY KEY,
    alert        TEXT NOT NULL,
    monitor      TEXT NOT NULL,
    severity     TEXT NOT NULL,
    state        TEXT NOT NULL,
    cause        TEXT NOT NULL,
    verdict      TEXT NOT NULL,
    responder    TEXT,
    evidence     TEXT,
    value        REAL,
    threshold    REAL,
    started_ms   INTEGER NOT NULL,
    resolved_ms  INTEGER,
    acknowledged INTEGER NOT NULL DEFAULT 0,
    folded_into  TEXT,
    notified_ms  INTEGER
);
CREATE INDEX incidents_by_state ON incidents (state, started_ms);

-- Deploy and change markers.
CREATE TABLE annotations (
    id       INTEGER PRIMARY KEY,
    at_ms    INTEGER NOT NULL,
    text     TEXT NOT NULL,
    monitors TEXT NOT NULL
);
CREATE INDEX annotations_by_time ON annotations (at_ms);

-- The outbox: every message to a notifier is a row, written in the same
-- transaction as the incident change, deleted from nowhere, retried until
-- the receiver takes it. `events` is a JSON array of alert events (more
-- than one when an alert storm was grouped); `id` is the delivery id the
-- receiver sees on every retry.
CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    notifier        TEXT NOT NULL,
    events          TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_ms      INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL,
    last_error      TEXT
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_ms);
