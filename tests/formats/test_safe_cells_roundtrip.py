"""The formula guard of our exports and the importers' reading of it are exact inverses, for any
text: an unedited export imports with no change (docs/export.md, "Formula injection")."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lms_core.formats.safe_cells import TRIGGERS, plain_cell, safe_cell
from lms_core.formats.sources import open_table
from lms_core.formats.tabular import Sheet, write_csv, write_xlsx

#: Text as a cell can hold it: no NUL (refused by the readers), nor the control characters an
#: XLSX file cannot hold; tabs, CR and LF included. Apostrophes and triggers are frequent.
_CHARS = st.one_of(
    st.sampled_from(["'", "=", "+", "-", "@", "\t", "\r", "\n", "x", " "]),
    st.characters(
        blacklist_categories=("Cs", "Cc"),
        blacklist_characters="\ufffe\uffff",
    ),
)
#: Any text, and often apostrophes before a trigger (the hard case) or before anything else.
TEXT = st.one_of(
    st.text(_CHARS, max_size=12),
    st.builds(
        "".join,
        st.tuples(
            st.text(st.just("'"), max_size=3),
            st.sampled_from(["", "'", "x", *TRIGGERS]),
            st.text(_CHARS, max_size=8),
        ),
    ),
)
CASES = [
    "'+x",
    "'=already quoted",
    "''=x",
    "'''-1",
    '=HYPERLINK("http://x")',
    "+33 1 23",
    "-5",
    "@home",
    "\t-tab",
    "'",
    "''",
    "'quoted'",
    "O'Neill",
    "",
]


@given(TEXT)
def test_plain_cell_undoes_safe_cell_for_any_text(text: str) -> None:
    written = safe_cell(text)
    assert plain_cell(written) == text
    assert not written.startswith(TRIGGERS)  # still safe in a spreadsheet


def test_the_rule_on_leading_apostrophes() -> None:
    assert [safe_cell(t) for t in ("'+x", "'=already quoted", "'quoted'", "'")] == [
        "''+x",
        "''=already quoted",
        "'quoted'",
        "'",
    ]
    assert plain_cell("'=already quoted") == "=already quoted"  # what an export writes for it
    assert plain_cell("''=already quoted") == "'=already quoted"
    assert [plain_cell(safe_cell(t)) for t in CASES] == CASES


def _csv_round_trip(tmp_path: Path, names: list[str]) -> list[str]:
    out = io.StringIO(newline="")
    rows = [(f"u{i}@example.org", n) for i, n in enumerate(names)]
    write_csv(out, Sheet("users", ["email", "full_name"], rows))
    path = tmp_path / "users.csv"
    path.write_text(out.getvalue(), encoding="utf-8", newline="")
    with open_table(path) as table:
        return [r.values["full_name"] for r in table.rows]


def _xlsx_round_trip(tmp_path: Path, names: list[str]) -> list[str]:
    path = tmp_path / "users.xlsx"
    rows = [(f"u{i}@example.org", n) for i, n in enumerate(names)]
    write_xlsx(path, [Sheet("users", ["email", "full_name"], rows)])
    with open_table(path) as table:
        return [r.values["full_name"] for r in table.rows]


def test_the_cases_round_trip_through_csv_and_xlsx(tmp_path: Path) -> None:
    assert _csv_round_trip(tmp_path, CASES) == CASES
    assert _xlsx_round_trip(tmp_path, CASES) == CASES
    written = list(csv.reader(io.StringIO((tmp_path / "users.csv").read_text(encoding="utf-8"))))
    assert [r[1] for r in written[1:4]] == ["''+x", "''=already quoted", "'''=x"]


_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(st.lists(TEXT, min_size=1, max_size=8))
def test_any_text_round_trips_through_csv(tmp_path: Path, names: list[str]) -> None:
    assert _csv_round_trip(tmp_path, names) == names


#: What an XLSX cell keeps as it is: XML reads a CR as LF, and the reader takes a cell of only
#: white space for an empty one (neither is about the apostrophe).
XLSX_TEXT = TEXT.map(lambda t: t.replace("\r", "\n")).filter(lambda t: t.strip() or not t)


@_SETTINGS
@given(st.lists(XLSX_TEXT, min_size=1, max_size=8))
def test_any_text_round_trips_through_xlsx(tmp_path: Path, names: list[str]) -> None:
    assert _xlsx_round_trip(tmp_path, names) == names


@given(TEXT)
def test_the_worksheet_and_question_bank_readers_use_the_same_rule(text: str) -> None:
    from lms_core.assignments.worksheet import unsafe_cell as worksheet_cell
    from lms_core.quizzes.bank.table import unsafe_cell as bank_cell

    assert worksheet_cell(safe_cell(text)) == text
    assert bank_cell(safe_cell(text)) == text
