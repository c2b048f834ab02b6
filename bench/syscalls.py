#!/usr/bin/env python3
"""The kernel share of a check, taken apart: system calls per check by name.

Starts nginx on loopback (logging each request's time and User-Agent), runs
`hopwatch run` with N http monitors, waits one interval, then traces every
thread of the daemon with `strace -f -ttt` for a window. Calls are counted
inside the window to the microsecond and divided by the checks nginx logged
in the same window. Before tracing, an untraced window gives each thread's
CPU and context switches per check. Prints calls per check by name and by thread (the checks
thread, SQLite's workers, the web threads), then the arguments that tell
calls of one name apart (socket options, epoll operations, futex kinds).

    bench/syscalls.py --monitors 1000 --interval 10s --duration 30

strace stops the daemon at every call, so time figures under it mean
nothing; counts do not depend on it. Timestamps come from the machine's
clock, as nginx's do.
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the shared helpers of the load benchmark)

CALL = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(\w+)\((.*)$")
# A call's end: its own line, or the line where an interrupted one resumes.
RETURN = re.compile(r"^\d+\s+(\d+\.\d+)\s+(?:<\.\.\. )?(\w+)(?: resumed>|\().*\)\s+= (\d+)$")
# File I/O whose bytes are worth counting: SQLite's pages.
BYTES = ("pwrite64", "pread64")
# Calls whose arguments say which of several things they do.
DETAIL = {
    "setsockopt": lambda a: ", ".join(a[1:3]),
    "getsockopt": lambda a: ", ".join(a[1:3]),
    "epoll_ctl": lambda a: a[1],
    "futex": lambda a: a[1],
    "fcntl": lambda a: a[1],
    "shutdown": lambda a: a[1],
    "ioctl": lambda a: a[1],
}


def role(comm):
    """A thread's part in the daemon, from its name."""
    if comm.startswith("sqlx-sqlite"):
        return "sqlite"
    if comm.startswith("hopwatch-web"):
        return "web"
    if comm == "hopwatch":
        return "checks"
    return comm


def threads(pid):
    names = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                names[int(tid)] = f.read().strip()
        except OSError:
            pass
    return names


def per_thread(pid):
    """{role: [CPU ticks, context switches]} summed over the daemon's threads."""
    figures = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                where = role(f.read().strip())
            ticks = sum(bench.cpu_ticks(f"{pid}/task/{tid}"))
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                switches = sum(int(line.split()[1]) for line in f if "ctxt_switches" in line)
        except OSError:
            continue
        slot = figures.setdefault(where, [0, 0])
        slot[0], slot[1] = slot[0] + ticks, slot[1] + switches
    return figures


def untraced(before, after, checks):
    """CPU and wake-ups per check by thread, measured without strace."""
    hz = os.sysconf("SC_CLK_TCK")
    print(f"Untraced, {checks} checks: CPU and context switches (each one a sleep and a wake-up) per check\n")
    print("| thread | CPU per check | switches per check |")
    print("| --- | --- | --- |")
    for where, (ticks, switches) in sorted(after.items(), key=lambda kv: -kv[1][0]):
        ticks0, switches0 = before.get(where, (0, 0))
        print(f"| {where} | {(ticks - ticks0) / hz * 1e6 / max(checks, 1):.0f} µs "
              f"| {(switches - switches0) / max(checks, 1):.2f} |")
    print()


def parse(path, t0, t1, names):
    """Counts of (thread role, call, detail) started inside [t0, t1), and
    bytes moved by the calls in BYTES."""
    counts, moved = {}, {}
    with open(path, errors="replace") as f:
        for line in f:
            end = RETURN.match(line)
            if end and end.group(2) in BYTES and t0 <= float(end.group(1)) < t1:
                moved[end.group(2)] = moved.get(end.group(2), 0) + int(end.group(3))
            m = CALL.match(line)
            if not m or not t0 <= float(m.group(2)) < t1:
                continue
            tid, call, args = int(m.group(1)), m.group(3), m.group(4)
            detail = ""
            if call in DETAIL:
                args = re.sub(r"\)\s*=.*$|\s*<unfinished.*$", "", args)
                detail = DETAIL[call]([a.strip() for a in args.split(",")] + ["", "", ""])
            key = (role(names.get(tid, "?")), call, detail)
            counts[key] = counts.get(key, 0) + 1
    return counts, moved


