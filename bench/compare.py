#!/usr/bin/env python3
"""hopwatch side by side with Prometheus + blackbox_exporter, in one run.

Starts one nginx on loopback as the target of both, then hopwatch with N http
monitors and Prometheus scraping N blackbox `http_2xx` probes of the same
nginx at the same interval. After a warm-up of one interval it measures a
window and prints, for both: CPU per 1,000 checks (user and kernel, from
/proc; the reference is Prometheus and blackbox_exporter summed), checks done
against due (counted in nginx's access log by User-Agent, and by each side's
own metric), RSS, storage bytes per check and scheduling lateness. nginx's
own CPU is printed apart: it serves both.

    bench/compare.py --monitors 1000 --interval 10s --duration 60

By default both run in the same window (what a reader compares on one
machine); --apart runs them one after the other against the same nginx, for
a measure of how much sharing the cores moves the figures.
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
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the shared helpers of the load benchmark)

HZ = os.sysconf("SC_CLK_TCK")
# The reference probes with this User-Agent, so nginx's log tells the two apart.
REFERENCE_AGENT = "reference-blackbox"


def metric(text, name, labels=""):
    """Sum of a metric's samples whose labels contain `labels`."""
    total = 0.0
    for m in re.finditer(rf"^{name}(?:{{([^}}]*)}})? (\S+)$", text, re.M):
        if labels in (m.group(1) or ""):
            total += float(m.group(2))
    return total


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return r.read().decode()


def children(pid):
    """Direct children of `pid` (nginx's workers), from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
        except (OSError, IndexError, ValueError):
            pass
    return found


def ticks(pids):
    """(user, kernel) clock ticks summed over the processes."""
    user = kernel = 0
    for pid in pids:
        u, k = bench.cpu_ticks(pid)
        user, kernel = user + u, kernel + k
    return user, kernel


def tree_bytes(path, skip=()):
    """Bytes of the files under `path`: what they hold, not what the disk reserves."""
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            if name not in skip:
                total += os.path.getsize(os.path.join(folder, name))
    return total


def stop(proc, timeout=60):
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Hopwatch:
    """`hopwatch run` with N http monitors of the target."""

    name = "hopwatch"

    def __init__(self, args, workdir, target):
        self.args, self.dir = args, os.path.join(workdir, "hopwatch")
        os.mkdir(self.dir)
        self.web = bench.free_port()
        self.config = bench.write_config(self.dir, self.web, target, args.monitors, args.interval)
        self.proc = None

    def start(self):
        self.proc = bench.start_daemon(self.args.binary, self.config, self.dir)
        bench.wait_port(self.web, tries=600)

    def pids(self):
        return [self.proc.pid]

    def sample(self):
        """The daemon's own count of checks and its lateness histogram."""
        text = bench.scrape(self.web)
        return metric(text, "hopwatch_checks_total"), bench.histogram(text, "hopwatch_scheduler_lateness_seconds")

    def lateness(self, first, last):
        before = dict(first[1])
        late = [(b, c - before.get(b, 0)) for b, c in last[1]]
        return (f"p50 <= {bench.quantile(late, 0.5) * 1000:g} ms, p99 <= {bench.quantile(late, 0.99) * 1000:g} ms"
                " (histogram bucket bounds)")

    def stop(self):
        stop(self.proc)

    def storage(self):
        """(bytes on disk, checks stored): the database after a clean stop."""
        db_bytes, rows, _ = bench.db_figures(os.path.join(self.dir, "hopwatch.db"))
        return db_bytes, rows, ""


