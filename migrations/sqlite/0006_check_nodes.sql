-- The nodes and agents that check. A stored check names its checker by
-- this id, kept in `flags` above its low four bits (src/store/check_rows.rs):
-- id 0 is the node that owns this file, so its own checks, stored as
-- before, cost no byte for it; an agent's cost one or two.
CREATE TABLE check_nodes (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
