-- Which regions failed and passed when an incident opened (JSON).
ALTER TABLE incidents ADD COLUMN regions TEXT;