def checks_logged(path, t0, t1):
    count = 0
    with open(path) as f:
        for line in f:
            stamp, _, agent = line.partition(" ")
            if agent.startswith('"hopwatch/') and t0 <= float(stamp) < t1:
                count += 1
    return count


def report(counts, moved, checks):
    per = lambda n: n / max(checks, 1)  # noqa: E731
    by_call, by_role = {}, {}
    for (where, call, _), n in counts.items():
        by_call.setdefault(call, {}).setdefault(where, 0)
        by_call[call][where] += n
        by_role[where] = by_role.get(where, 0) + n
    total = sum(by_role.values())
    print(f"{checks} checks in the window; {total} calls, {per(total):.2f} per check\n")
    print("| call | per check | by thread |")
    print("| --- | --- | --- |")
    for call, where in sorted(by_call.items(), key=lambda kv: -sum(kv[1].values())):
        n = sum(where.values())
        split = ", ".join(f"{w} {per(c):.2f}" for w, c in sorted(where.items(), key=lambda kv: -kv[1]))
        print(f"| {call} | {per(n):.2f} | {split} |")
    print("\n| thread | calls per check |")
    print("| --- | --- |")
    for where, n in sorted(by_role.items(), key=lambda kv: -kv[1]):
        print(f"| {where} | {per(n):.2f} |")
    for call, n in sorted(moved.items()):
        print(f"\n{call}: {n / max(checks, 1):,.0f} bytes per check", end="")
    print("\n\n| call, argument | thread | per check |")
    print("| --- | --- | --- |")
    for (where, call, detail), n in sorted(counts.items(), key=lambda kv: -kv[1]):
        if detail:
            print(f"| {call} {detail} | {where} | {per(n):.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--interval", default="10s")
    parser.add_argument("--duration", type=int, default=30, help="seconds traced and counted")
    parser.add_argument("--untraced", type=int, default=20, help="seconds measured before tracing")
    parser.add_argument("--warmup", type=int, default=None, help="seconds before tracing (default: one interval)")
    parser.add_argument("--binary", default=os.path.join(bench.ROOT, "target", "release", "hopwatch"))
    parser.add_argument("--keep", action="store_true", help="keep the work folder (and the trace)")
    args = parser.parse_args()
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"{args.binary} missing: cargo build --release")
    interval_s = float(re.match(r"(\d+(?:\.\d+)?)s$", args.interval).group(1))
    warmup = args.warmup if args.warmup is not None else int(interval_s) + 2
    strace = bench.find("strace")

    workdir = tempfile.mkdtemp(prefix="hopwatch-syscalls-")
    access_log, trace = os.path.join(workdir, "access.log"), os.path.join(workdir, "trace")
    nginx, target = bench.start_nginx(workdir, log=access_log)
    web = bench.free_port()
    config = bench.write_config(workdir, web, target, args.monitors, args.interval)
    daemon = bench.start_daemon(args.binary, config, workdir)
    tracer = None
    try:
        bench.wait_port(web, tries=600)
        time.sleep(warmup)
        quiet0, u0 = per_thread(daemon.pid), time.time()
        time.sleep(args.untraced)
        quiet1, u1 = per_thread(daemon.pid), time.time()
        tracer = subprocess.Popen([strace, "-f", "-qq", "-ttt", "-o", trace, "-p", str(daemon.pid)],
                                  stderr=subprocess.DEVNULL)
        # Attaching to every thread takes a moment; count from after it.
        time.sleep(2)
        names = threads(daemon.pid)
        t0 = time.time()
        time.sleep(args.duration)
        t1 = time.time()
        names.update(threads(daemon.pid))
        time.sleep(1)
    finally:
        if tracer:
            tracer.send_signal(signal.SIGINT)
            tracer.wait(timeout=60)
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=120)
        nginx.terminate()
        nginx.wait()
    print(f"{args.monitors} http monitors every {args.interval}, {args.untraced} s untraced, "
          f"then {args.duration} s traced\n")
    untraced(quiet0, quiet1, checks_logged(access_log, u0, u1))
    report(*parse(trace, t0, t1, names), checks_logged(access_log, t0, t1))
    if args.keep:
        print(f"\nwork folder: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
