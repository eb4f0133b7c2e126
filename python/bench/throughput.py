"""Throughput of art9 from Python and Spark, and of Presidio's Spark approach, on one corpus.

    python3 ../shared/bench/gen_corpus.py --size-mb 50 --seed 1 --out target/bench/py-50mb.jsonl
    python python/bench/throughput.py wheel  target/bench/py-50mb.jsonl
    python python/bench/throughput.py arrow  target/bench/py-50mb.jsonl     # mapInArrow, local[2]
    python python/bench/throughput.py pipe   target/bench/py-50mb.jsonl --binary target/release/art9
    python python/bench/throughput.py presidio target/bench/py-2mb.jsonl --terms terms.tsv
    python python/bench/throughput.py parquet target/bench/py-50mb.jsonl --binary target/release/art9

The corpus is JSON Lines with `id`, `customer_id` and `text` (gen_corpus.py's). Figures are
MB of note text (UTF-8 bytes of the `text` values) per second of wall time, and per CPU
second: the user + system time of the whole process tree (the JVM, Spark's Python workers,
the piped art9 processes), read from /proc before and after, which a busy shared machine
disturbs far less than wall time. Spark timings are of
the job alone (the session is started and the file read once before, untimed); each Spark
mode also times the same job with a pass-through function, to show what Spark itself costs.
"""

import argparse
import json
import os
import sys
import time


def text_mb(path):
    n = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            t = json.loads(line).get("text")
            if t:
                n += len(t.encode("utf-8"))
    return n / 1e6


TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu():
    """CPU seconds (user + system, with reaped children) of this process and every process
    below it: the Spark JVM, its Python workers and the art9 processes they pipe to."""
    stats = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[1] is ppid; 11..14 utime stime cutime cstime (stat fields 14-17)
        stats[int(pid)] = (int(fields[1]), sum(int(x) for x in fields[11:15]))
    mine, frontier = set(), {os.getpid()}
    while frontier:
        mine |= frontier
        frontier = {p for p, (pp, _) in stats.items() if pp in frontier and p not in mine}
    return sum(stats[p][1] for p in mine if p in stats) / TICK


def best_of(runs, fn, tree=True):
    """Best wall time of N runs, and the CPU seconds of that run: of the whole process tree
    (clock ticks), or of this process alone (`tree=False`, nanosecond clock)."""
    cpu_now = tree_cpu if tree else time.process_time
    best = None
    result = None
    for _ in range(runs):
        cpu0, start = cpu_now(), time.perf_counter()
        result = fn()
        wall, cpu = time.perf_counter() - start, cpu_now() - cpu0
        if best is None or wall < best[0]:
            best = (wall, cpu)
    return best, result


def report(mode, mb, timing, cores, findings, extra=""):
    wall, cpu = timing
    print(json.dumps({
        "mode": mode, "text_mb": round(mb, 2), "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
        "cores": cores, "mb_per_s": round(mb / wall, 4),
        "mb_per_cpu_s": round(mb / cpu, 4) if cpu else None,
        "findings": findings, **({"note": extra} if extra else {}),
    }), flush=True)


def wheel(args, mb):
    import pyarrow.json as pajson

    import art9

    scanner = art9.Scanner()

    def read_and_scan():
        t = pajson.read_json(args.corpus).select(["id", "text"])
        return sum(scanner.scan_arrow(b, ["text"], "id").num_rows for b in t.to_batches(max_chunksize=4096))

    secs, n = best_of(args.runs, read_and_scan, tree=False)
    report("wheel pyarrow.json.read_json + scan_arrow (CPU of all threads)", mb, secs, 1, n)
    table = pajson.read_json(args.corpus).select(["id", "text"])
    batches = table.to_batches(max_chunksize=4096)
    secs, n = best_of(args.runs, lambda: sum(scanner.scan_arrow(b, ["text"], "id").num_rows for b in batches), tree=False)
    report("wheel scan_arrow, 1 thread", mb, secs, 1, n)
    texts = [t for t in table.column("text").to_pylist() if t]
    secs, n = best_of(args.runs, lambda: sum(len(scanner.scan(t)) for t in texts), tree=False)
    report("wheel scan() per note, 1 thread", mb, secs, 1, n)


def spark_session():
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def notes(spark, path):
    df = spark.read.schema("id string, customer_id string, text string").json(path)
    df = df.repartition(8).cache()
    df.count()
    return df


def run_job(df):
    return df.count()


def arrow(args, mb):
    import pyarrow as pa

    import art9.spark as s9

    spark = spark_session()
    df = notes(spark, args.corpus)

    def passthrough(batches):
        for b in batches:
            yield pa.RecordBatch.from_pylist([], schema=pa.schema([("n", pa.int64())]))

    secs, _ = best_of(args.runs, lambda: df.mapInArrow(passthrough, "n long").count())
    report("Spark mapInArrow pass-through, local[2]", mb, secs, 2, 0)
    secs, n = best_of(args.runs, lambda: s9.scan(df, ["text"], "id", "customer_id").count())
    report("Spark art9.spark.scan (mapInArrow), local[2]", mb, secs, 2, n)
    spark.stop()


