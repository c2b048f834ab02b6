#!/usr/bin/env python3
"""Cluster benchmark: two `hopwatch run` nodes in two regions on one
PostgreSQL, every monitor checked from both regions.

Starts a throwaway PostgreSQL (initdb + pg_ctl in a temp folder, as the
user `nobody` when run as root), nginx on loopback as the target, and two
nodes (eu-1 in eu-west, us-1 in us-east) on one config. After a warm-up it
measures, over the same window: checks stored vs due, each node's CPU per
1,000 checks and p99 scheduler lateness, PostgreSQL's CPU (every server
process) per 1,000 stored checks, PostgreSQL bytes per stored check (table
and its index). Then it SIGKILLs the leader and times the takeover (until
the other node's /metrics says it leads). See BENCHMARKS.md.

    bench/cluster.py --monitors 10000 --interval 10s --duration 60
"""

import argparse
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import (ROOT, counter_sum, cpu_ticks, free_port, histogram, quantile,  # noqa: E402
                   rss_kib, scrape, start_nginx, wait_port)

PG_USER = "hopwatch"


def pg_bin(name):
    bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
    path = os.path.join(bindir, name)
    if not os.access(path, os.X_OK):
        sys.exit(f"{name} not found in `pg_config --bindir`: run scripts/test once to install postgresql")
    return path


def as_server_user(command):
    """PostgreSQL refuses to run as root: drop to `nobody` then."""
    if os.getuid() != 0:
        return command
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"] + command


def start_postgres(workdir):
    data = os.path.join(workdir, "pg")
    os.makedirs(data)
    if os.getuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(workdir, nobody.pw_uid, nobody.pw_gid)
        os.chown(data, nobody.pw_uid, nobody.pw_gid)
    subprocess.run(as_server_user([pg_bin("initdb"), "-D", data, "-U", PG_USER, "--auth=trust", "-E", "UTF8"]),
                   check=True, stdout=subprocess.DEVNULL)
    port = free_port()
    options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c max_connections=100"
    subprocess.run(as_server_user([pg_bin("pg_ctl"), "-D", data, "-o", options, "-l",
                                   os.path.join(workdir, "pg.log"), "-w", "start"]),
                   check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(data, "postmaster.pid")) as f:
        postmaster = int(f.readline())
    return data, port, postmaster


