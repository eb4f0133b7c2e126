"""Scan a CRM export with pyarrow and the art9 wheel, in plain Python.

    python python/examples/scan_table.py examples/crm-notes.jsonl note id customer_id

Reads JSON Lines (or Parquet: a path ending in .parquet) into an Arrow table, scans the text
column with the GIL released, and prints the findings (offsets, never the matched text) and a
count per category. Threads over record batches scale with the cores: see ``--threads``.
"""

import argparse
import collections
import concurrent.futures

import pyarrow as pa
import pyarrow.json as pajson

import art9


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path")
    ap.add_argument("text_column")
    ap.add_argument("key_column")
    ap.add_argument("subject_column", nargs="?")
    ap.add_argument("--policy")
    ap.add_argument("--threads", type=int, default=1, help="scan batches on N threads")
    args = ap.parse_args()

    if args.path.endswith(".parquet"):
        import pyarrow.parquet as pq

        table = pq.read_table(args.path, columns=[c for c in (args.key_column, args.subject_column, args.text_column) if c])
    else:
        table = pajson.read_json(args.path)
    scanner = art9.Scanner(policy=args.policy)
    batches = table.to_batches(max_chunksize=4096)
    with concurrent.futures.ThreadPoolExecutor(args.threads) as pool:
        parts = list(pool.map(
            lambda b: scanner.scan_arrow(b, [args.text_column], args.key_column, args.subject_column),
            batches,
        ))
    findings = pa.Table.from_batches(parts) if parts else None
    if findings is None or findings.num_rows == 0:
        print(f"{table.num_rows} records, no findings")
        return
    for row in findings.select(["record", "subject", "field", "category", "lang", "start", "end"]).to_pylist():
        print(row)
    counts = collections.Counter(findings.column("category").to_pylist())
    print(f"{table.num_rows} records, {findings.num_rows} findings:", dict(sorted(counts.items())))


if __name__ == "__main__":
    main()
