"""art9: find and mask GDPR special-category data (Art. 9/10) in Dutch, Danish and English
CRM notes, from Python.

>>> import art9
>>> scanner = art9.Scanner()
>>> [f.category for f in scanner.scan("Klant heeft diabetes.")]
['health']
>>> scanner.mask("Klant heeft diabetes.")
'Klant heeft [HEALTH].'

The scanner is the Rust crate's, loaded once per process and configuration
(``art9.Scanner(...)`` with the same arguments returns the same object). Findings have the
keys of ``art9 scan --format jsonl`` and of ``art9 serve``; they never carry the matched
text unless ``include_text=True``. ``scan_arrow`` scans pyarrow record batches and tables
with the GIL released; ``art9.spark`` runs it on Spark.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from ._art9 import (
    FINDINGS_COLUMNS,
    Art9Error,
    Decision,
    Engine as _Engine,
    Finding,
    InputError,
    LoadError,
    RequestError,
    __version__,
)

__all__ = [
    "Scanner",
    "Finding",
    "Decision",
    "Art9Error",
    "LoadError",
    "RequestError",
    "InputError",
    "FINDINGS_COLUMNS",
    "__version__",
]


def _names(value: Union[None, str, Iterable[str]], what: str) -> Tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        # "nl,da" as on the command line, or one name.
        return tuple(v.strip() for v in value.split(",") if v.strip())
    names = tuple(value)
    for v in names:
        if not isinstance(v, str):
            raise TypeError(f"{what} must be strings, not {type(v).__name__}")
    return names


def _paths(value: Union[None, str, "os.PathLike[str]", Iterable[Any]]) -> Tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, os.PathLike)):
        value = [value]
    return tuple(os.path.abspath(os.fspath(p)) for p in value)


class Scanner:
    """A loaded scanner: lexicons, an optional policy, language and category restrictions.

    Arguments mirror the CLI's flags:

    * ``lexicons``: lexicon directories or YAML files added to the built-in ones
      (``--lexicon``); a file with ``replace: true`` replaces its language and category.
    * ``policy``: a built-in policy name (``default``, ``strict``, ...) or a policy YAML file
      (``--policy``). With it, ``scan`` and ``scan_arrow`` add each finding's ``action``, and
      ``check``/``mask`` use it unless they name another.
    * ``lang``: keep only lexicons of these languages (``"nl,da"`` or ``["nl", "da"]``).
    * ``categories``: keep only these categories.
    * ``no_builtin``: only the ``lexicons`` given; ``replace_lexicons``: every lexicons file
      replaces its language and category.
    * ``terms``: scan with a flat term list instead (``--terms``: a TSV
      ``term<TAB>lang<TAB>category``, the format of ``art9 lexicon export``).
    * ``typos``: report typo findings (``--typos``; otherwise only under a policy that says
      ``typos: true``); ``typo_word_lists``: files of words that are never typos.
    * ``min_likelihood``: the lowest likelihood reported (``--min-likelihood LEVEL|all``:
      ``very_unlikely``, ``unlikely``, ``possible``, ``likely``, ``very_likely``, or ``all``
      for every finding). It replaces the policy's ``min_likelihood`` rules, as on the
      command line; without it, the policy's apply, else ``possible``. It applies to ``scan``,
      ``scan_arrow``, ``check`` and ``mask``.

    Building a scanner loads and compiles the lexicons (tens of milliseconds); it is done once
    per process for each distinct configuration: calling ``Scanner(...)`` again with the same
    arguments returns the same, immutable, thread-safe object. Lexicon files are read when
    first loaded; call ``Scanner.clear_cache()`` after editing them.

    Raises ``LoadError`` for a lexicon, term list or policy that does not load (the message
    names ``file:line``) and for an unknown language or category.
    """

    _cache: Dict[tuple, "Scanner"] = {}
    _lock = threading.Lock()

    __slots__ = ("_engine", "_config", "__weakref__")

    def __new__(
        cls,
        lexicons: Union[None, str, "os.PathLike[str]", Sequence[Any]] = None,
        policy: Optional[Union[str, "os.PathLike[str]"]] = None,
        lang: Union[None, str, Sequence[str]] = None,
        categories: Union[None, str, Sequence[str]] = None,
        no_builtin: bool = False,
        replace_lexicons: bool = False,
        terms: Optional[Union[str, "os.PathLike[str]"]] = None,
        typos: bool = False,
        typo_word_lists: Union[None, str, "os.PathLike[str]", Sequence[Any]] = None,
        min_likelihood: Optional[str] = None,
    ) -> "Scanner":
        if min_likelihood is not None and not isinstance(min_likelihood, str):
            raise TypeError(
                f"min_likelihood must be a string, not {type(min_likelihood).__name__}"
            )
        if policy is not None:
            policy = os.fspath(policy)
            if os.sep in policy or policy.endswith((".yaml", ".yml")):
                policy = os.path.abspath(policy)
        key = (
            _paths(lexicons),
            policy,
            _names(lang, "lang"),
            _names(categories, "categories"),
            bool(no_builtin),
            bool(replace_lexicons),
            os.path.abspath(os.fspath(terms)) if terms is not None else None,
            bool(typos),
            _paths(typo_word_lists),
            min_likelihood,
        )
        with cls._lock:
            cached = cls._cache.get(key)
            if cached is not None:
                return cached
            self = object.__new__(cls)
            self._engine = _Engine(
                lexicons=list(key[0]),
                policy=key[1],
                lang=list(key[2]),
                categories=list(key[3]),
                no_builtin=key[4],
                replace_lexicons=key[5],
                terms=key[6],
                typos=key[7],
                typo_word_lists=list(key[8]),
                min_likelihood=key[9],
            )
            self._config = key
            cls._cache[key] = self
            return self

    @classmethod
    def clear_cache(cls) -> None:
        """Forget every loaded scanner (the next ``Scanner(...)`` loads the lexicons again)."""
        with cls._lock:
            cls._cache.clear()

    def __repr__(self) -> str:
        lexicons, policy, lang, categories, no_builtin, replace, terms, typos, words, least = (
            self._config
        )
        return (
            f"Scanner(lexicons={list(lexicons)!r}, policy={policy!r}, lang={list(lang)!r}, "
            f"categories={list(categories)!r}, no_builtin={no_builtin}, "
            f"replace_lexicons={replace}, terms={terms!r}, typos={typos}, "
            f"typo_word_lists={list(words)!r}, min_likelihood={least!r})"
        )

    @property
    def min_likelihood(self) -> Optional[str]:
        """The likelihood threshold given at construction (``None``: the policy's, else
        ``possible``)."""
        return self._engine.min_likelihood

    @property
    def policy(self) -> Optional[str]:
        """The name of the policy given at construction (``None`` without one)."""
        return self._engine.policy

    def policy_names(self) -> List[str]:
        """The policies ``check`` and ``mask`` may name: the built-in ones and the one loaded."""
        return self._engine.policy_names()

    def scan(self, text: str, *, field: Optional[str] = None, include_text: bool = False) -> List[Finding]:
        """The findings in ``text``, in order of their start.

        Offsets are UTF-8 byte offsets (``start``, ``end``) and char offsets (``char_start``,
        ``char_end``: Python string indices) into ``text``. ``field`` names the field the text
        comes from (per-field policy rules, and the finding's ``field``). With a policy, each
        finding has its ``action``. ``include_text`` adds the matched ``text`` and ``entry``.
        """
        return self._engine.scan(text, field=field, include_text=include_text)

    def check(
        self,
        input: Union[str, Mapping[str, str]],
        *,
        policy: Optional[str] = None,
        field: Optional[str] = None,
        include_text: bool = False,
        lang: Union[None, str, Sequence[str]] = None,
        subject: Optional[str] = None,
        context: Optional[Mapping[str, Union[None, str, int, float, bool]]] = None,
    ) -> Decision:
        """The pre-save check, as ``art9 check`` and ``POST /v1/check`` answer it.

        ``input`` is one text, or a mapping of field names to texts (per-field policy rules
        apply). ``policy`` names a built-in or the loaded policy (default: the scanner's, else
        ``default``). Returns a ``Decision``: ``decision`` (``accept``, ``mask`` or
        ``reject``), ``findings`` with their ``action``, and the masked ``text`` or ``fields``.
        ``subject`` and ``context`` (the record's other values) are for the policy's ``when``
        rules, as in a service request; they are never echoed back.

        Raises ``RequestError`` for an unknown policy or language.
        """
        langs = list(_names(lang, "lang")) if lang is not None else None
        return self._engine.check(
            _text_or_fields(input),
            policy=policy,
            field=field,
            include_text=include_text,
            lang=langs,
            subject=subject,
            context=dict(context) if context is not None else None,
        )

    def mask(
        self,
        input: Union[str, Mapping[str, str]],
        *,
        policy: Optional[str] = None,
        field: Optional[str] = None,
        subject: Optional[str] = None,
        context: Optional[Mapping[str, Union[None, str, int, float, bool]]] = None,
    ) -> Any:
        """``input`` with the policy's ``mask`` and ``reject`` findings replaced.

        Only bytes inside those findings change. A text gives a ``str`` (``field`` names it for
        per-field policy rules), a mapping of fields a ``dict`` of the masked fields. Raises ``RequestError`` for an unknown policy.
        """
        return self._engine.mask(
            _text_or_fields(input),
            policy=policy,
            field=field,
            subject=subject,
            context=dict(context) if context is not None else None,
        )

    def scan_arrow(
        self,
        data: Any,
        text_columns: Union[str, Sequence[str]],
        key_column: Optional[str] = None,
        subject_column: Optional[str] = None,
        *,
        include_text: bool = False,
        context_columns: Sequence[str] = (),
    ) -> Any:
        """Scan the ``text_columns`` of a pyarrow ``RecordBatch`` or ``Table`` (or any object
        with ``__arrow_c_array__``/``__arrow_c_stream__``); returns a ``pyarrow.RecordBatch``
        of findings with the columns ``art9.FINDINGS_COLUMNS``.

        The notes are read in place (no copy) and scanned with the GIL released, so threads
        scanning different batches run in parallel. Text columns must be string columns
        (``string``, ``large_string``, ``string_view`` or a dictionary of strings); nulls are
        empty notes. Key and subject columns may be of any type that casts to a string
        (integers, decimals, dates); ``record``/``subject`` are null where they are null.
        ``row`` is the row in the input (0-based, across a table's batches). Findings come in
        row order, then in the order of ``text_columns``, then by offset. With a policy, the
        key, subject and ``context_columns`` (the CLI's ``--context``) feed its ``when`` rules.

        Raises ``InputError`` for a missing column (the message lists the columns), a
        non-string text column, or a key that cannot be cast to a string.
        """
        if isinstance(text_columns, str):
            text_columns = [text_columns]
        if not (hasattr(data, "__arrow_c_array__") or hasattr(data, "__arrow_c_stream__")):
            raise TypeError(
                f"expected a pyarrow RecordBatch or Table (an Arrow PyCapsule object), not {type(data).__name__}"
            )
        out = self._engine.scan_arrow(
            data,
            list(text_columns),
            key_column=key_column,
            subject_column=subject_column,
            include_text=include_text,
            context_columns=list(context_columns),
        )
        import pyarrow as pa

        return pa.record_batch(out)


def _text_or_fields(input: Union[str, Mapping[str, str]]) -> Union[str, Dict[str, str]]:
    if isinstance(input, str):
        return input
    if isinstance(input, Mapping):
        return dict(input)
    raise TypeError(f"expected a str or a mapping of field names to str, not {type(input).__name__}")
