-- How far each monitor's healthy checks have been thinned
-- (`storage.keep_healthy`): its checks before `thinned_ms` were, and are
-- not read again. 0: not yet.
ALTER TABLE monitors ADD COLUMN thinned_ms INTEGER NOT NULL DEFAULT 0;
