"""Type stubs of the extension module ``art9._art9`` (use it through ``art9``)."""

from os import PathLike
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

__version__: str
#: The columns of a ``scan_arrow`` findings batch, in order.
FINDINGS_COLUMNS: List[str]

class Art9Error(Exception):
    """Base class of the errors art9 raises; the message is one line and never quotes the
    scanned text."""

class LoadError(Art9Error):
    """A lexicon or policy could not be loaded (the message names ``file:line``), or an
    unknown language or category was named."""

class RequestError(Art9Error):
    """A request cannot be answered: an unknown policy or language."""

class InputError(Art9Error):
    """Arrow input that cannot be scanned: a missing column, a text column that is not a
    string column, a key column of a nested type."""

class Finding:
    """One finding: the keys of a JSON Lines finding of ``art9 scan`` and of ``art9 serve``."""

    #: Field name (requests with named fields, ``scan(field=...)``).
    field: Optional[str]
    #: ``health``, ``politics``, ``religion``, ``ethnicity``, ``sexual_orientation``,
    #: ``trade_union`` or ``criminal``.
    category: str
    #: The category's fideslang data-category key: ``user.health``,
    #: ``user.demographic.political_opinion``, ... (as the CLI's ``data_category``).
    data_category: str
    #: Language of the lexicon that matched: ``nl``, ``da`` or ``en``.
    lang: str
    #: Language of the note by a function-word vote, else by a sure character-trigram guess:
    #: ``nl``, ``da``, ``en`` or ``und`` (grades use the vote alone).
    note_lang: str
    #: ``very_unlikely``, ``unlikely``, ``possible``, ``likely`` or ``very_likely``.
    likelihood: str
    #: UTF-8 byte offsets into the original text (end exclusive).
    start: int
    end: int
    #: Char offsets (Python string indices) into the original text (end exclusive).
    char_start: int
    char_end: int
    #: ``allow``, ``flag``, ``mask`` or ``reject`` when a policy was applied.
    action: Optional[str]
    #: ``homoglyph``, ``spaced`` or ``typo`` for a finding of an evasion lane.
    evasion: Optional[str]
    #: The matched text, only with ``include_text=True``.
    text: Optional[str]
    #: The lexicon entry id, only with ``include_text=True``.
    entry: Optional[str]
    def to_dict(self) -> Dict[str, Any]:
        """The finding as the CLI's JSON object (keys without a value left out)."""
    def __eq__(self, other: object) -> bool: ...

class Decision:
    """The answer of ``Scanner.check``."""

    #: ``accept``, ``mask`` or ``reject``.
    decision: str
    #: The policy applied.
    policy: str
    #: The findings, each with its ``action``.
    findings: List[Finding]
    #: The text with ``mask`` and ``reject`` findings replaced (a text request).
    text: Optional[str]
    #: Each field with ``mask`` and ``reject`` findings replaced (a fields request).
    fields: Optional[Dict[str, str]]

class Engine:
    """The loaded scanner and policies behind ``art9.Scanner`` (use that: it caches)."""

    def __init__(
        self,
        lexicons: Sequence[Union[str, PathLike[str]]] = ...,
        policy: Optional[str] = None,
        lang: Sequence[str] = ...,
        categories: Sequence[str] = ...,
        no_builtin: bool = False,
        replace_lexicons: bool = False,
        terms: Optional[Union[str, PathLike[str]]] = None,
        typos: bool = False,
        typo_word_lists: Sequence[Union[str, PathLike[str]]] = ...,
        min_likelihood: Optional[str] = None,
    ) -> None: ...
    @property
    def min_likelihood(self) -> Optional[str]: ...
    @property
    def policy(self) -> Optional[str]: ...
    def policy_names(self) -> List[str]: ...
    def scan(self, text: str, field: Optional[str] = None, include_text: bool = False) -> List[Finding]: ...
    def check(
        self,
        input: Union[str, Mapping[str, str]],
        policy: Optional[str] = None,
        field: Optional[str] = None,
        include_text: bool = False,
        lang: Optional[Sequence[str]] = None,
        subject: Optional[str] = None,
        context: Optional[Mapping[str, Union[None, str, int, float, bool]]] = None,
    ) -> Decision: ...
    def mask(
        self,
        input: Union[str, Mapping[str, str]],
        policy: Optional[str] = None,
        field: Optional[str] = None,
        subject: Optional[str] = None,
        context: Optional[Mapping[str, Union[None, str, int, float, bool]]] = None,
    ) -> Union[str, Dict[str, str]]: ...
    def scan_arrow(
        self,
        data: Any,
        text_columns: Sequence[str],
        key_column: Optional[str] = None,
        subject_column: Optional[str] = None,
        include_text: bool = False,
        context_columns: Sequence[str] = ...,
    ) -> Any: ...
