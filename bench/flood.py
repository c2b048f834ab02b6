#!/usr/bin/env python3
"""A crowd on the status page while checks run: does it delay them?

Starts nginx on loopback as the target, runs `hopwatch run` with N http
monitors, measures a quiet window, then floods one path with wrk (64
connections, `Accept-Encoding: gzip, br`) for the same length and measures
again: checks done vs due, p99 scheduler lateness (histogram bucket bounds),
requests/s and bytes per answer. With --half-open K it also opens K
connections that send half a request head and stop, and reports how many
the daemon closed within 60 s while /healthz kept answering.

    bench/flood.py --monitors 2000 --interval 10s --path / --duration 20
"""

import argparse
import os
import re
import resource
import signal
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the shared helpers of the load benchmark)


def delta(before, after):
    """Checks done and the lateness histogram between two scrapes."""
    checks = bench.counter_sum(after, "hopwatch_checks_total") - bench.counter_sum(before, "hopwatch_checks_total")
    first = dict(bench.histogram(before, "hopwatch_scheduler_lateness_seconds"))
    late = [(b, c - first.get(b, 0)) for b, c in bench.histogram(after, "hopwatch_scheduler_lateness_seconds")]
    return checks, late


def answer_bytes(port, path):
    """Bytes of one answer, identity and compressed as wrk asks."""
    sizes = {}
    for encoding in ("identity", "gzip, br"):
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Accept-Encoding": encoding})
        with urllib.request.urlopen(request, timeout=30) as r:
            sizes[encoding] = (len(r.read()), r.headers.get("Content-Encoding") or "identity")
    return sizes


def flood(port, path, seconds, connections):
    """Runs wrk against the path; returns (requests/s, timeouts, wrk's text)."""
    wrk = bench.find("wrk")
    out = subprocess.run(
        [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
         "-H", "Accept-Encoding: gzip, br", f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    timeouts = re.search(r"timeout (\d+)", out)
    return rps, int(timeouts.group(1)) if timeouts else 0, out


def healthz(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


def half_open(port, count, limit_s=60):
    """Opens `count` half-sent requests; (closed by the server, seconds, healthz misses)."""
    socks = []
    for _ in range(count):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            s.setblocking(False)
            socks.append(s)
        except OSError:
            break
    start, misses = time.monotonic(), 0
    open_socks = list(socks)
    while open_socks and time.monotonic() - start < limit_s:
        still = []
        for s in open_socks:
            try:
                if s.recv(1024) == b"":
                    s.close()
                    continue
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                continue
            still.append(s)
        open_socks = still
        misses += 0 if healthz(port) else 1
        time.sleep(0.5)
    for s in open_socks:
        s.close()
    return len(socks) - len(open_socks), time.monotonic() - start, misses


def ms(buckets, q):
    return f"{bench.quantile(buckets, q) * 1000:g} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--monitors", type=int, default=2000)
    parser.add_argument("--interval", default="10s")
    parser.add_argument("--path", action="append", help="path to flood (repeatable; default /)")
    parser.add_argument("--duration", type=int, default=20, help="seconds per window")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--half-open", type=int, default=0, help="half-sent requests to open at the end")
    parser.add_argument("--binary", default=os.path.join(bench.ROOT, "target", "release", "hopwatch"))
    args = parser.parse_args()
    paths = args.path or ["/"]
    # Half-open clients and wrk's connections are this process's files too.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    if not os.access(args.binary, os.X_OK):
        sys.exit(f"{args.binary} missing: cargo build --release")
    interval_s = float(re.match(r"(\d+(?:\.\d+)?)s$", args.interval).group(1))
    workdir = tempfile.mkdtemp(prefix="hopwatch-flood-")
    nginx, target = bench.start_nginx(workdir)
    web = bench.free_port()
    config = bench.write_config(workdir, web, target, args.monitors, args.interval, groups=40)
    env = dict(os.environ, RUST_LOG="warn")
    daemon = subprocess.Popen([args.binary, "run", "-c", config], env=env, stdout=subprocess.DEVNULL,
                              stderr=open(os.path.join(workdir, "daemon.log"), "w"))
    try:
        bench.wait_port(web, tries=600)
        time.sleep(interval_s + 2)
        before, t0 = bench.scrape(web), time.monotonic()
        time.sleep(args.duration)
        checks, late = delta(before, bench.scrape(web))
        due = args.monitors / interval_s * (time.monotonic() - t0)
        print(f"monitors          {args.monitors} every {args.interval}; windows of {args.duration} s")
        print(f"quiet             {checks:.0f} / {due:.0f} checks due, lateness p50 <= {ms(late, 0.5)}, p99 <= {ms(late, 0.99)}")
        for path in paths:
            sizes = answer_bytes(web, path)
            # /metrics is itself a snapshot up to 1 s old: scrape only when
            # the last one is older than that, and count what is due over
            # the time between the two scrapes.
            time.sleep(1.5)
            before, t0 = bench.scrape(web), time.monotonic()
            rps, timeouts, _ = flood(web, path, args.duration, args.connections)
            time.sleep(1.5)
            checks, late = delta(before, bench.scrape(web))
            due = args.monitors / interval_s * (time.monotonic() - t0)
            size = ", ".join(f"{n} B {enc}" for n, enc in sizes.values())
            print(f"flood {path:<12}{rps:.0f} req/s ({timeouts} timeouts), answer {size}; "
                  f"{checks:.0f} / {due:.0f} checks due, lateness p99 <= {ms(late, 0.99)}")
        if args.half_open:
            closed, took, misses = half_open(web, args.half_open)
            print(f"half-open         {closed} of {args.half_open} closed by the server in {took:.0f} s; "
                  f"/healthz missed {misses} times")
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)
        nginx.terminate()
        nginx.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
