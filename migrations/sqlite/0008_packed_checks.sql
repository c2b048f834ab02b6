-- A check's status and timings, which no query filters on, packed into one
-- blob of LEB128 integers (src/store/check_rows.rs): status (0: none),
-- latency, then the dns, connect, tls, ttfb and transfer phases, all in
-- microseconds. A healthy check over loopback takes 30.9 bytes instead of
-- 35.2 (bench/packed_row.py). The key, the cause and the flags stay columns:
-- thinning and the reads of ranges look at them alone.
CREATE TABLE checks_packed (
    monitor_id INTEGER NOT NULL,
    at_ms      INTEGER NOT NULL,
    cause      INTEGER NOT NULL,
    flags      INTEGER NOT NULL,
    timings    BLOB NOT NULL,
    PRIMARY KEY (monitor_id, at_ms)
) WITHOUT ROWID;

-- Each value is clamped into 0 .. 2^31 - 1 as the writer keeps it, then
-- written as five LEB128 bytes in hex of which the leading ones it needs
-- are kept: byte k holds bits 7k to 7k+6, with 128 added while the value
-- goes on past it.
INSERT INTO checks_packed (monitor_id, at_ms, cause, flags, timings)
SELECT monitor_id, at_ms, cause, flags, unhex(
    substr(printf('%02X%02X%02X%02X%02X',
            (status & 127) | (status >= 128) * 128,
            ((status >> 7) & 127) | (status >= 16384) * 128,
            ((status >> 14) & 127) | (status >= 2097152) * 128,
            ((status >> 21) & 127) | (status >= 268435456) * 128,
            (status >> 28) & 127),
        1, 2 + 2 * ((status >= 128) + (status >= 16384) + (status >= 2097152) + (status >= 268435456)))
    || substr(printf('%02X%02X%02X%02X%02X',
            (latency_us & 127) | (latency_us >= 128) * 128,
            ((latency_us >> 7) & 127) | (latency_us >= 16384) * 128,
            ((latency_us >> 14) & 127) | (latency_us >= 2097152) * 128,
            ((latency_us >> 21) & 127) | (latency_us >= 268435456) * 128,
            (latency_us >> 28) & 127),
        1, 2 + 2 * ((latency_us >= 128) + (latency_us >= 16384) + (latency_us >= 2097152) + (latency_us >= 268435456)))
    || substr(printf('%02X%02X%02X%02X%02X',
            (dns_us & 127) | (dns_us >= 128) * 128,
            ((dns_us >> 7) & 127) | (dns_us >= 16384) * 128,
            ((dns_us >> 14) & 127) | (dns_us >= 2097152) * 128,
            ((dns_us >> 21) & 127) | (dns_us >= 268435456) * 128,
            (dns_us >> 28) & 127),
        1, 2 + 2 * ((dns_us >= 128) + (dns_us >= 16384) + (dns_us >= 2097152) + (dns_us >= 268435456)))
    || substr(printf('%02X%02X%02X%02X%02X',
            (connect_us & 127) | (connect_us >= 128) * 128,
            ((connect_us >> 7) & 127) | (connect_us >= 16384) * 128,
            ((connect_us >> 14) & 127) | (connect_us >= 2097152) * 128,
            ((connect_us >> 21) & 127) | (connect_us >= 268435456) * 128,
            (connect_us >> 28) & 127),
        1, 2 + 2 * ((connect_us >= 128) + (connect_us >= 16384) + (connect_us >= 2097152) + (connect_us >= 268435456)))
    || substr(printf('%02X%02X%02X%02X%02X',
            (tls_us & 127) | (tls_us >= 128) * 128,
            ((tls_us >> 7) & 127) | (tls_us >= 16384) * 128,
            ((tls_us >> 14) & 127) | (tls_us >= 2097152) * 128,
            ((tls_us >> 21) & 127) | (tls_us >= 268435456) * 128,
            (tls_us >> 28) & 127),
        1, 2 + 2 * ((tls_us >= 128) + (tls_us >= 16384) + (tls_us >= 2097152) + (tls_us >= 268435456)))
    || substr(printf('%02X%02X%02X%02X%02X',
            (ttfb_us & 127) | (ttfb_us >= 128) * 128,
            ((ttfb_us >> 7) & 127) | (ttfb_us >= 16384) * 128,
            ((ttfb_us >> 14) & 127) | (ttfb_us >= 2097152) * 128,
            ((ttfb_us >> 21) & 127) | (ttfb_us >= 268435456) * 128,
            (ttfb_us >> 28) & 127),
        1, 2 + 2 * ((ttfb_us >= 128) + (ttfb_us >= 16384) + (ttfb_us >= 2097152) + (ttfb_us >= 268435456)))
    || substr(printf('%02X%02X%02X%02X%02X',
            (transfer_us & 127) | (transfer_us >= 128) * 128,
            ((transfer_us >> 7) & 127) | (transfer_us >= 16384) * 128,
            ((transfer_us >> 14) & 127) | (transfer_us >= 2097152) * 128,
            ((transfer_us >> 21) & 127) | (transfer_us >= 268435456) * 128,
            (transfer_us >> 28) & 127),
        1, 2 + 2 * ((transfer_us >= 128) + (transfer_us >= 16384) + (transfer_us >= 2097152) + (transfer_us >= 268435456))))
FROM (SELECT monitor_id, at_ms, cause, flags,
        max(0, min(COALESCE(status, 0), 2147483647)) AS status,
        max(0, min(latency_us, 2147483647)) AS latency_us,
        max(0, min(dns_us, 2147483647)) AS dns_us,
        max(0, min(connect_us, 2147483647)) AS connect_us,
        max(0, min(tls_us, 2147483647)) AS tls_us,
        max(0, min(ttfb_us, 2147483647)) AS ttfb_us,
        max(0, min(transfer_us, 2147483647)) AS transfer_us
    FROM checks);

DROP TABLE checks;
ALTER TABLE checks_packed RENAME TO checks;
