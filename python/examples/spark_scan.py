"""art9 on Spark in local mode: mapInArrow findings, the per-subject roll-up, and the
RDD.pipe recipe with the CLI.

    pip install target/wheels/art9-*.whl pyspark 'pandas<3'   # pandas: pyspark's mapInArrow needs it
    python python/examples/spark_scan.py examples/crm-notes.jsonl [path/to/art9]

On a cluster, install the wheel on the executors (or `--archives` a venv) and use
`master` from spark-submit; for `pipe_scan`, ship the binary with `--files art9` and pass
`binary="./art9"`.
"""

import os
import sys

from pyspark.sql import SparkSession

import art9.spark as art9_spark


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "examples/crm-notes.jsonl"
    binary = sys.argv[2] if len(sys.argv) > 2 else None
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("art9-example")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    notes = spark.read.schema("id string, customer_id string, lang string, note string").json(path)

    findings = art9_spark.scan(notes, ["note"], key_column="id", subject_column="customer_id")
    findings.select("record", "subject", "category", "lang", "start", "end").show(50, truncate=False)

    per_subject = art9_spark.subjects(findings, notes, subject_column="customer_id")
    per_subject.orderBy("subject").show(50, truncate=False)

    if binary:
        piped = art9_spark.pipe_scan(notes, ["note"], key_column="id", binary=binary)
        piped.show(50, truncate=False)
        assert sorted(map(tuple, piped.select("record", "start").collect())) == sorted(
            map(tuple, findings.select("record", "start").collect())
        ), "RDD.pipe and mapInArrow disagree"
        print("RDD.pipe with the CLI found the same as mapInArrow")
    spark.stop()


if __name__ == "__main__":
    main()
