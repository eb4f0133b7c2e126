"""Type stubs of the ``art9`` package."""

from os import PathLike
from typing import Any, ClassVar, Dict, List, Mapping, Optional, Sequence, Union, overload

import pyarrow as pa

from ._art9 import (
    FINDINGS_COLUMNS as FINDINGS_COLUMNS,
    Art9Error as Art9Error,
    Decision as Decision,
    Finding as Finding,
    InputError as InputError,
    LoadError as LoadError,
    RequestError as RequestError,
    __version__ as __version__,
)

_Paths = Union[None, str, PathLike[str], Sequence[Union[str, PathLike[str]]]]
_Names = Union[None, str, Sequence[str]]
_ContextValue = Union[None, str, int, float, bool]

class Scanner:
    """A loaded scanner, cached per configuration (see ``help(art9.Scanner)``)."""

    def __new__(
        cls,
        lexicons: _Paths = None,
        policy: Optional[Union[str, PathLike[str]]] = None,
        lang: _Names = None,
        categories: _Names = None,
        no_builtin: bool = False,
        replace_lexicons: bool = False,
        terms: Optional[Union[str, PathLike[str]]] = None,
        typos: bool = False,
        typo_word_lists: _Paths = None,
        min_likelihood: Optional[str] = None,
    ) -> Scanner: ...
    @classmethod
    def clear_cache(cls) -> None: ...
    @property
    def min_likelihood(self) -> Optional[str]: ...
    @property
    def policy(self) -> Optional[str]: ...
    def policy_names(self) -> List[str]: ...
    def scan(self, text: str, *, field: Optional[str] = None, include_text: bool = False) -> List[Finding]: ...
    def check(
        self,
        input: Union[str, Mapping[str, str]],
        *,
        policy: Optional[str] = None,
        field: Optional[str] = None,
        include_text: bool = False,
        lang: _Names = None,
        subject: Optional[str] = None,
        context: Optional[Mapping[str, _ContextValue]] = None,
    ) -> Decision: ...
    @overload
    def mask(
        self, input: str, *, policy: Optional[str] = None, field: Optional[str] = None,
        subject: Optional[str] = None, context: Optional[Mapping[str, _ContextValue]] = None,
    ) -> str: ...
    @overload
    def mask(
        self, input: Mapping[str, str], *, policy: Optional[str] = None, field: Optional[str] = None,
        subject: Optional[str] = None, context: Optional[Mapping[str, _ContextValue]] = None,
    ) -> Dict[str, str]: ...
    def scan_arrow(
        self,
        data: Union[pa.RecordBatch, pa.Table, Any],
        text_columns: Union[str, Sequence[str]],
        key_column: Optional[str] = None,
        subject_column: Optional[str] = None,
        *,
        include_text: bool = False,
        context_columns: Sequence[str] = (),
    ) -> pa.RecordBatch: ...