def pipe(args, mb):
    import art9.spark as s9

    spark = spark_session()
    df = notes(spark, args.corpus)
    secs, _ = best_of(args.runs, lambda: df.select("id", "text").toJSON().pipe("cat").count())
    report("Spark RDD.pipe to cat, local[2]", mb, secs, 2, 0)
    secs, n = best_of(args.runs, lambda: s9.pipe_scan(df, ["text"], "id", binary=args.binary).count())
    report("Spark art9.spark.pipe_scan (RDD.pipe + CLI), local[2]", mb, secs, 2, n)
    spark.stop()


def parquet(args, mb):
    """`art9 scan` on the corpus as JSON Lines and as Parquet (written next to it with
    pyarrow: snappy, pyarrow's row groups; and one with small row groups), 1 and 2 threads."""
    import subprocess

    import pyarrow.json as pajson
    import pyarrow.parquet as pq

    table = pajson.read_json(args.corpus)
    files = {"jsonl": args.corpus}
    for name, rows in (("parquet", None), ("parquet, 8k-row groups", 8192)):
        path = f"{args.corpus}.{rows or 'default'}.parquet"
        pq.write_table(table, path, compression="snappy", row_group_size=rows)
        files[name] = path
    for threads in ("1", "2"):
        for name, path in files.items():
            cmd = [args.binary, "scan", path, "--field", "text", "--key", "id", "-q",
                   "--format", "jsonl", "--threads", threads]

            def run():
                out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                assert out.returncode in (0, 1), out.stderr.decode()
                return out.stdout.count(b"\n")

            secs, n = best_of(args.runs, run)
            report(f"CLI {name}, --threads {threads}", mb, secs, int(threads), n,
                   f"{os.path.getsize(path) / 1e6:.1f} MB file")


def presidio(args, mb):
    """Presidio's Spark sample: a pandas UDF calling an AnalyzerEngine broadcast to the
    executors, here with deny-list recognizers of art9's own terms (art9 lexicon export)."""
    import pandas as pd
    from pyspark.sql.functions import pandas_udf

    spark = spark_session()
    df = notes(spark, args.corpus)
    terms = {}
    with open(args.terms, encoding="utf-8") as f:
        next(f)
        for line in f:
            term, langs, category = line.rstrip("\n").split("\t")
            terms.setdefault(category.upper(), set()).add(term)
    terms = {k: sorted(v) for k, v in terms.items()}
    # Presidio's sample broadcasts the AnalyzerEngine; a spaCy pipeline made here does not
    # pickle, so the terms are broadcast and each Python worker builds its engine once
    # (kept across tasks), which is the same one engine per worker.
    broadcast = spark.sparkContext.broadcast(terms)

    @pandas_udf("long")
    def analyze(texts: pd.Series) -> pd.Series:
        import builtins

        a = getattr(builtins, "_bench_presidio", None)
        if a is None:
            a = presidio_analyzer(broadcast.value)
            builtins._bench_presidio = a
        return texts.map(lambda t: len(a.analyze(text=t, language="en")) if t else 0)

    from pyspark.sql import functions as F

    secs, n = best_of(args.runs, lambda: df.select(analyze("text").alias("n")).agg(F.sum("n")).first()[0])
    report("Spark + Presidio deny lists (pandas UDF), local[2]", mb, secs, 2, n,
           f"{sum(len(v) for v in terms.values())} terms in {len(terms)} deny-list recognizers; spaCy blank 'en' tokenizer (no NER model)")
    spark.stop()


def presidio_analyzer(terms):
    """An AnalyzerEngine with one deny-list PatternRecognizer per category and a blank spaCy
    pipeline (tokens and lemmas only: no NER model is downloadable here, and without one
    Presidio only runs the recognizers we give it, which is the comparison we want)."""
    import spacy
    from presidio_analyzer import AnalyzerEngine, PatternRecognizer, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    class BlankSpacy(SpacyNlpEngine):
        def load(self):
            self.nlp = {"en": spacy.blank("en")}

    engine = BlankSpacy(models=[{"lang_code": "en", "model_name": "blank"}])
    engine.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    for category, words in terms.items():
        registry.add_recognizer(PatternRecognizer(supported_entity=category, deny_list=words, supported_language="en"))
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["wheel", "arrow", "pipe", "presidio", "parquet"])
    ap.add_argument("corpus")
    ap.add_argument("--binary", default="art9")
    ap.add_argument("--terms", help="art9 lexicon export output (term, lang, category)")
    ap.add_argument("--runs", type=int, default=3, help="best of N runs")
    args = ap.parse_args()
    mb = text_mb(args.corpus)
    globals()[args.mode](args, mb)


if __name__ == "__main__":
    main()
