"""The control-character rule (issue 11) and the zip checks, below the CLI."""

from __future__ import annotations

import io
import warnings
import zipfile

import pytest

from lms_core.errors import FileRefused
from lms_core.formats.archive import check_archive
from lms_core.formats.cells import check_bidi, check_control, check_email_invisible
from lms_core.formats.xlsx_read import check_extent, column_letters


@pytest.mark.parametrize(
    ("value", "multiline", "named"),
    [
        ("a\x00b", False, "a NUL character (U+0000)"),
        ("a\x00b", True, "a NUL character (U+0000)"),
        ("a\tb", False, "a tab (U+0009)"),
        ("a\nb", False, "a line break (U+000A)"),
        ("a\rb", False, "a carriage return (U+000D)"),
        ("a\x1bb", True, "an escape character (U+001B)"),
        ("a\x7f", True, "a delete character (U+007F)"),
        ("a\x85", True, "a control character (U+0085)"),
        ("\ufeffX1", True, "a byte-order mark (U+FEFF"),
    ],
)
def test_control_characters_are_named(value: str, multiline: bool, named: str) -> None:
    message = check_control(value, multiline=multiline)
    assert message is not None and message.startswith(f"contains {named}")


@pytest.mark.parametrize("value", ["Zoë Ærøskøbing", "a b", "x\u00a0y", "", "日本"])
def test_text_without_control_characters_passes(value: str) -> None:
    assert check_control(value) is None


def test_tabs_and_line_breaks_pass_in_multi_line_text() -> None:
    assert check_control("one\r\ntwo\tthree", multiline=True) is None


# Bidirectional controls (Trojan Source) -------------------------------------------------

BIDI = "\u2066\u2067\u2068\u2069"
BALANCED = [
    "\u2067\u05e9\u05dc\u05d5\u05dd\u2069 Ann",  # a Hebrew word isolated in Latin text
    "\u202bAnn\u202c Lee",
    "\u202e\u2066a\u2069\u202c",  # nested, each closed in order
    "Ann\u200f",  # a mark reorders nothing after the value
]


@pytest.mark.parametrize("value", BALANCED)
def test_balanced_bidirectional_controls_pass_in_free_text(value: str) -> None:
    assert check_control(value) is None
    assert check_control(value, multiline=True) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Ann \u202eeviL", "contains a right-to-left override (U+202E) that is not closed"),
        ("\u2066Ann", "contains a left-to-right isolate (U+2066) that is not closed"),
        ("\u202a\u2066a\u202c", "contains a pop directional formatting (U+202C) that closes"),
        ("Ann\u2069", "contains a pop directional isolate (U+2069) that closes nothing"),
        ("\u2068a\u202c\u2069", "contains a pop directional formatting (U+202C) that closes"),
    ],
)
def test_unbalanced_bidirectional_controls_are_refused_in_free_text(
    value: str, message: str
) -> None:
    found = check_control(value)
    assert found is not None and found.startswith(message), found
    assert check_bidi(value) == found


@pytest.mark.parametrize("value", [*BALANCED, "S-\u200e1", "S-\u202d1"])
def test_no_bidirectional_control_passes_in_an_identifier_or_an_e_mail(value: str) -> None:
    char = next(c for c in value if c in "\u200e\u200f\u202a\u202b\u202c\u202d\u202e" + BIDI)
    named = f"(U+{ord(char):04X})"
    found = check_control(value, identifier=True)
    assert found is not None and named in found and "an identifier cannot hold" in found
    email = check_email_invisible(f"a{value}@x.org")
    assert email is not None and email.startswith("the e-mail address contains ")
    assert named in email


def test_two_members_of_one_name_are_refused_whatever_their_case() -> None:
    for second in ("xl/worksheets/sheet1.xml", "XL/Worksheets/Sheet1.xml"):
        data = io.BytesIO()
        with warnings.catch_warnings(), zipfile.ZipFile(data, "w") as archive:
            warnings.simplefilter("ignore", UserWarning)
            archive.writestr("xl/worksheets/sheet1.xml", "<a/>")
            archive.writestr(second, "<b/>")
        with pytest.raises(FileRefused) as caught:
            check_archive(io.BytesIO(data.getvalue()), display="w.xlsx")
        assert caught.value.errors[0].message == (
            f'refused: the archive holds two files named "{second}"; it is damaged'
        )


@pytest.mark.parametrize(
    ("number", "letters"), [(1, "A"), (26, "Z"), (27, "AA"), (702, "ZZ"), (16384, "XFD")]
)
def test_column_letters(number: int, letters: str) -> None:
    assert column_letters(number) == letters


def _sheet_zip(sheet_xml: str) -> io.BytesIO:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", sheet_xml)
    data.seek(0)
    return data


@pytest.mark.parametrize(
    ("ref", "line"),
    [
        ("r='XFD5000'", 5000),  # single quotes are XML too
        ('r = "xfd5000"', 5000),  # spaces around "=", lower case
        ('r="XFD000000000000000005000"', 5000),  # leading zeros
        ('r="A' + "9" * 5000 + '"', 99_999_999_999),  # more digits than int() takes
        ('r="' + "Z" * 100_000 + '1"', 1),  # a hostile run of letters
    ],
)
def test_hostile_references_are_read_as_calamine_would(ref: str, line: int) -> None:
    xml = f'<worksheet><sheetData><row r="1"><c {ref}><v>1</v></c></row></sheetData></worksheet>'
    source = _sheet_zip(xml)
    members = check_archive(source, display="w.xlsx")
    with pytest.raises(FileRefused) as caught:
        check_extent(source, members, "w.xlsx")
    [problem] = caught.value.errors
    assert problem.line == line
    assert problem.message.startswith("refused: the sheet has a cell at ")


def test_a_reference_cut_by_a_chunk_is_read_whole() -> None:
    head = "<worksheet><sheetData><row>"
    for cut in range(1, 14):  # the 1 MB chunk ends inside ' r="XFD5000"', at each place
        pad = (1 << 20) - len(head) - cut
        xml = f'{head}{" " * pad}<c r="XFD5000"/></row></sheetData></worksheet>'
        source = _sheet_zip(xml)
        with pytest.raises(FileRefused):
            check_extent(source, check_archive(source, display="w.xlsx"), "w.xlsx")
