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
-- written in hex, byte by byte, and the hex made bytes: byte k holds bits
-- 7k to 7k + 6, plus 128 on every byte but the last. One printf a value,
-- of as many bytes as it takes, is the cheapest form found (about 3 s a
-- million checks; five bytes always, then cut, took three times that).
INSERT INTO checks_packed (monitor_id, at_ms, cause, flags, timings)
SELECT monitor_id, at_ms, cause, flags, unhex(
    CASE WHEN status < 128 THEN printf('%02X', status)
        WHEN status < 16384 THEN printf('%02X%02X', (status & 127) | 128, status >> 7)
        WHEN status < 2097152 THEN printf('%02X%02X%02X', (status & 127) | 128, ((status >> 7) & 127) | 128, status >> 14)
        WHEN status < 268435456 THEN printf('%02X%02X%02X%02X', (status & 127) | 128, ((status >> 7) & 127) | 128, ((status >> 14) & 127) | 128, status >> 21)
        ELSE printf('%02X%02X%02X%02X%02X', (status & 127) | 128, ((status >> 7) & 127) | 128, ((status >> 14) & 127) | 128, ((status >> 21) & 127) | 128, status >> 28) END
    || CASE WHEN latency_us < 128 THEN printf('%02X', latency_us)
        WHEN latency_us < 16384 THEN printf('%02X%02X', (latency_us & 127) | 128, latency_us >> 7)
        WHEN latency_us < 2097152 THEN printf('%02X%02X%02X', (latency_us & 127) | 128, ((latency_us >> 7) & 127) | 128, latency_us >> 14)
        WHEN latency_us < 268435456 THEN printf('%02X%02X%02X%02X', (latency_us & 127) | 128, ((latency_us >> 7) & 127) | 128, ((latency_us >> 14) & 127) | 128, latency_us >> 21)
        ELSE printf('%02X%02X%02X%02X%02X', (latency_us & 127) | 128, ((latency_us >> 7) & 127) | 128, ((latency_us >> 14) & 127) | 128, ((latency_us >> 21) & 127) | 128, latency_us >> 28) END
    || CASE WHEN dns_us < 128 THEN printf('%02X', dns_us)
        WHEN dns_us < 16384 THEN printf('%02X%02X', (dns_us & 127) | 128, dns_us >> 7)
        WHEN dns_us < 2097152 THEN printf('%02X%02X%02X', (dns_us & 127) | 128, ((dns_us >> 7) & 127) | 128, dns_us >> 14)
        WHEN dns_us < 268435456 THEN printf('%02X%02X%02X%02X', (dns_us & 127) | 128, ((dns_us >> 7) & 127) | 128, ((dns_us >> 14) & 127) | 128, dns_us >> 21)
        ELSE printf('%02X%02X%02X%02X%02X', (dns_us & 127) | 128, ((dns_us >> 7) & 127) | 128, ((dns_us >> 14) & 127) | 128, ((dns_us >> 21) & 127) | 128, dns_us >> 28) END
    || CASE WHEN connect_us < 128 THEN printf('%02X', connect_us)
        WHEN connect_us < 16384 THEN printf('%02X%02X', (connect_us & 127) | 128, connect_us >> 7)
        WHEN connect_us < 2097152 THEN printf('%02X%02X%02X', (connect_us & 127) | 128, ((connect_us >> 7) & 127) | 128, connect_us >> 14)
        WHEN connect_us < 268435456 THEN printf('%02X%02X%02X%02X', (connect_us & 127) | 128, ((connect_us >> 7) & 127) | 128, ((connect_us >> 14) & 127) | 128, connect_us >> 21)
        ELSE printf('%02X%02X%02X%02X%02X', (connect_us & 127) | 128, ((connect_us >> 7) & 127) | 128, ((connect_us >> 14) & 127) | 128, ((connect_us >> 21) & 127) | 128, connect_us >> 28) END
    || CASE WHEN tls_us < 128 THEN printf('%02X', tls_us)
        WHEN tls_us < 16384 THEN printf('%02X%02X', (tls_us & 127) | 128, tls_us >> 7)
        WHEN tls_us < 2097152 THEN printf('%02X%02X%02X', (tls_us & 127) | 128, ((tls_us >> 7) & 127) | 128, tls_us >> 14)
        WHEN tls_us < 268435456 THEN printf('%02X%02X%02X%02X', (tls_us & 127) | 128, ((tls_us >> 7) & 127) | 128, ((tls_us >> 14) & 127) | 128, tls_us >> 21)
        ELSE printf('%02X%02X%02X%02X%02X', (tls_us & 127) | 128, ((tls_us >> 7) & 127) | 128, ((tls_us >> 14) & 127) | 128, ((tls_us >> 21) & 127) | 128, tls_us >> 28) END
    || CASE WHEN ttfb_us < 128 THEN printf('%02X', ttfb_us)
        WHEN ttfb_us < 16384 THEN printf('%02X%02X', (ttfb_us & 127) | 128, ttfb_us >> 7)
        WHEN ttfb_us < 2097152 THEN printf('%02X%02X%02X', (ttfb_us & 127) | 128, ((ttfb_us >> 7) & 127) | 128, ttfb_us >> 14)
        WHEN ttfb_us < 268435456 THEN printf('%02X%02X%02X%02X', (ttfb_us & 127) | 128, ((ttfb_us >> 7) & 127) | 128, ((ttfb_us >> 14) & 127) | 128, ttfb_us >> 21)
        ELSE printf('%02X%02X%02X%02X%02X', (ttfb_us & 127) | 128, ((ttfb_us >> 7) & 127) | 128, ((ttfb_us >> 14) & 127) | 128, ((ttfb_us >> 21) & 127) | 128, ttfb_us >> 28) END
    || CASE WHEN transfer_us < 128 THEN printf('%02X', transfer_us)
        WHEN transfer_us < 16384 THEN printf('%02X%02X', (transfer_us & 127) | 128, transfer_us >> 7)
        WHEN transfer_us < 2097152 THEN printf('%02X%02X%02X', (transfer_us & 127) | 128, ((transfer_us >> 7) & 127) | 128, transfer_us >> 14)
        WHEN transfer_us < 268435456 THEN printf('%02X%02X%02X%02X', (transfer_us & 127) | 128, ((transfer_us >> 7) & 127) | 128, ((transfer_us >> 14) & 127) | 128, transfer_us >> 21)
        ELSE printf('%02X%02X%02X%02X%02X', (transfer_us & 127) | 128, ((transfer_us >> 7) & 127) | 128, ((transfer_us >> 14) & 127) | 128, ((transfer_us >> 21) & 127) | 128, transfer_us >> 28) END)
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
