#!/usr/bin/env python3
"""What the packed SQLite row saves per healthy check.

Writes the same loopback-like healthy checks (status 200, a ~1 ms latency,
connect, first byte and transfer phases, no DNS or TLS phase) into two
tables of one SQLite file, in the daemon's order (every monitor's check of a
tick, then the next tick; a transaction per 100 ticks):

- `wide`: the `checks` table as migrations/sqlite laid it out before
  migration 0008, a column per value;
- `packed`: the layout since (src/store/check_rows.rs): key, cause and flags
  as columns (thinning reads those two), and status, latency and the five
  phases as one blob of LEB128 values.

Prints bytes per check of each as written and after VACUUM (`dbstat`).

    bench/packed_row.py --monitors 200 --ticks 1440
"""

import argparse
import os
import random
import sqlite3
import tempfile

WIDE = """CREATE TABLE wide (
    monitor_id INTEGER NOT NULL, at_ms INTEGER NOT NULL, cause INTEGER NOT NULL,
    status INTEGER, latency_us INTEGER NOT NULL, dns_us INTEGER NOT NULL,
    connect_us INTEGER NOT NULL, tls_us INTEGER NOT NULL, ttfb_us INTEGER NOT NULL,
    transfer_us INTEGER NOT NULL, flags INTEGER NOT NULL,
    PRIMARY KEY (monitor_id, at_ms)) WITHOUT ROWID"""

PACKED = """CREATE TABLE packed (
    monitor_id INTEGER NOT NULL, at_ms INTEGER NOT NULL, cause INTEGER NOT NULL,
    flags INTEGER NOT NULL, timings BLOB NOT NULL,
    PRIMARY KEY (monitor_id, at_ms)) WITHOUT ROWID"""


def leb128(value):
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def per_check(db, table, checks):
    row = db.execute("SELECT SUM(pgsize), SUM(payload), SUM(unused) FROM dbstat WHERE name = ?",
                     (table,)).fetchone()
    return tuple(value / checks for value in row)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--monitors", type=int, default=200)
    parser.add_argument("--ticks", type=int, default=1440, help="checks per monitor, 10 s apart")
    args = parser.parse_args()
    rng = random.Random(1)
    folder = tempfile.mkdtemp(prefix="hopwatch-packed-")
    path = os.path.join(folder, "rows.db")
    db = sqlite3.connect(path)
    db.execute(WIDE)
    db.execute(PACKED)
    start_ms = 1_764_547_200_000
    for tick in range(args.ticks):
        wide, packed = [], []
        for monitor in range(1, args.monitors + 1):
            at_ms = start_ms + tick * 10_000 + monitor * 37
            connect, ttfb, transfer = rng.randint(80, 200), rng.randint(600, 1200), rng.randint(20, 80)
            latency = connect + ttfb + transfer + rng.randint(5, 40)
            values = (200, latency, 0, connect, 0, ttfb, transfer)
            wide.append((monitor, at_ms, 0, *values, 0))
            packed.append((monitor, at_ms, 0, 0, b"".join(leb128(v) for v in values)))
        db.executemany("INSERT INTO wide VALUES (?,?,?,?,?,?,?,?,?,?,?)", wide)
        db.executemany("INSERT INTO packed VALUES (?,?,?,?,?)", packed)
        if tick % 100 == 99:
            db.commit()
    db.commit()
    checks = args.monitors * args.ticks
    print(f"{checks} checks ({args.monitors} monitors x {args.ticks}) in each table")
    for stage in ("as written", "after VACUUM"):
        if stage == "after VACUUM":
            db.execute("VACUUM")
        for table in ("wide", "packed"):
            size, payload, unused = per_check(db, table, checks)
            print(f"  {table:7} {stage:13} {size:5.1f} B a check (payload {payload:.1f}, unused {unused:.1f})")
    db.close()
    os.remove(path)
    os.rmdir(folder)


if __name__ == "__main__":
    main()
