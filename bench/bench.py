#!/usr/bin/env python3
"""Load benchmark for the hopwatch daemon.

Starts nginx on loopback as the target, runs `hopwatch run` with N generated
HTTP monitors, samples the daemon's CPU and memory from /proc, reads the
scheduler lateness histogram from /metrics, stops it with SIGTERM and
measures the database. Prints one summary; see BENCHMARKS.md.

    bench/bench.py --monitors 10000 --interval 10s --duration 300
"""

import argparse
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find(cmd):
    for folder in os.environ.get("PATH", "").split(":") + ["/usr/sbin", "/usr/local/sbin"]:
        path = os.path.join(folder, cmd)
        if os.access(path, os.X_OK):
            return path
    sys.exit(f"{cmd} not found: run scripts/test once to install it")


def wait_port(port, tries=100):
    for _ in range(tries):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"nothing listens on port {port}")


def start_nginx(workdir, log=None):
    """nginx on a free port answering 200 to everything; with `log`, one
    line per request in that file: its time and its User-Agent."""
    port = free_port()
    conf = os.path.join(workdir, "nginx.conf")
    access = (f"log_format bench '$msec \"$http_user_agent\"'; access_log {log} bench buffer=64k flush=1s;"
              if log else "access_log off;")
    with open(conf, "w") as f:
        f.write(f"""
daemon off; master_process on; worker_processes 1; pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  {access} keepalive_timeout 0;
  client_body_temp_path {workdir}; proxy_temp_path {workdir};
  fastcgi_temp_path {workdir}; uwsgi_temp_path {workdir}; scgi_temp_path {workdir};
  server {{ listen 127.0.0.1:{port} backlog=4096; location / {{ return 200 "ok\\n"; }} }}
}}
""")
    proc = subprocess.Popen([find("nginx"), "-c", conf, "-p", workdir],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc, port


def write_config(workdir, web, target, monitors, interval, groups=0):
    """A config with `monitors` http monitors of the nginx target; with
    `groups`, the monitors are spread over that many groups."""
    config = os.path.join(workdir, "hopwatch.yaml")
    with open(config, "w") as f:
        f.write(f"server: {{ listen: 127.0.0.1:{web}, max_concurrent_checks: 256 }}\n")
        f.write(f"storage: {{ path: {workdir}/hopwatch.db }}\n")
        # A check may not outlast its interval.
        timeout = interval if float(interval.rstrip("s")) < 5 else "5s"
        f.write(f"defaults: {{ interval: {interval}, timeout: {timeout} }}\nmonitors:\n")
        for i in range(monitors):
            group = f", group: g{i % groups}" if groups else ""
            f.write(f"  - {{ name: m{i}{group}, url: 'http://127.0.0.1:{target}/m{i}' }}\n")
    return config


def start_daemon(binary, config, workdir, extra_env=()):
    """`hopwatch run` on the config, logging warnings to daemon.log."""
    env = dict(os.environ, RUST_LOG="warn")
    env.update(extra_env)
    return subprocess.Popen([binary, "run", "-c", config], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(workdir, "daemon.log"), "w"))


def db_figures(db):
    """(file bytes with its WAL, stored checks, bytes of the checks table or None)."""
    db_bytes = sum(os.path.getsize(p) for p in (db, db + "-wal") if os.path.exists(p))
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT COUNT(*) FROM checks").fetchone()[0]
        checks_bytes = None
        try:
            checks_bytes = conn.execute("SELECT SUM(pgsize) FROM dbstat WHERE name = 'checks'").fetchone()[0]
        except sqlite3.Error:
            pass
    return db_bytes, rows, checks_bytes


def cpu_ticks(pid):
    """(user, system) clock ticks of the whole process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def context_switches(pid):
    """Voluntary + involuntary context switches summed over the process's threads."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/status") as f:
                for line in f:
                    if "ctxt_switches:" in line:
                        total += int(line.split()[1])
        except OSError:
            pass  # a thread that ended between the listing and the read
    return total


def thread_ticks(pid):
    """User + system clock ticks by thread name (threads of one name summed)."""
    ticks = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/stat") as f:
                head, rest = f.read().rsplit(")", 1)
        except OSError:
            continue  # a thread that ended between the listing and the read
        name = head.split("(", 1)[1]
        fields = rest.split()
        ticks[name] = ticks.get(name, 0) + int(fields[11]) + int(fields[12])
    return ticks


