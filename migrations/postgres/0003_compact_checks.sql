-- Checks are most of the rows: the smallest types that hold their values
-- (microseconds fit 32 bits: 35 minutes, far past any timeout) take a
-- healthy check from about 159 to about 120 bytes with its index. The
-- store reads them back cast to 64 bits, as it reads every integer.
ALTER TABLE checks
    ALTER COLUMN cause TYPE SMALLINT,
    ALTER COLUMN status TYPE SMALLINT,
    ALTER COLUMN latency_us TYPE INTEGER,
    ALTER COLUMN dns_us TYPE INTEGER,
    ALTER COLUMN connect_us TYPE INTEGER,
    ALTER COLUMN tls_us TYPE INTEGER,
    ALTER COLUMN ttfb_us TYPE INTEGER,
    ALTER COLUMN transfer_us TYPE INTEGER,
    ALTER COLUMN flags TYPE SMALLINT;