class Reference:
    """Prometheus scraping blackbox_exporter's `http_2xx` module, one target
    per monitor, with the usual relabelling (target -> ?target=, exporter
    as the address)."""

    name = "Prometheus + blackbox_exporter"

    def __init__(self, args, workdir, target):
        self.args, self.dir = args, os.path.join(workdir, "reference")
        os.mkdir(self.dir)
        self.prom_port, self.bb_port = bench.free_port(), bench.free_port()
        self.bb_config = os.path.join(self.dir, "blackbox.yml")
        with open(self.bb_config, "w") as f:
            # The stock http_2xx module; the User-Agent only names the client
            # in nginx's log. The timeout is hopwatch's (5 s).
            f.write("modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n"
                    f"    http:\n      preferred_ip_protocol: ip4\n      headers: {{User-Agent: {REFERENCE_AGENT}}}\n")
        self.prom_config = os.path.join(self.dir, "prometheus.yml")
        timeout = args.interval if args.interval_s < 5 else "5s"
        with open(self.prom_config, "w") as f:
            f.write(f"global: {{scrape_interval: {args.interval}, scrape_timeout: {timeout}}}\n"
                    "scrape_configs:\n  - job_name: blackbox\n    metrics_path: /probe\n"
                    "    params: {module: [http_2xx]}\n    static_configs:\n      - targets:\n")
            for i in range(args.monitors):
                f.write(f"          - http://127.0.0.1:{target}/r{i}\n")
            f.write("    relabel_configs:\n"
                    "      - {source_labels: [__address__], target_label: __param_target}\n"
                    "      - {source_labels: [__param_target], target_label: instance}\n"
                    f"      - {{target_label: __address__, replacement: '127.0.0.1:{self.bb_port}'}}\n")
        self.tsdb = os.path.join(self.dir, "tsdb")
        self.blackbox = self.prometheus = None

    def start(self):
        log = open(os.path.join(self.dir, "reference.log"), "w")
        self.blackbox = subprocess.Popen(
            [bench.find("prometheus-blackbox-exporter"), f"--config.file={self.bb_config}",
             f"--web.listen-address=127.0.0.1:{self.bb_port}", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=log)
        bench.wait_port(self.bb_port)
        self.prometheus = subprocess.Popen(
            [bench.find("prometheus"), f"--config.file={self.prom_config}", f"--storage.tsdb.path={self.tsdb}",
             f"--web.listen-address=127.0.0.1:{self.prom_port}", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=log)
        bench.wait_port(self.prom_port, tries=600)
        # Targets reach the scrape pool some seconds after start (discovery
        # updates are throttled); the warm-up counts from there.
        for _ in range(300):
            text = get(self.prom_port, "/metrics")
            if metric(text, "prometheus_target_scrape_pool_targets", 'scrape_job="blackbox"') >= self.args.monitors:
                return
            time.sleep(0.1)
        sys.exit("Prometheus did not take up its targets in 30 s")

    def pids(self):
        return [self.prometheus.pid, self.blackbox.pid]

    def sample(self):
        """Prometheus's count of scrape intervals and its text, for quantiles."""
        text = get(self.prom_port, "/metrics")
        name = "prometheus_target_interval_length_seconds"
        return metric(text, f"{name}_count", f'interval="{self.args.interval}"'), text

    def lateness(self, first, last):
        # A summary over the last minutes of the time between two scrapes of
        # a target: its quantiles minus the interval are how late a scrape
        # came after the one before.
        def late(q):
            value = metric(last[1], "prometheus_target_interval_length_seconds",
                           f'interval="{self.args.interval}",quantile="{q}"')
            return (value - self.args.interval_s) * 1000
        return f"p50 {late('0.5'):+.1f} ms, p99 {late('0.99'):+.1f} ms (scrape interval quantiles - interval)"

    def samples_appended(self):
        return metric(get(self.prom_port, "/metrics"), "prometheus_tsdb_head_samples_appended_total")

    def stop(self):
        self.samples = self.samples_appended()
        stop(self.prometheus)
        stop(self.blackbox)

    def storage(self):
        """(bytes on disk, checks stored): the TSDB folder after a clean stop,
        WAL included (a minute's samples live only there), without the
        query log; checks are the probes nginx answered."""
        return tree_bytes(self.tsdb, skip=("queries.active", "lock")), None, f"{self.samples:.0f} samples"


def count_log(path, t0, t1):
    """Requests per client from nginx's log: (in the window, in all)."""
    window, total = {}, {}
    with open(path) as f:
        for line in f:
            stamp, _, agent = line.partition(" ")
            client = "hopwatch" if agent.startswith('"hopwatch/') else (
                "reference" if agent.startswith(f'"{REFERENCE_AGENT}') else "other")
            total[client] = total.get(client, 0) + 1
            if t0 <= float(stamp) < t1:
                window[client] = window.get(client, 0) + 1
    return window, total


def measure(runners, args, nginx):
    """Starts the runners, waits one interval, measures one window, stops
    them. Returns one dict of figures per runner, and nginx's ticks."""
    figures = {}
    try:
        for r in runners:
            r.start()
        time.sleep(args.warmup)
        nginx_pids = [nginx.pid] + children(nginx.pid)
        first = {r.name: r.sample() for r in runners}
        t0 = time.time()
        cpu0 = {r.name: ticks(r.pids()) for r in runners}
        n0 = ticks(nginx_pids)
        time.sleep(args.duration)
        cpu1 = {r.name: ticks(r.pids()) for r in runners}
        n1 = ticks(nginx_pids)
        t1 = time.time()
        last = {r.name: r.sample() for r in runners}
        for r in runners:
            rss = sum(bench.rss_kib(pid, "VmRSS") for pid in r.pids())
            peak = sum(bench.rss_kib(pid, "VmHWM") for pid in r.pids())
            user, kernel = (b - a for a, b in zip(cpu0[r.name], cpu1[r.name]))
            figures[r.name] = dict(
                t0=t0, t1=t1, user_ms=user * 1000 / HZ, kernel_ms=kernel * 1000 / HZ, rss=rss, peak=peak,
                own=last[r.name][0] - first[r.name][0], lateness=r.lateness(first[r.name], last[r.name]))
    finally:
        for r in runners:
            r.stop()
    for r in runners:
        figures[r.name]["storage"] = r.storage()
    return figures, (n1[0] - n0[0], n1[1] - n0[1]), (t0, t1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--interval", default="10s")
    parser.add_argument("--duration", type=int, default=60, help="seconds measured after warm-up")
    parser.add_argument("--warmup", type=int, default=None, help="seconds before measuring (default: one interval)")
    parser.add_argument("--apart", action="store_true", help="run hopwatch, then the reference, not together")
    parser.add_argument("--binary", default=os.path.join(bench.ROOT, "target", "release", "hopwatch"))
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"{args.binary} missing: cargo build --release")
    args.interval_s = float(re.match(r"(\d+(?:\.\d+)?)s$", args.interval).group(1))
    args.warmup = args.warmup if args.warmup is not None else int(args.interval_s) + 2

    workdir = tempfile.mkdtemp(prefix="hopwatch-compare-")
    access_log = os.path.join(workdir, "access.log")
    nginx, target = bench.start_nginx(workdir, log=access_log)
    runners = [Hopwatch(args, workdir, target), Reference(args, workdir, target)]
    figures, nginx_ticks, windows = {}, [0, 0], []
    try:
        for group in ([[r] for r in runners] if args.apart else [runners]):
            got, n, window = measure(group, args, nginx)
            figures.update(got)
            nginx_ticks = [a + b for a, b in zip(nginx_ticks, n)]
            windows.append(window)
    finally:
        stop(nginx)
    report(args, runners, figures, nginx_ticks, windows, access_log)
    if args.keep:
        print(f"work folder: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


def report(args, runners, figures, nginx_ticks, windows, access_log):
    key = {"hopwatch": "hopwatch", Reference.name: "reference"}
    rows = {}
    served = 0
    for r in runners:
        f = figures[r.name]
        window, total = count_log(access_log, f["t0"], f["t1"])
        done = window.get(key[r.name], 0)
        served += sum(count_log(access_log, *w)[0].get(key[r.name], 0) for w in windows)
        due = args.monitors / args.interval_s * (f["t1"] - f["t0"])
        per = lambda ms: ms / max(done, 1) * 1000  # noqa: E731
        storage, stored, note = f["storage"]
        stored = stored if stored is not None else total.get(key[r.name], 0)
        rows[r.name] = dict(
            cpu=per(f["user_ms"] + f["kernel_ms"]), user=per(f["user_ms"]), kernel=per(f["kernel_ms"]),
            done=done, due=due, own=f["own"], rss=f["rss"] / 1024, peak=f["peak"] / 1024,
            storage=storage / max(stored, 1), storage_note=f"{storage / 1e6:.1f} MB, {stored} checks"
            + (f", {note}" if note else ""), lateness=f["lateness"])
    hop, ref = rows["hopwatch"], rows[Reference.name]
    ratio = lambda k: ref[k] / hop[k] if hop[k] else float("nan")  # noqa: E731
    mode = "one after the other" if args.apart else "in the same window"
    print(f"{args.monitors} targets every {args.interval}, {args.duration} s measured after {args.warmup} s, {mode}; "
          f"one nginx serves both\n")
    print(f"| | hopwatch | {Reference.name} | reference / hopwatch |")
    print("| --- | --- | --- | --- |")
    print(f"| CPU per 1,000 checks | {hop['cpu']:.0f} ms | {ref['cpu']:.0f} ms | {ratio('cpu'):.1f}x |")
    print(f"| user | {hop['user']:.0f} ms | {ref['user']:.0f} ms | {ratio('user'):.1f}x |")
    print(f"| kernel | {hop['kernel']:.0f} ms | {ref['kernel']:.0f} ms | {ratio('kernel'):.1f}x |")
    print(f"| checks done / due (nginx log) | {hop['done']} / {hop['due']:.0f} | {ref['done']} / {ref['due']:.0f} | |")
    print(f"| checks done, own count | {hop['own']:.0f} (hopwatch_checks_total) | {ref['own']:.0f} "
          "(scrape intervals) | |")
    print(f"| RSS at the end (peak) | {hop['rss']:.0f} MiB ({hop['peak']:.0f}) | {ref['rss']:.0f} MiB "
          f"({ref['peak']:.0f}) | {ratio('rss'):.1f}x |")
    print(f"| storage bytes per check | {hop['storage']:.1f} ({hop['storage_note']}) | {ref['storage']:.1f} "
          f"({ref['storage_note']}) | {ratio('storage'):.1f}x |")
    print(f"| scheduling lateness | {hop['lateness']} | {ref['lateness']} | |")
    user, kernel = (t * 1000 / HZ / max(served, 1) * 1000 for t in nginx_ticks)
    print(f"\nnginx (serving both): {user + kernel:.0f} ms per 1,000 requests ({user:.0f} user + {kernel:.0f} kernel), "
          f"{served} requests in the window{'s' if len(windows) > 1 else ''}")


if __name__ == "__main__":
    main()
