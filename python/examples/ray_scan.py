"""Scan a CRM export on Ray Data with the art9 wheel: one scanner per actor, Arrow batches in
and out (``art9.ray``).

    pip install art9 'ray[data]'
    python python/examples/ray_scan.py examples/crm-notes.jsonl [--parquet-out findings/]

On a cluster, read the export where it lives (``ray.data.read_parquet("s3://...")``) and
install the same art9 wheel on every node (or ship it with ``runtime_env={"pip": [...]}``).
Prints one line per finding (offsets, never the matched text) and the count.
"""

import argparse

import ray
import ray.data

import art9.ray


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", help="a JSON Lines or Parquet export (id, customer_id, note)")
    ap.add_argument("--actors", type=int, default=2, help="scanning actors (one scanner each)")
    ap.add_argument("--parquet-out", help="write the findings here as Parquet instead")
    args = ap.parse_args()

    # CPUs for the scanning actors and two for Ray's read tasks.
    ray.init(num_cpus=args.actors + 2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = False
    if args.path.endswith(".parquet"):
        ds = ray.data.read_parquet(args.path)
    else:
        ds = ray.data.read_json(args.path)
    findings = art9.ray.scan(ds, ["note"], "id", "customer_id", concurrency=args.actors)
    if args.parquet_out:
        findings.write_parquet(args.parquet_out)
        n = ray.data.read_parquet(args.parquet_out).count()
    else:
        n = 0
        for f in findings.iter_rows():
            n += 1
            print(f"{f['record']}\t{f['field']}\t{f['category']}\t{f['start']}-{f['end']}")
    print(f"findings: {n}")
    ray.shutdown()


if __name__ == "__main__":
    main()