def stop_postgres(data):
    subprocess.run(as_server_user([pg_bin("pg_ctl"), "-D", data, "-m", "fast", "stop"]),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def server_pids(postmaster):
    """The postmaster and every process it started (backends, writers)."""
    pids = [postmaster]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster:
            pids.append(int(entry))
    return pids


def server_ticks(postmaster):
    """CPU ticks of the whole server now, counting exited children too
    (cutime/cstime of the postmaster)."""
    total = 0
    for pid in server_pids(postmaster):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
        if pid == postmaster:
            total += int(fields[13]) + int(fields[14])
    return total


def psql(port, sql):
    out = subprocess.run([pg_bin("psql"), "-h", "127.0.0.1", "-p", str(port), "-U", PG_USER, "-d", "postgres",
                          "-AtXq", "-c", sql], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def write_config(workdir, target, monitors, interval, pg_port):
    config = os.path.join(workdir, "hopwatch.yaml")
    timeout = interval if float(interval.rstrip("s")) < 5 else "5s"
    with open(config, "w") as f:
        f.write("server: { listen: '${NODE_LISTEN}', max_concurrent_checks: 256 }\n")
        f.write(f"storage: {{ url: 'postgres://{PG_USER}@127.0.0.1:{pg_port}/postgres' }}\n")
        f.write(f"defaults: {{ interval: {interval}, timeout: {timeout} }}\nmonitors:\n")
        for i in range(monitors):
            f.write(f"  - {{ name: m{i}, url: 'http://127.0.0.1:{target}/m{i}' }}\n")
    return config


def start_node(binary, config, workdir, name, region, web):
    env = dict(os.environ, RUST_LOG="warn", HOPWATCH_NODE_NAME=name, HOPWATCH_NODE_REGION=region,
               NODE_LISTEN=f"127.0.0.1:{web}")
    return subprocess.Popen([binary, "run", "-c", config], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(workdir, f"{name}.log"), "w"))


def leads(web):
    try:
        return "\nhopwatch_cluster_leader 1\n" in scrape(web)
    except OSError:
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--interval", default="10s")
    parser.add_argument("--duration", type=int, default=60, help="seconds measured after warm-up")
    parser.add_argument("--warmup", type=int, default=None, help="seconds before measuring (default: two intervals)")
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "hopwatch"))
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()

    if not os.access(args.binary, os.X_OK):
        sys.exit(f"{args.binary} missing: cargo build --release")
    interval_s = float(re.match(r"(\d+(?:\.\d+)?)s$", args.interval).group(1))
    warmup = args.warmup if args.warmup is not None else int(2 * interval_s) + 5
    workdir = tempfile.mkdtemp(prefix="hopwatch-cluster-bench-")
    data, pg_port, postmaster = start_postgres(workdir)
    nginx, target = start_nginx(workdir)
    config = write_config(workdir, target, args.monitors, args.interval, pg_port)
    webs = {"eu-1": free_port(), "us-1": free_port()}
    nodes = {
        "eu-1": start_node(args.binary, config, workdir, "eu-1", "eu-west", webs["eu-1"]),
        "us-1": start_node(args.binary, config, workdir, "us-1", "us-east", webs["us-1"]),
    }
    try:
        for web in webs.values():
            wait_port(web, tries=1200)
        time.sleep(warmup)
        before = {name: scrape(web) for name, web in webs.items()}
        node_ticks0 = {name: cpu_ticks(node.pid) for name, node in nodes.items()}
        pg0 = server_ticks(postmaster)
        rows0 = int(psql(pg_port, "SELECT COUNT(*) FROM checks"))
        t0 = time.monotonic()
        time.sleep(args.duration)
        after = {name: scrape(web) for name, web in webs.items()}
        node_ticks1 = {name: cpu_ticks(node.pid) for name, node in nodes.items()}
        pg1 = server_ticks(postmaster)
        rows1 = int(psql(pg_port, "SELECT COUNT(*) FROM checks"))
        t1 = time.monotonic()
        rss = {name: rss_kib(node.pid, "VmRSS") for name, node in nodes.items()}
        psql(pg_port, "VACUUM ANALYZE checks")
        bytes_per_check = float(psql(pg_port, "SELECT pg_total_relation_size('checks')::float8 / count(*) FROM checks"))

        # Takeover: SIGKILL the leader, time until the other leads.
        leader = next((name for name, web in webs.items() if leads(web)), None)
        takeover = None
        if leader:
            other = next(name for name in webs if name != leader)
            killed = time.monotonic()
            nodes[leader].send_signal(signal.SIGKILL)
            nodes[leader].wait(timeout=30)
            for _ in range(600):
                if leads(webs[other]):
                    takeover = time.monotonic() - killed
                    break
                time.sleep(0.1)
    finally:
        for node in nodes.values():
            if node.poll() is None:
                node.send_signal(signal.SIGTERM)
                node.wait(timeout=120)
        nginx.terminate()
        nginx.wait()
        stop_postgres(data)

    elapsed = t1 - t0
    hz = os.sysconf("SC_CLK_TCK")
    due = 2 * args.monitors / interval_s
    stored = rows1 - rows0
    print(f"monitors            {args.monitors} every {args.interval} from 2 regions (due {due:.0f} checks/s in all)")
    print(f"measured            {elapsed:.0f} s after {warmup} s warm-up")
    print(f"stored checks/s     {stored / elapsed:.0f} vs {due:.0f} due")
    for name in nodes:
        checks = counter_sum(after[name], "hopwatch_checks_total") - counter_sum(before[name], "hopwatch_checks_total")
        late_before = dict(histogram(before[name], "hopwatch_scheduler_lateness_seconds"))
        late = [(b, c - late_before.get(b, 0))
                for b, c in histogram(after[name], "hopwatch_scheduler_lateness_seconds")]
        user = (node_ticks1[name][0] - node_ticks0[name][0]) * 1000 / hz
        system = (node_ticks1[name][1] - node_ticks0[name][1]) * 1000 / hz
        per = lambda ms: ms / max(checks, 1) * 1000
        print(f"{name:<19} {checks / elapsed:.0f} checks/s, CPU per 1,000 {per(user + system):.0f} ms "
              f"({per(user):.0f} user + {per(system):.0f} kernel), p99 lateness <= {quantile(late, 0.99) * 1000:g} ms, "
              f"RSS {rss[name] / 1024:.0f} MiB")
    pg_ms = (pg1 - pg0) * 1000 / hz
    print(f"PostgreSQL          CPU per 1,000 stored checks {pg_ms / max(stored, 1) * 1000:.0f} ms (every server process)")
    print(f"PG bytes per check  {bytes_per_check:.1f} (checks table and its index, after VACUUM)")
    print(f"takeover            {f'{takeover:.1f} s' if takeover is not None else 'not seen'} "
          f"after SIGKILL of the leader ({leader})")
    if args.keep:
        print(f"work folder         {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
