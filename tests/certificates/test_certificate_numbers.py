"""Certificate numbers: random, typeable, forgiving of case/dashes/O-0/I-1, strict on typos,
safe in file names, and old numbers (Crockford's mod-37 check, ``* ~ $ = U``) still read."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lms_core.certificates.numbers import (
    LEGACY_CHECK_SYMBOLS,
    SYMBOLS,
    check_symbol,
    format_number,
    is_valid,
    legacy_check_symbol,
    new_number,
    normalize_number,
    parse_number,
)
from lms_core.errors import ValidationError

SHAPE = re.compile(r"^LMS-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]$")
#: What numbers may contain: safe in Windows file names, zip entries, URLs and shells.
FILE_SAFE = re.compile(r"^[0-9A-Z-]+$")
bodies = st.text(alphabet=SYMBOLS, min_size=8, max_size=8)


def test_new_numbers_have_the_shape_and_are_not_sequential():
    numbers = {new_number() for _ in range(2000)}
    assert len(numbers) == 2000
    assert all(SHAPE.match(n) and FILE_SAFE.match(n) for n in numbers)
    assert all(normalize_number(n) == n for n in numbers)


@given(bodies)
def test_the_check_symbol_is_one_of_the_32_and_never_a_shell_or_file_name_character(body):
    number = format_number(body)
    assert check_symbol(body) in SYMBOLS
    assert FILE_SAFE.match(number) and not set(number) & set("*~$=U")
    assert parse_number(number).current


def test_reading_back_forgives_case_dashes_spaces_and_confusable_letters():
    number = format_number("0A1B2C3D")
    assert normalize_number(number.lower()) == number
    assert normalize_number(number.replace("-", "")) == number
    assert normalize_number(" lms 0a1b 2c3d " + number[-1]) == number
    assert normalize_number("oA1B2C3D" + number[-1]) == number  # O for 0, no prefix
    assert normalize_number("LMS-0AIB-2C3D-" + number[-1]) == number  # I for 1
    assert normalize_number("LMS-0ALB-2C3D-" + number[-1]) == number  # L for 1


def _substitutions(word: str):
    for position, old in enumerate(word):
        for new in SYMBOLS:
            if new != old:
                yield word[:position] + new + word[position + 1 :]


def _swaps(word: str, distance: int):
    for i in range(len(word) - distance):
        a, b = word[i], word[i + distance]
        if a != b:
            yield word[:i] + b + word[i + 1 : i + distance] + a + word[i + distance + 1 :]


@given(bodies)
def test_every_single_substitution_fails_the_check_check_symbol_included(body):
    word = body + check_symbol(body)
    assert is_valid(word)
    assert not any(is_valid(typo) for typo in _substitutions(word))


@given(bodies)
def test_every_swap_of_neighbours_fails_the_check_check_symbol_included(body):
    word = body + check_symbol(body)
    assert not any(is_valid(typo) for typo in _swaps(word, 1))


@given(bodies)
def test_every_swap_across_one_symbol_and_every_twin_error_fails_the_check(body):
    word = body + check_symbol(body)
    assert not any(is_valid(typo) for typo in _swaps(word, 2))
    twins = [
        word[:i] + new + new + word[i + 2 :]
        for i in range(len(word) - 1)
        if word[i] == word[i + 1]
        for new in SYMBOLS
        if new != word[i]
    ]
    assert not any(is_valid(typo) for typo in twins)


def test_substitutions_and_swaps_are_caught_for_every_pair_of_symbols_exhaustively():
    """All 32 x 32 pairs in every position of one body: no lucky sample."""
    base = "7K4F9QX2"
    for position in range(len(base) - 1):
        for a in SYMBOLS:
            for b in SYMBOLS:
                body = base[:position] + a + b + base[position + 2 :]
                word = body + check_symbol(body)
                assert is_valid(word)
                if a != b:
                    swapped = body[:position] + b + a + body[position + 2 :]
                    assert not is_valid(swapped + check_symbol(body))
                    changed = body[:position] + b + b + body[position + 2 :]
                    assert not is_valid(changed + check_symbol(body))


@pytest.mark.parametrize("position", range(8))
def test_every_single_character_typo_is_caught_by_the_check_character(position):
    body = "7K4F9QX2"
    number = format_number(body)
    for replacement in SYMBOLS:
        if replacement == body[position]:
            continue
        typo = body[:position] + replacement + body[position + 1 :]
        try:
            parsed = parse_number(f"LMS-{typo}-{number[-1]}")
        except ValidationError as caught:
            assert "mistyped" in str(caught) and caught.field == "number"
        else:  # passes only the old mod-37 check: looked up among legacy numbers only
            assert (parsed.current, parsed.legacy) == (False, True)


def test_swapping_two_neighbours_is_caught():
    body = "7K4F9QX2"
    swapped = body[1] + body[0] + body[2:]
    assert not is_valid(swapped + check_symbol(body))


def test_legacy_numbers_still_read_as_legacy():
    """The issue's demo number, and every old check symbol, still parse (for lookup by
    legacy_number); a typo in an old number is still caught by its own check."""
    parsed = parse_number("lms-p758-dxf0-*")
    assert (parsed.number, parsed.current, parsed.legacy) == ("LMS-P758-DXF0-*", False, True)
    assert legacy_check_symbol("P758DXF0") == "*"
    assert format_number("P758DXF0") == "LMS-P758-DXF0-8"
    with pytest.raises(ValidationError, match="mistyped"):
        parse_number("LMS-P758-DXF1-*")
    seen = set()
    for n in range(2000):
        body = "".join(SYMBOLS[(n * 7919 >> (5 * i)) % 32] for i in range(8))
        check = legacy_check_symbol(body)
        seen.add(check)
        assert parse_number(f"LMS-{body}-{check}").legacy
    assert set("*~$=U") <= seen


@given(bodies)
def test_a_typo_in_a_legacy_number_fails_its_legacy_check(body):
    old = body + legacy_check_symbol(body)
    for typo in _substitutions(body):
        assert legacy_check_symbol(typo) != old[-1]


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "must be 8 characters"),
        ("LMS-7K4F-9QX2", "must be 8 characters"),
        ("LMS-7K4F-9QX2-MM", "must be 8 characters"),
        ("LMS-7K4F-9QU2-H", "never used: U"),
    ],
)
def test_malformed_numbers_are_refused_with_a_reason(text, message):
    with pytest.raises(ValidationError, match=message):
        normalize_number(text)


def test_legacy_check_symbols_are_the_37_of_crockford():
    assert len(LEGACY_CHECK_SYMBOLS) == 37 and len(set(LEGACY_CHECK_SYMBOLS)) == 37


@given(st.text(max_size=30))
def test_any_text_is_either_a_number_or_a_validation_error(text):
    try:
        canonical = normalize_number(text)
    except ValidationError as exc:
        assert exc.field == "number"
    else:
        legacy = re.compile(SHAPE.pattern.replace("TV-Z]$", "TV-Z*~$=U]$"))
        assert legacy.match(canonical) and normalize_number(canonical) == canonical


@given(bodies)
def test_every_body_round_trips(body):
    number = format_number(body)
    assert normalize_number(number.lower().replace("-", " ")) == number
