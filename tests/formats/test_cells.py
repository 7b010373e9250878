"""What Excel does to data, caught with real-world values and no false alarms on real names."""

# ruff: noqa: RUF001  (look-alike characters are what these tests are about)

from __future__ import annotations

import pytest

from lms_core.formats.cells import (
    DuplicateTracker,
    LeadingZeroTracker,
    check_email_spacing,
    check_identifier,
    check_text,
    mojibake_repair,
)

#: Real names from many languages: none of them is mojibake.
REAL_NAMES = [
    "Müller",
    "José Núñez",
    "Ólafur Ragnar Grímsson",
    "Øystein Ærø",
    "Zoë Saldaña",
    "SÃO PAULO",
    "JOÃO CONCEIÇÃO",
    "Dvořák",
    "Łukasz Wąsowski",
    "Çağlar Söyüncü",
    "Þórbjörg Ðuric",
    "Åsa Öberg",
    "Straße",
    "François Lefèvre-Dupré",
    "Nguyễn Thị Minh Khai",
    "Иван Петров",
    "Μαρία Παπαδοπούλου",
    "李小龍",
    "محمد",
    "O'Neill – Smith",
    "Renée “Ree” Zellweger",
    "ÀÉÎÕÜ",
    "ÃÂ",
    "Ñuñoa",
    "Ævar Þór",
    "naïve café résumé",
    "€100 prize",
]


@pytest.mark.parametrize("name", REAL_NAMES)
def test_no_false_mojibake_on_real_names(name: str) -> None:
    assert check_text(name) is None


@pytest.mark.parametrize(
    ("garbled", "original"),
    [
        ("JosÃ©", "José"),
        ("MÃ¼ller", "Müller"),
        ("ZoÃ«", "Zoë"),
        ("Ã˜ystein", "Øystein"),
        ("Itâ€™s", "It’s"),
        ("BjÃ¶rk GuÃ°mundsdÃ³ttir", "Björk Guðmundsdóttir"),
        ("Å\x81ukasz", "Łukasz"),  # 0x81 is not in Windows-1252: read as Latin-1
        ("Ð˜Ð²Ð°Ð½", "Иван"),
        ("ÃƒÂ©cole", "école"),  # saved twice the wrong way
        ("Ã©lodie DvoÅ™Ã¡k", "élodie Dvořák"),
        ("Ã\u00a0bientÃ´t", "àbientôt"),  # à's second byte is a non-breaking space
    ],
)
def test_mojibake_is_found_and_repaired(garbled: str, original: str) -> None:
    assert mojibake_repair(garbled) == original
    message = check_text(garbled)
    assert message is not None
    assert f'"{original}"' in message
    assert "CSV UTF-8" in message


@pytest.mark.parametrize(
    "value", ["1.23E+05", "1,23E+05", "4.5e+11", " 7E+3 ", "1.23457E+19", "-2E-3"]
)
def test_scientific_notation_ids(value: str) -> None:
    message = check_identifier(value)
    assert message is not None
    assert "scientific notation" in message
    assert "format the column as Text" in message


def test_long_ids_padded_with_zeros_by_excel() -> None:
    # 1234567890123456789 typed into Excel comes back as 1234567890123450000.
    message = check_identifier("1234567890123450000")
    assert message is not None and "15" in message
    # A 16+ digit ID whose tail is not all zeros was not touched by Excel.
    assert check_identifier("1234567890123456789") is None
    # Real IDs can end in zeros when they are short.
    assert check_identifier("1000") is None
    assert check_identifier("100000000000000") is None  # 15 digits: exact in Excel
    # Stored as a number in an XLSX: more than 15 digits cannot be right.
    message = check_identifier("1234567890123456789", numeric=True)
    assert message is not None and "15" in message


def test_numeric_cells_in_identifier_columns() -> None:
    message = check_identifier("12345", numeric=True)
    assert message is not None and "leading zeros" in message
    assert check_identifier("00123") is None
    assert check_identifier("S-00123", numeric=False) is None
    assert check_identifier("") is None
    assert check_identifier("stu-1001") is None
    assert check_identifier("E3001") is None  # letters then digits, no exponent sign


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ("anna@example.org\u00a0", "non-breaking space"),
        ("anna\u202f@example.org", "narrow non-breaking space"),
        ("anna@exam\u2007ple.org", "figure space"),
        ("\u200banna@example.org", "zero-width space"),
        ("anna@example.org\ufeff", "byte-order mark"),
        ("anna@exam\u00adple.org", "soft hyphen"),
    ],
)
def test_invisible_characters_in_emails(value: str, what: str) -> None:
    message = check_email_spacing(value)
    assert message is not None and what in message


def test_spaces_around_emails() -> None:
    assert check_email_spacing(" anna@example.org") == (
        "the e-mail address has spaces before or after it; remove them"
    )
    assert check_email_spacing("anna@example.org\t") is not None
    assert check_email_spacing("anna@example.org") is None
    assert check_email_spacing("zoë.müller@exämple.org") is None
    assert check_email_spacing("anna @example.org") is not None


def test_leading_zero_tracker_finds_shortened_ids() -> None:
    tracker = LeadingZeroTracker()
    values = ["4512", "0012345", "0012346", "0099999", "1234567", "0000001", "12347", "0012348"]
    for line, value in enumerate(values, start=2):
        tracker.observe(line, value)
    found = tracker.finish()
    assert [(line, value) for line, value, _ in found] == [(2, "4512"), (8, "12347")]
    assert "7" in found[0][2] and "leading zeros" in found[0][2]


def test_leading_zero_tracker_quiet_on_unpadded_or_mixed_ids() -> None:
    tracker = LeadingZeroTracker()
    for line, value in enumerate([str(n) for n in range(1, 200)], start=2):
        tracker.observe(line, value)
    assert tracker.finish() == []  # 1, 2, ... 199: no fixed width, no padding
    tracker = LeadingZeroTracker()
    for line, value in enumerate(["1234567", "2345678", "3456789", "4567890", "12345"], 2):
        tracker.observe(line, value)
    assert tracker.finish() == []  # fixed width but none starts with 0: not padded
    tracker = LeadingZeroTracker()
    for line, value in enumerate(["stu-001", "stu-002", "0003", "12"], 2):
        tracker.observe(line, value)
    assert tracker.finish() == []  # too few digit-only values to judge


def test_duplicate_tracker_names_both_lines() -> None:
    tracker = DuplicateTracker()
    assert tracker.check("anna@example.org", 2) is None
    assert tracker.check("bob@example.org", 3) is None
    assert tracker.check(" Anna@Example.ORG", 7) == (
        '" Anna@Example.ORG" appears twice in the file: on line 2 and on line 7; keep one'
    )
    assert tracker.first_line("bob@example.org", 9) == 3
    assert len(tracker) == 2
    exact = DuplicateTracker(normalise=False)
    exact.first_line("ABC", 2)
    assert exact.first_line("abc", 3) is None


def test_duplicate_tracker_grows_and_keeps_every_key() -> None:
    tracker = DuplicateTracker(capacity=4)
    for i in range(20_000):
        assert tracker.first_line(f"user{i}@example.org", i + 2) is None
    assert len(tracker) == 20_000
    for i in range(0, 20_000, 997):
        assert tracker.first_line(f"USER{i}@example.org", 99_999) == i + 2
    # Unicode forms compare equal after NFC: "é" composed and decomposed.
    assert tracker.first_line("Jos\u00e9@example.org", 5) is None
    assert tracker.first_line("Jose\u0301@example.org", 6) == 5
