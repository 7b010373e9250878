"""What a reader opens a file into: a :class:`Table` of :class:`SourceRow` s, and its header.

Shared by the CSV reader (``sources``) and the XLSX reader (``xlsx_read``), which both build
tables and match headers the same way; a module of its own so neither imports the other's
module for it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Final, Self

from lms_core.errors import FileProblem, FileRefused
from lms_core.formats.safe_cells import plain_cell as _plain_cell

#: The longest cell (in characters) a CSV column may hold unless the caller allows more for
#: it (``long_cells`` of ``sources.open_table``): Python's csv default. A longer cell is nearly
#: always a quote opened and never closed, which made the rest of the file one cell: the file
#: is refused where that cell starts.
CELL_LIMIT: Final = 128 * 1024
#: The longest text an XLSX cell holds: Excel's limit, which openpyxl enforces by silently
#: cutting longer text (so writers check it first, rather than lose the end of a value).
XLSX_CELL_LIMIT: Final = 32_767
#: What an import says of a file without a row to import, empty or only a header row: the
#: same refusal for both (a header-only file used to apply as a success that did nothing).
NO_ROWS: Final = "the file has no rows (it is empty, or has only a header row): nothing to import"


@dataclass(slots=True)
class SourceRow:
    """One data row: where it is in the user's file, and its cells by (our) column name.

    Not frozen: one is made per row of files with millions, and a frozen dataclass's
    ``__init__`` (``object.__setattr__`` per field) took 2.7 times as long (measured).
    """

    #: Display name: the base name, or "bundle.zip:users.csv".
    file: str
    #: The row number a spreadsheet shows: header = 1, first data row = 2. A CSV cell with a
    #: quoted line break still counts as one row; blank lines count (Excel shows them).
    line: int
    #: Column -> cell text, '' when empty. XLSX numbers as Excel shows them (123, not 123.0;
    #: dates ISO 8601). Keys are our column names where the header matched one (see
    #: ``Table.source_columns``), else the header as written.
    values: dict[str, str]
    #: XLSX: columns whose cell was stored as a number (leading zeros may be lost).
    numeric: frozenset[str] = frozenset()
    #: XLSX: columns whose cell was stored as a date, a time or a duration (Excel turns
    #: ``1/9/2024`` or ``3-1`` typed into a cell into one): text columns refuse them.
    dates: frozenset[str] = frozenset()


class Closing:
    """Runs ``_closers`` (last opened, first closed) on ``close()`` or leaving a ``with``.

    Shared by every reader result that holds open files (a :class:`Table`, a OneRoster
    bundle), so each only lists what it opened.
    """

    _closers: list[Callable[[], None]]

    def close(self) -> None:
        while self._closers:
            self._closers.pop()()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass
class Table(Closing):
    """An opened file: its header, a lazy iterator of rows, and what is needed to report."""

    file: str
    #: Header names as in the file, stripped of BOM and surrounding spaces.
    columns: list[str]
    #: Lazy, streaming; iterate once.
    rows: Iterator[SourceRow]
    #: Of the file's bytes (None when not known before iteration).
    sha256: str | None
    #: Our column -> the header as the user wrote it, for error messages.
    source_columns: dict[str, str] = field(default_factory=dict)
    #: Problems of single rows found while iterating (the row is then not yielded).
    problems: list[FileProblem] = field(default_factory=list)
    #: False (the default): when the rows run out, raise FileRefused(problems) if there are
    #: any, so a skipped row can never go unnoticed. True: the caller reads ``problems``
    #: itself after iterating, to report them beside its own validation errors.
    collect_problems: bool = False
    #: The row number of the header row (blank rows above it count, as Excel shows them).
    header_line: int = 1
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @classmethod
    def opened(
        cls,
        file: str,
        header: tuple[list[str], dict[str, str]],
        sha256: str | None,
        close: Callable[[], None],
    ) -> Table:
        """A table over an open file, its rows set next (they report problems to the table)."""
        columns, source = header
        table = cls(file=file, columns=columns, rows=iter(()), sha256=sha256, source_columns=source)
        table._closers.append(close)
        return table

    def column_for(self, ours: str) -> str:
        """The user's header for one of our columns (for FileProblem.column)."""
        return self.source_columns.get(ours, ours)

    def finished(self) -> None:
        """Called by the row iterators when the rows run out (see ``collect_problems``)."""
        if self.problems and not self.collect_problems:
            raise FileRefused(list(self.problems))


