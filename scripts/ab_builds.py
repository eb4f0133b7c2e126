#!/usr/bin/env python3
"""Interleaved A/B of art9 builds (or of one build with different flags) on one corpus.

    python3 scripts/ab_builds.py ROUNDS CORPUS NAME=BIN[::ARG::ARG...] ... -- [ARGS FOR EVERY RUN]

Each round runs every NAME once, back to back, in alternating order, as
`BIN scan CORPUS --field text --key id --format jsonl -q ARGS... [its own ::ARGs]`, output to
/dev/null, and records its CPU time (user + sys of the child) and wall time. Prints a markdown
table: best and median of each, and the median of the per-round ratios against the first
NAME, the figure the VM's slow and fast phases move least (they last longer than a round).
"""
import os
import resource
import statistics
import subprocess
import sys
import time


def parse_args(argv, usage):
    """ROUNDS CORPUS NAME=BIN[::ARG...] ... -- [ARGS]: (rounds, corpus, [(name, [bin, args])],
    extra args); exits with `usage` when too short. Shared with ab_paired.py."""
    if len(argv) < 4:
        sys.exit(usage)
    rounds = int(argv[1])
    corpus = argv[2]
    rest = argv[3:]
    sep = rest.index("--") if "--" in rest else len(rest)
    builds = []
    for spec in rest[:sep]:
        name, eq, cmd = spec.partition("=")
        if not eq:
            sys.exit(f"NAME=BIN expected, got {spec!r}")
        builds.append((name, cmd.split("::")))
    return rounds, corpus, builds, rest[sep + 1:]


def main():
    rounds, corpus, builds, extra = parse_args(sys.argv, __doc__)
    res = {n: [] for n, _ in builds}
    start = time.strftime("%H:%M")
    for r in range(rounds):
        for name, cmd in (builds if r % 2 == 0 else builds[::-1]):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            subprocess.run([cmd[0], "scan", corpus, "--field", "text", "--key", "id",
                            "--format", "jsonl", "-q"] + extra + cmd[1:],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wall = time.perf_counter() - t
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            res[name].append((cpu, wall))
    first = builds[0][0]
    print(f"{start}–{time.strftime('%H:%M')} UTC, load at end {os.getloadavg()[0]:.2f}, "
          f"{rounds} rounds, args: {' '.join(extra)}")
    print(f"| build | wall best (s) | wall median | CPU best | CPU median | "
          f"median per-round wall ratio vs {first} | median per-round CPU ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, _ in builds:
        cs = [c for c, _ in res[name]]
        ws = [w for _, w in res[name]]
        rw = statistics.median(w / res[first][i][1] for i, w in enumerate(ws))
        rc = statistics.median(c / res[first][i][0] for i, c in enumerate(cs))
        print(f"| {name} | {min(ws):.3f} | {statistics.median(ws):.3f} | {min(cs):.3f} | "
              f"{statistics.median(cs):.3f} | {rw:.3f} | {rc:.3f} |")


if __name__ == "__main__":
    main()
