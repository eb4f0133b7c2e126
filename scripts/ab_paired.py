#!/usr/bin/env python3
"""Paired A/B of two art9 builds (or one build with different flags): each round runs both at
the same moment, one on each of two cores (swapped every round), so that both see the same
phase of a shared machine; prints the median of the per-round CPU and wall ratios B/A.

    python3 scripts/ab_paired.py ROUNDS CORPUS A=BIN[::ARG...] B=BIN[::ARG...] -- [ARGS FOR BOTH]

Each run is `BIN scan CORPUS --field text --key id --format jsonl -q ARGS... [its ::ARGs]`,
output to /dev/null, pinned with `taskset`. Needs two cores; run it on an otherwise idle
machine (the two runs share the caches and memory bandwidth, equally).
"""
import os
import random
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ab_builds import parse_args  # noqa: E402


def main():
    rounds, corpus, builds, extra = parse_args(sys.argv, __doc__)
    if len(builds) != 2:
        sys.exit("two builds expected")
    cpu = {n: [] for n, _ in builds}
    wall = {n: [] for n, _ in builds}
    start = time.strftime("%H:%M")
    for r in range(rounds):
        procs = []
        for k, (name, cmd) in enumerate(builds):
            core = (k + r) % 2
            argv = ["taskset", "-c", str(core), cmd[0], "scan", corpus, "--field", "text",
                    "--key", "id", "--format", "jsonl", "-q"] + extra + cmd[1:]
            procs.append((name, time.perf_counter(),
                          subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL)))
        for name, t0, p in procs:
            _, status, ru = os.wait4(p.pid, 0)
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(ru.ru_utime + ru.ru_stime)
    a, b = builds[0][0], builds[1][0]
    ratios = [y / x for x, y in zip(cpu[a], cpu[b])]
    rc = statistics.median(ratios)
    print(f"{start}–{time.strftime('%H:%M')} UTC, {rounds} paired rounds, args: {' '.join(extra)}")
    print(f"| build | CPU best (s) | CPU median | median per-round CPU ratio vs {a} |")
    print("| --- | ---: | ---: | ---: |")
    for n in (a, b):
        r = 1.0 if n == a else rc
        print(f"| {n} | {min(cpu[n]):.3f} | {statistics.median(cpu[n]):.3f} | {r:.3f} |")
    if rounds >= 4:
        q = statistics.quantiles(ratios, n=4)
        lo, hi = median_ci(ratios)
        print(f"per-round CPU ratio {b}/{a}: quartiles {q[0]:.3f} / {q[1]:.3f} / {q[2]:.3f}; "
              f"95% interval of the median {lo:.3f}..{hi:.3f} (bootstrap)")


def median_ci(xs, resamples=2000):
    """A 95% bootstrap interval of the median of `xs` (seeded: the same data, the same
    interval)."""
    rng = random.Random(0)
    meds = sorted(statistics.median(rng.choices(xs, k=len(xs))) for _ in range(resamples))
    return meds[int(0.025 * resamples)], meds[int(0.975 * resamples) - 1]


if __name__ == "__main__":
    main()
