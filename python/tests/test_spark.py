"""art9.spark in local[2]: mapInArrow findings, the per-subject roll-up and the RDD.pipe
recipe all equal the CLI on a generated corpus."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import cli_findings, missing, read_jsonl
import corpus

N = 20_000
KEYS = [
    "record", "field", "category", "data_category", "lang", "note_lang", "start", "end", "char_start", "char_end",
    "likelihood",
]


@pytest.fixture(scope="module")
def spark():
    try:
        import pyspark  # noqa: F401
        from pyspark.sql import SparkSession
    except ImportError:
        missing("pyspark is not installed (pip install pyspark)")
    if not shutil.which("java") and not os.environ.get("JAVA_HOME"):
        missing("no Java for Spark (apt-get install openjdk-17-jre-headless)")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("art9-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "notes.jsonl"
    corpus.write_jsonl(path, corpus.records(N))
    return path


SCHEMA = "id string, customer_id string, note string, subject string"


def notes_df(spark, path, partitions=None):
    df = spark.read.schema(SCHEMA).json(str(path))
    return df.repartition(partitions) if partitions else df


def rows(df):
    return [{k: r[k] for k in KEYS} for r in (x.asDict() for x in df.collect())]


def test_map_in_arrow_equals_the_cli_in_order(spark, data, cli):
    import art9.spark as s9

    want = [{k: w[k] for k in KEYS} for w in cli_findings(cli, data, "--field", "note", "--key", "id")]
    assert len(want) > 1000
    df = notes_df(spark, data)
    got = rows(s9.scan(df, ["note"], key_column="id"))
    assert got == want


def test_shuffled_partitions_and_two_columns_equal_the_cli(spark, data, cli):
    import art9.spark as s9

    want = cli_findings(cli, data, "--field", "note", "--field", "subject", "--key", "id", "--policy", "strict")
    df = notes_df(spark, data, partitions=7)
    got = s9.scan(df, ["note", "subject"], "id", "customer_id", policy="strict").collect()
    key = lambda d: (d["record"], d["field"], d["start"])
    assert sorted(({**{k: r[k] for k in KEYS}, "action": r["action"]} for r in got), key=key) == sorted(
        ({**{k: w[k] for k in KEYS}, "action": w["action"]} for w in want), key=key)
    assert all(r["text"] is None and r["entry"] is None for r in got)


def test_subject_rollup_equals_the_cli(spark, data, cli, tmp_path):
    import art9.spark as s9

    out = tmp_path / "subjects.jsonl"
    cli_findings(cli, data, "--field", "note", "--key", "id", "--subject", "customer_id", "--subjects-out", str(out))
    want = {w["subject"]: w for w in read_jsonl(out)}
    df = notes_df(spark, data, partitions=5)
    findings = s9.scan(df, "note", "id", "customer_id")
    got = {r["subject"]: r.asDict() for r in s9.subjects(findings, df, "customer_id").collect()}
    assert set(got) == set(want) and len(got) > 100
    for subject, w in want.items():
        g = got[subject]
        assert g["records_scanned"] == w["records_scanned"]
        assert g["records_with_findings"] == w["records_with_findings"]
        assert dict(g["findings"]) == w["findings"]
        assert g["categories"] == w["categories"]
        assert g["records"] == sorted(w["records"])
        assert g["fields"] == sorted(w["fields"])


def test_rdd_pipe_recipe_equals_the_cli_in_order(spark, data, cli):
    import art9.spark as s9

    want = [{k: w[k] for k in KEYS} for w in cli_findings(cli, data, "--field", "note", "--key", "id")]
    df = notes_df(spark, data).select("id", "note")
    assert df.rdd.getNumPartitions() >= 1
    got = rows(s9.pipe_scan(df, ["note"], "id", binary=cli))
    assert got == want


def test_rdd_pipe_fails_the_job_on_a_skipped_record(spark, cli):
    import art9.spark as s9

    df = spark.createDataFrame([(None, "heeft diabetes")], "id string, note string")
    with pytest.raises(Exception, match="exited with error code 2|error code 2"):
        s9.pipe_scan(df, ["note"], "id", binary=cli).collect()


def test_bad_configuration_fails_on_the_driver(spark):
    import art9
    import art9.spark as s9

    df = spark.createDataFrame([("1", 3)], "id string, n int")
    with pytest.raises(art9.InputError, match='text column .n. is of type int'):
        s9.scan(df, ["n"], "id")
    with pytest.raises(art9.LoadError, match="unknown language"):
        s9.scan(df, ["n"], "id", lang="xx")


def test_spark_example_runs(cli):
    from conftest import REPO

    proc = subprocess.run(
        [sys.executable, str(REPO / "python" / "examples" / "spark_scan.py"),
         str(REPO / "examples" / "crm-notes.jsonl"), cli],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "RDD.pipe with the CLI found the same as mapInArrow" in proc.stdout
