"""How long the Dagster definitions take to load: a fresh interpreter importing `orchestration.definitions`
(which builds `defs`) and resolving its asset graph, as a code server does, without any secret or network.

    .venv/bin/python -m bench.definitions_load [--runs 7]

Prints the median and range of the wall time, the CPU time of the same runs (less sensitive to a busy
machine), and the load average, for BENCHMARKS.md. The goal is a median under 3 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from orchestration.settings import PROJECT_ROOT

LOAD = "from orchestration.definitions import defs; defs.resolve_asset_graph()"
GOAL_SECONDS = 3.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as home:
        # No secret, no network: the definitions must load with an empty environment.
        env = {"PATH": "/usr/bin:/bin", "HOME": home, "DATA_DIR": os.path.join(home, "data")}
        subprocess.run([sys.executable, "-c", LOAD], env=env, cwd=PROJECT_ROOT, check=True)  # warms the file cache
        walls, cpus = [], []
        for _ in range(args.runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", LOAD], env=env, cwd=PROJECT_ROOT, check=True)
            walls.append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    median = statistics.median(walls)
    print("| runs | median wall | min–max wall | median CPU | load average (1 min) | goal < 3 s |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {args.runs} | {median:.2f} s | {min(walls):.2f}–{max(walls):.2f} s | {statistics.median(cpus):.2f} s "
        f"| {os.getloadavg()[0]:.1f} | {'met' if median < GOAL_SECONDS else 'missed'} |"
    )


if __name__ == "__main__":
    main()
