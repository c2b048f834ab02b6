#!/usr/bin/env python3
"""Scheduler lateness while thinning works through a backlog.

Seeds a database with days of checks for the monitors `bench/bench.py`
runs (`m0`, `m1`...), every one kept (`cargo bench --bench month` with
`HOPWATCH_MONTH_KEEP=off`, ending at this hour), then runs the daemon on a
copy of it twice, with `storage.keep_healthy: off` and with the default, and
prints the lateness of each run and what the run thinned. Thinning's first
run starts with the daemon, so it works through the backlog while the
lateness is measured. See BENCHMARKS.md, "Storage over a month".

    bench/thinning.py --monitors 1000 --days 3 --duration 120
"""

import argparse
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the daemon start, nginx, /metrics parsing)

HOUR_MS = 3_600_000


def seed(path, monitors, days):
    env = dict(os.environ, HOPWATCH_MONTH_MONITORS=str(monitors), HOPWATCH_MONTH_DAYS=str(days),
               HOPWATCH_MONTH_KEEP="off", HOPWATCH_MONTH_PREFIX="m", HOPWATCH_MONTH_END="now",
               HOPWATCH_MONTH_DB=path)
    subprocess.run(["cargo", "bench", "--bench", "month"], cwd=bench.ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def plain(text, name):
    """The value of a metric without labels."""
    found = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def old_checks(db, before_ms):
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM checks WHERE at_ms < ?", (before_ms,)).fetchone()[0]


def run(args, seeded, keep, workdir):
    folder = os.path.join(workdir, keep)
    os.makedirs(folder)
    db = os.path.join(folder, "hopwatch.db")
    shutil.copyfile(seeded, db)
    nginx, target = bench.start_nginx(folder)
    web = bench.free_port()
    config = bench.write_config(folder, web, target, args.monitors, args.interval)
    with open(config) as f:
        text = f.read()
    line = f"storage: {{ path: {folder}/hopwatch.db }}"
    assert line in text, "bench.write_config's storage line changed"
    setting = "off" if keep == "off" else "{ after: 48h, every: 5m }"
    with open(config, "w") as f:
        f.write(text.replace(line, line[:-2] + f", keep_healthy: {setting} }}"))
    cutoff = (int(time.time() * 1000) - 48 * HOUR_MS) // HOUR_MS * HOUR_MS
    before_rows = old_checks(db, cutoff)
    daemon = bench.start_daemon(args.binary, config, folder, {"RUST_LOG": "info"})
    try:
        bench.wait_port(web, tries=600)
        first = bench.scrape(web)
        time.sleep(args.duration)
        last = bench.scrape(web)
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=120)
        nginx.terminate()
        nginx.wait()
    counts = dict(bench.histogram(first, "hopwatch_scheduler_lateness_seconds"))
    late = [(b, c - counts.get(b, 0)) for b, c in bench.histogram(last, "hopwatch_scheduler_lateness_seconds")]
    checks = bench.counter_sum(last, "hopwatch_checks_total") - bench.counter_sum(first, "hopwatch_checks_total")
    written = plain(last, "hopwatch_store_rows_written_total") - plain(first, "hopwatch_store_rows_written_total")
    after_rows = old_checks(db, cutoff)
    with open(os.path.join(folder, "daemon.log")) as f:
        thinned = [line.strip() for line in f if "thinning" in line]
    print(f"keep_healthy {keep}")
    print(f"  checks/s           {checks / args.duration:.0f} (rows written {written:.0f})")
    print(f"  lateness           p50 <= {bench.quantile(late, 0.5) * 1000:g} ms, "
          f"p99 <= {bench.quantile(late, 0.99) * 1000:g} ms, "
          f"p99.9 <= {bench.quantile(late, 0.999) * 1000:g} ms (bucket bounds)")
    print(f"  checks past 48 h   {before_rows} -> {after_rows}")
    for line in thinned:
        print(f"  log                {line[-160:]}")
    print(f"  exit code          {code}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--interval", default="10s")
    parser.add_argument("--days", type=int, default=3, help="days of history to seed (more than 2)")
    parser.add_argument("--duration", type=int, default=120, help="seconds measured from the start")
    parser.add_argument("--seed", help="an existing seeded database (else one is made)")
    parser.add_argument("--binary", default=os.path.join(bench.ROOT, "target", "release", "hopwatch"))
    args = parser.parse_args()
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"{args.binary} missing: cargo build --release")
    workdir = tempfile.mkdtemp(prefix="hopwatch-thinning-")
    try:
        seeded = args.seed or os.path.join(workdir, "seed.db")
        if not args.seed:
            seed(seeded, args.monitors, args.days)
        for keep in ("off", "on"):
            run(args, seeded, keep, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
