-- The cluster: who is alive (each node writes its heartbeat with the
-- server's clock, so nodes' clocks never have to agree) and who leads.

CREATE TABLE cluster_nodes (
    name        TEXT PRIMARY KEY,
    region      TEXT NOT NULL,
    -- A random number per process start: a node that finds another
    -- incarnation in its row has lost its name to a newer process.
    incarnation BIGINT NOT NULL,
    last_seen   TIMESTAMPTZ NOT NULL,
    -- How many (monitor, region) pairs it checks, for /api/v1/cluster.
    monitors    INTEGER NOT NULL DEFAULT 0
);

-- One row: the leader's lease. `token` grows by one at every change of
-- holder; a leader's writes carry it, so a deposed leader's are refused.
CREATE TABLE cluster_lease (
    id                 SMALLINT PRIMARY KEY CHECK (id = 1),
    holder             TEXT,
    holder_incarnation BIGINT,
    token              BIGINT NOT NULL,
    expires            TIMESTAMPTZ NOT NULL
);
INSERT INTO cluster_lease (id, holder, holder_incarnation, token, expires)
VALUES (1, NULL, NULL, 0, 'epoch');
