"""art9 on Ray Data: a callable class for ``Dataset.map_batches`` that loads the scanner once
per worker (an actor) and scans each block's Arrow batches with ``Scanner.scan_arrow``.

>>> import ray, art9.ray
>>> ds = ray.data.read_parquet("s3://crm/notes/")             # doctest: +SKIP
>>> findings = art9.ray.scan(ds, ["note"], "id", concurrency=8)  # doctest: +SKIP
>>> findings.write_parquet("s3://crm/findings/")              # doctest: +SKIP

Ray is not a dependency of the package: install ``ray[data]`` where you run it (the same
``art9`` wheel on every node, as ``pip install art9`` or through ``runtime_env``).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Union

__all__ = ["FINDINGS_COLUMNS", "Scan", "scan"]

#: The columns of ``scan``'s findings Dataset: ``art9.FINDINGS_COLUMNS`` without ``row``
#: (a position within one batch, which means nothing across a cluster).
FINDINGS_COLUMNS = [
    "record", "subject", "field", "category", "data_category", "lang", "note_lang", "start",
    "end", "char_start", "char_end", "likelihood", "action", "evasion", "text", "entry",
]


def _columns(text_columns: Union[str, Sequence[str]]) -> list:
    if isinstance(text_columns, str):
        return [text_columns]
    cols = list(text_columns)
    if not cols:
        raise ValueError("text_columns is empty: name at least one column to scan")
    return cols


class Scan:
    """``map_batches`` callable: ``ds.map_batches(art9.ray.Scan, fn_constructor_kwargs=...,
    batch_format="pyarrow", concurrency=N)``.

    The constructor takes ``text_columns``, ``key_column``, ``subject_column``,
    ``include_text`` and ``context_columns`` as ``Scanner.scan_arrow`` does, and the scanner
    options of ``art9.Scanner`` (``policy``, ``lang``, ``lexicons``, ``min_likelihood``, ...).
    Each call scans one ``pyarrow.Table`` (the GIL is released while scanning) and returns
    the findings as a table with ``FINDINGS_COLUMNS``.
    """

    def __init__(
        self,
        text_columns: Union[str, Sequence[str]],
        key_column: Optional[str] = None,
        subject_column: Optional[str] = None,
        *,
        include_text: bool = False,
        context_columns: Sequence[str] = (),
        **scanner_options: Any,
    ) -> None:
        import art9

        self._scanner = art9.Scanner(**scanner_options)
        self._columns = _columns(text_columns)
        self._key = key_column
        self._subject = subject_column
        self._include_text = include_text
        self._context = list(context_columns)

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        out = self._scanner.scan_arrow(
            batch,
            self._columns,
            self._key,
            self._subject,
            include_text=self._include_text,
            context_columns=self._context,
        )
        return pa.Table.from_batches([out]).select(FINDINGS_COLUMNS)


def scan(
    ds: Any,
    text_columns: Union[str, Sequence[str]],
    key_column: str,
    subject_column: Optional[str] = None,
    *,
    concurrency: Union[int, tuple] = 1,
    batch_size: Optional[int] = 4096,
    include_text: bool = False,
    context_columns: Sequence[str] = (),
    **scanner_options: Any,
) -> Any:
    """The findings in ``ds``'s ``text_columns``: a Ray ``Dataset`` with ``FINDINGS_COLUMNS``.

    ``concurrency`` is the number of scanning actors (each loads the scanner once and takes
    one CPU), or a ``(min, max)`` range for autoscaling; leave CPUs for Ray's read tasks
    (with every CPU taken by scanning actors, the reads wait for ever). Only the key, subject, context and text columns are
    handed to the actors. The configuration is checked here first, so that a bad language or
    a broken lexicon is one error on the driver, not a failed actor per node. Findings of a
    block come in row order; to get them in input order across blocks, set
    ``ray.data.DataContext.get_current().execution_options.preserve_order = True``.
    """
    import art9
    from ray.data import ActorPoolStrategy

    cols = _columns(text_columns)
    art9.Scanner(**scanner_options)  # fails here for a bad configuration
    names = ds.columns()
    context_columns = list(context_columns)
    for role, c in (
        *(("text", c) for c in cols),
        ("key", key_column),
        ("subject", subject_column),
        *(("context", c) for c in context_columns),
    ):
        if c is not None and c not in names:
            raise art9.InputError(
                f"{role} column {c!r} is not in the Dataset; its columns are: {', '.join(names)}"
            )
    wanted = []
    for c in [key_column, subject_column, *cols, *context_columns]:
        if c is not None and c not in wanted:
            wanted.append(c)
    return ds.select_columns(wanted).map_batches(
        Scan,
        fn_constructor_args=(cols, key_column, subject_column),
        fn_constructor_kwargs=dict(
            include_text=include_text, context_columns=context_columns, **scanner_options
        ),
        batch_format="pyarrow",
        batch_size=batch_size,
        zero_copy_batch=True,
        compute=(
            ActorPoolStrategy(min_size=concurrency[0], max_size=concurrency[1])
            if isinstance(concurrency, tuple)
            else ActorPoolStrategy(size=concurrency)
        ),
    )