#: What lms_core.formats.safe_cells.safe_cell writes: an apostrophe before = + - @ tab CR
#: (and before apostrophes that precede one of them: plain_cell).
_GUARDED = ("'=", "'+", "'-", "'@", "'\t", "'\r")


def plain_cell(text: str) -> str:
    """Undo ``safe_cell``: an export's "'=HYPERLINK(...)" imports as "=HYPERLINK(...)", and
    "''+x" as "'+x", so a file exported, edited and imported again changes nothing."""
    return _plain_cell(text) if text.startswith("'") else text


_NORMALISE = re.compile(r"[\s\-]+")


def normalise_header(name: str) -> str:
    """'Full Name', 'full-name', ' FULL_NAME ' -> 'full_name' (to match our columns)."""
    return _NORMALISE.sub("_", name.strip().lower())


def read_header(
    raw: Sequence[str],
    display: str,
    line: int,
    required: Sequence[str],
    known: Sequence[str],
    aliases: Mapping[str, str] | None = None,
) -> tuple[list[str], list[str | None], dict[str, str]]:
    """Header names, the key each position is stored under, and our -> their names.

    ``aliases`` maps other header names to our columns (``"e-mail"`` -> ``email``). One is
    read only when the file has no header for the column itself (a file with both ``email``
    and ``e-mail`` reads ``email`` and ignores ``e-mail``, as before aliases existed), and
    only for a column of this table; two of them for one column are refused as ambiguous.
    """
    ours = {normalise_header(c): c for c in (*known, *required)}
    exact = set(ours.values())
    others = {
        normalise_header(alias): column
        for alias, column in (aliases or {}).items()
        if column in exact and normalise_header(alias) not in ours
    }
    columns = [c.replace("\ufeff", "").strip() for c in raw]
    keys: list[str | None] = []
    source: dict[str, str] = {}
    first_at: dict[str, int] = {}
    problems: list[FileProblem] = []
    #: Our column -> (index, header) of the headers that are other names of it.
    by_alias: dict[str, list[tuple[int, str]]] = {}
    for position, name in enumerate(columns, start=1):
        if not name:
            keys.append(None)  # an unnamed column (a trailing delimiter): ignored
            continue
        key = name if name in exact else ours.get(normalise_header(name), name)
        if key in first_at:
            problems.append(
                FileProblem(
                    f'the column "{name}" appears twice (columns {first_at[key]} and '
                    f"{position}); keep one and delete the other",
                    file=display,
                    line=line,
                    column=name,
                )
            )
            keys.append(None)
            continue
        first_at[key] = position
        keys.append(key)
        source[key] = name
        if key == name and normalise_header(name) in others:
            by_alias.setdefault(others[normalise_header(name)], []).append((position - 1, name))
    ambiguous: set[str] = set()
    for column, found in by_alias.items():
        if column in source:
            continue  # the column itself is in the file: its other names stay unknown columns
        if len(found) > 1:
            ambiguous.add(column)
            named = " and ".join(f'"{name}"' for _, name in found)
            problems.append(
                FileProblem(
                    f'the columns {named} both stand for "{column}"; keep one',
                    file=display,
                    line=line,
                    column=found[1][1],
                )
            )
            continue
        [(index, name)] = found
        del source[name]
        keys[index] = column
        source[column] = name
    #: Headers that are none of our columns, by their normalised form (to suggest one).
    unknown = {
        normalise_header(columns[i]): columns[i]
        for i, key in enumerate(keys)
        if key is not None and key not in exact
    }
    for name in required:
        if name not in source and name not in ambiguous:
            also = sorted(a for a, c in (aliases or {}).items() if c == name)
            other_names = f" (nor another name for it: {', '.join(also)})" if also else ""
            close = difflib.get_close_matches(name, list(unknown), n=1, cutoff=0.7)
            if close:
                other_names += f'; if "{unknown[close[0]]}" is it, name that column "{name}"'
            problems.append(
                FileProblem(
                    f'the required column "{name}" is missing from the header row{other_names}',
                    file=display,
                    line=line,
                    column=name,
                )
            )
    if problems:
        raise FileRefused(problems)
    return columns, keys, source