def rss_kib(pid, field):
    """VmHWM (peak) or VmRSS (now) of the process, KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


def histogram(text, name):
    buckets = []
    for m in re.finditer(rf'^{name}_bucket{{le="([^"]+)"}} (\S+)$', text, re.M):
        bound = float("inf") if m.group(1) == "+Inf" else float(m.group(1))
        buckets.append((bound, float(m.group(2))))
    return sorted(buckets)


def quantile(buckets, q):
    if not buckets or buckets[-1][1] == 0:
        return float("nan")
    rank = q * buckets[-1][1]
    for bound, count in buckets:
        if count >= rank:
            return bound
    return float("inf")


def counter_sum(text, name):
    return sum(float(v) for v in re.findall(rf"^{name}{{[^}}]*}} (\S+)$", text, re.M))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--interval", default="10s")
    parser.add_argument("--duration", type=int, default=60, help="seconds measured after warm-up")
    parser.add_argument("--warmup", type=int, default=None, help="seconds before measuring (default: one interval)")
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "hopwatch"))
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--env", action="append", default=[], help="extra VAR=value for the daemon")
    args = parser.parse_args()

    if not os.access(args.binary, os.X_OK):
        sys.exit(f"{args.binary} missing: cargo build --release")
    interval_s = float(re.match(r"(\d+(?:\.\d+)?)s$", args.interval).group(1))
    warmup = args.warmup if args.warmup is not None else int(interval_s) + 2
    workdir = tempfile.mkdtemp(prefix="hopwatch-bench-")
    nginx, target = start_nginx(workdir)
    web = free_port()
    config = write_config(workdir, web, target, args.monitors, args.interval)
    daemon = start_daemon(args.binary, config, workdir, dict(kv.split("=", 1) for kv in args.env))
    try:
        wait_port(web, tries=600)
        time.sleep(warmup)
        # Before the first scrape: the start and the first interval only.
        start_hwm, start_rss = rss_kib(daemon.pid, "VmHWM"), rss_kib(daemon.pid, "VmRSS")
        before = scrape(web)
        ticks0, t0, cs0 = cpu_ticks(daemon.pid), time.monotonic(), context_switches(daemon.pid)
        threads0 = thread_ticks(daemon.pid)
        time.sleep(args.duration)
        # The window holds one scrape of /metrics, as the counters' window
        # does: both start after the first and end after the second.
        after = scrape(web)
        ticks1, t1, cs1 = cpu_ticks(daemon.pid), time.monotonic(), context_switches(daemon.pid)
        threads1 = thread_ticks(daemon.pid)
        rss = rss_kib(daemon.pid, "VmHWM")
        rss_now = rss_kib(daemon.pid, "VmRSS")
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=120)
        nginx.terminate()
        nginx.wait()

    elapsed = t1 - t0
    checks = counter_sum(after, "hopwatch_checks_total") - counter_sum(before, "hopwatch_checks_total")
    healthy = (sum(float(v) for v in re.findall(r'^hopwatch_checks_total{[^}]*cause="ok"[^}]*} (\S+)$', after, re.M))
               - sum(float(v) for v in re.findall(r'^hopwatch_checks_total{[^}]*cause="ok"[^}]*} (\S+)$', before, re.M)))
    late_before = dict(histogram(before, "hopwatch_scheduler_lateness_seconds"))
    late = [(b, c - late_before.get(b, 0)) for b, c in histogram(after, "hopwatch_scheduler_lateness_seconds")]
    hz = os.sysconf("SC_CLK_TCK")
    user_ms = (ticks1[0] - ticks0[0]) * 1000 / hz
    system_ms = (ticks1[1] - ticks0[1]) * 1000 / hz
    cpu_ms = user_ms + system_ms
    db_bytes, rows, checks_bytes = db_figures(os.path.join(workdir, "hopwatch.db"))
    due = args.monitors / interval_s
    print(f"monitors            {args.monitors} every {args.interval} (due {due:.0f} checks/s)")
    print(f"measured            {elapsed:.0f} s after {warmup} s warm-up")
    print(f"checks/s            {checks / elapsed:.0f} achieved vs {due:.0f} due ({healthy / max(checks, 1):.1%} healthy)")
    per_1000 = lambda ms: ms / max(checks, 1) * 1000
    print(f"CPU per 1,000       {per_1000(cpu_ms):.0f} ms ({per_1000(user_ms):.0f} user + {per_1000(system_ms):.0f} kernel;"
          " whole process, storage included)")
    by_thread = sorted(((threads1[n] - threads0.get(n, 0)) * 1000 / hz, n) for n in threads1)
    print("CPU by thread       " + ", ".join(f"{n} {per_1000(ms):.0f} ms" for ms, n in reversed(by_thread) if per_1000(ms) >= 0.5)
          + " per 1,000 checks (threads of one name summed)")
    print(f"wake-ups per check  {(cs1 - cs0) / max(checks, 1):.2f} context switches ({(cs1 - cs0) / elapsed:.0f}/s, all threads)")
    print(f"lateness            p50 <= {quantile(late, 0.5) * 1000:g} ms, p99 <= {quantile(late, 0.99) * 1000:g} ms (histogram bucket bounds)")
    print(f"peak RSS            {rss / 1024:.0f} MiB (at the end: {rss_now / 1024:.0f} MiB)")
    print(f"RSS before scrapes  {start_rss / 1024:.0f} MiB (peak through the start and warm-up: {start_hwm / 1024:.0f} MiB)")
    print(f"DB bytes per check  {db_bytes / max(rows, 1):.1f} (file {db_bytes / 1e6:.1f} MB, {rows} rows)"
          + (f"; checks table alone {checks_bytes / max(rows, 1):.1f}" if checks_bytes else ""))
    print(f"exit code           {code}")
    if args.keep:
        print(f"work folder         {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
