"""art9 on Spark: scan a DataFrame's text columns on the executors, roll findings up per data
subject, or stream partitions through the ``art9`` binary where no wheel can be installed.

``scan`` uses ``DataFrame.mapInArrow`` (Spark >= 3.3): each partition's Arrow record batches go
to ``Scanner.scan_arrow`` as they are, in the Python worker that Spark starts anyway; the
scanner is loaded once per worker process (``art9.Scanner`` caches it). The wheel must be
installed on the executors (it is one ``abi3`` wheel per platform, any CPython >= 3.9).

>>> from art9 import spark as art9_spark                      # doctest: +SKIP
>>> findings = art9_spark.scan(notes, ["note"], key_column="id", subject_column="customer_id")
>>> per_subject = art9_spark.subjects(findings, notes, subject_column="customer_id")

``pipe_scan`` is the recipe for clusters where only a binary can be shipped: ``RDD.pipe``
writes each partition's rows as JSON Lines to ``art9 scan - --format jsonl`` and reads its
findings back, in input order.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any, Iterator, Optional, Sequence, Union

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

__all__ = ["FINDINGS_SCHEMA", "SUBJECTS_COLUMNS", "scan", "subjects", "pipe_scan", "pipe_command"]

#: The columns of ``scan``'s findings DataFrame (``scan_arrow``'s without ``row``, which is
#: a position within one Arrow batch and means nothing across a cluster).
FINDINGS_SCHEMA = (
    "record string, subject string, field string, category string, data_category string, "
    "lang string, note_lang string, start long, `end` long, char_start long, char_end long, "
    "likelihood string, action string, evasion string, text string, entry string"
)
_FINDINGS_NAMES = [
    "record", "subject", "field", "category", "data_category", "lang", "note_lang", "start",
    "end", "char_start", "char_end", "likelihood", "action", "evasion", "text", "entry",
]

#: The columns of ``subjects``'s DataFrame, as ``art9 scan --subjects-out``.
SUBJECTS_COLUMNS = [
    "subject", "records_scanned", "records_with_findings", "categories", "findings",
    "records", "fields",
]


def _columns(text_columns: Union[str, Sequence[str]]) -> list:
    if isinstance(text_columns, str):
        return [text_columns]
    cols = list(text_columns)
    if not cols:
        raise ValueError("text_columns is empty: name at least one column to scan")
    return cols


def scan(
    df: "DataFrame",
    text_columns: Union[str, Sequence[str]],
    key_column: str,
    subject_column: Optional[str] = None,
    *,
    lexicons: Any = None,
    policy: Optional[str] = None,
    lang: Any = None,
    categories: Any = None,
    no_builtin: bool = False,
    replace_lexicons: bool = False,
    terms: Any = None,
    typos: bool = False,
    typo_word_lists: Any = None,
    min_likelihood: Optional[str] = None,
    include_text: bool = False,
    context_columns: Sequence[str] = (),
) -> "DataFrame":
    """The findings in ``df``'s ``text_columns``: a DataFrame with ``FINDINGS_SCHEMA``.

    ``key_column`` identifies a row (``record``, as a string); ``subject_column`` names the
    data subject (``subject``, for ``subjects``); ``context_columns`` carry values for the
    policy's ``when`` rules (the CLI's ``--context``). The scanner options are those of
    ``art9.Scanner``; lexicon and policy files must be readable at the same path on every
    executor (or use ``SparkContext.addFile`` and pass ``SparkFiles.get`` paths).

    Only the key, subject and text columns leave the JVM. The configuration is checked on the
    driver first (an unknown language, a broken lexicon or a non-string text column is one
    error here, not a failed task per partition).
    """
    import art9

    cols = _columns(text_columns)
    config = dict(
        lexicons=lexicons,
        policy=policy,
        lang=lang,
        categories=categories,
        no_builtin=no_builtin,
        replace_lexicons=replace_lexicons,
        terms=terms,
        typos=typos,
        typo_word_lists=typo_word_lists,
        min_likelihood=min_likelihood,
    )
    art9.Scanner(**config)  # fails on the driver for a bad configuration
    dtypes = dict(df.dtypes)
    for c in cols:
        if c not in dtypes:
            raise art9.InputError(
                f"text column {c!r} is not in the DataFrame; its columns are: {', '.join(df.columns)}"
            )
        if dtypes[c] != "string":
            raise art9.InputError(
                f"text column {c!r} is of type {dtypes[c]}, not a string column (cast it to string first)"
            )
    context_columns = list(context_columns)
    for role, c in (("key", key_column), ("subject", subject_column), *(("context", c) for c in context_columns)):
        if c is not None and c not in dtypes:
            raise art9.InputError(
                f"{role} column {c!r} is not in the DataFrame; its columns are: {', '.join(df.columns)}"
            )
    wanted = []
    for c in [key_column, subject_column, *cols, *context_columns]:
        if c is not None and c not in wanted:
            wanted.append(c)

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import art9 as _art9
        import pyarrow as pa

        scanner = _art9.Scanner(**config)
        for batch in batches:
            out = scanner.scan_arrow(
                batch,
                cols,
                key_column,
                subject_column,
                include_text=include_text,
                context_columns=context_columns,
            )
            yield pa.RecordBatch.from_arrays(
                [out.column(n) for n in _FINDINGS_NAMES], names=_FINDINGS_NAMES
            )

    return df.select(*wanted).mapInArrow(run, FINDINGS_SCHEMA)


def subjects(
    findings: "DataFrame",
    df: Optional["DataFrame"] = None,
    subject_column: Optional[str] = None,
) -> "DataFrame":
    """The per-subject roll-up of ``scan``'s findings, merged across all partitions: one row
    per subject with findings, with the columns of ``art9 scan --subjects-out``
    (``SUBJECTS_COLUMNS``): ``records_with_findings``, ``categories`` (sorted),
    ``findings`` (a map category -> count), ``records`` (the keys with findings, sorted: a
    cluster has no input order) and ``fields``.

    ``records_scanned`` counts all of the subject's rows in ``df`` (with findings or not);
    without ``df`` it is null. Counts and keys only, never note text. Rows whose subject is
    null form one group with a null ``subject``.
    """
    from pyspark.sql import functions as F

    per_category = findings.groupBy("subject", "category").agg(F.count(F.lit(1)).alias("n"))
    cats = per_category.groupBy("subject").agg(
        F.map_from_entries(F.array_sort(F.collect_list(F.struct("category", "n")))).alias("findings"),
        F.array_sort(F.collect_list("category")).alias("categories"),
    )
    recs = findings.groupBy("subject").agg(
        F.countDistinct("record").alias("records_with_findings"),
        F.array_sort(F.collect_set("record")).alias("records"),
        F.array_sort(F.collect_set("field")).alias("fields"),
    )
    out = recs.join(cats, recs["subject"].eqNullSafe(cats["subject"])).select(
        recs["subject"], "records_with_findings", "categories", "findings", "records", "fields"
    )
    if df is not None:
        if subject_column is None:
            raise ValueError("subjects(findings, df) needs subject_column to count records_scanned")
        scanned = df.groupBy(F.col(subject_column).cast("string").alias("_subject")).agg(
            F.count(F.lit(1)).alias("records_scanned")
        )
        out = out.join(scanned, out["subject"].eqNullSafe(scanned["_subject"]), "left")
    else:
        out = out.withColumn("records_scanned", F.lit(None).cast("long"))
    return out.select(*SUBJECTS_COLUMNS)


def pipe_command(
    key_column: str,
    binary: str = "art9",
    args: Sequence[str] = (),
) -> str:
    """The command ``pipe_scan`` runs per partition: ``art9 scan - --format jsonl --key KEY
    -q ARGS``, wrapped so that exit code 1 (findings found) is success and 2 (an error, or a
    record skipped) fails the task: a skipped record is never lost silently."""
    art9_args = ["scan", "-", "--format", "jsonl", "--key", key_column, "-q", *args]
    script = '"$0" "$@"; s=$?; [ "$s" -le 1 ] || exit "$s"'
    return " ".join(shlex.quote(a) for a in ["sh", "-c", script, binary, *art9_args])


def pipe_scan(
    df: "DataFrame",
    text_columns: Union[str, Sequence[str]],
    key_column: str,
    *,
    binary: str = "art9",
    args: Sequence[str] = (),
) -> "DataFrame":
    """The findings of the ``art9`` binary over ``df``, through ``RDD.pipe``: for clusters
    where the wheel cannot be installed but a binary can be shipped (``spark-submit --files
    art9`` and ``binary="./art9"``).

    Each partition's rows (the key and text columns, as ``DataFrame.toJSON`` writes them) go
    to ``art9 scan - --format jsonl --key KEY`` on its standard input; its findings come back
    in input order and are parsed into the columns of ``art9 scan``'s JSON Lines (``record``,
    ``line`` within the partition, ``field``, ``category``, ``lang``, offsets, ``action``
    with ``--policy`` in ``args``). Null text values are left out by ``toJSON`` and so are
    empty notes; a null key makes the CLI skip the record, which fails the task (filter or
    fill null keys first). ``args`` adds CLI flags (``--policy``, ``--lexicon``, ``--lang``).
    """
    cols = _columns(text_columns)
    wanted = [key_column] + [c for c in cols if c != key_column]
    from pyspark.sql import functions as F

    dtypes = dict(df.dtypes)
    for c in cols:
        if dtypes.get(c) != "string":
            # The CLI scans the string fields of each JSON line: any other value would be
            # left out without a word.
            raise ValueError(f"text column {c!r} is of type {dtypes.get(c)}, not a string column")
    json_rows = df.select(F.to_json(F.struct(*wanted)).alias("j")).rdd.map(lambda r: r[0])
    lines = json_rows.pipe(pipe_command(key_column, binary, args), checkCode=True)
    schema = (
        "record string, line long, field string, category string, data_category string, lang string, "
        "note_lang string, start long, `end` long, char_start long, char_end long, "
        "likelihood string, action string, evasion string"
    )
    spark = df.sparkSession
    return spark.read.schema(schema).json(lines)
