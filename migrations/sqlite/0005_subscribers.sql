-- Email subscribers of the public pages (contract section 8). One row per
-- page and address (lower case); `confirmed_ms` is set by the link of the
-- confirmation mail, `asked_ms` is when the last one was queued (a second
-- subscribe soon after queues none). AUTOINCREMENT: an id is never given
-- twice, so the signed links of a deleted subscriber stay dead.
CREATE TABLE subscribers (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    page         TEXT NOT NULL,
    email        TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    asked_ms     INTEGER NOT NULL,
    confirmed_ms INTEGER,
    UNIQUE (page, email)
);

-- A message to one subscriber names the row, never the address: the
-- address is read when the message is sent, and unsubscribing deletes it.
ALTER TABLE deliveries ADD COLUMN subscriber INTEGER;

-- Keys made once per store, shared by every node: `links` signs the
-- subscribers' confirm and unsubscribe links.
CREATE TABLE signing_keys (
    name TEXT PRIMARY KEY,
    key  BLOB NOT NULL
);
