"""Certificate numbers: random, typeable, forgiving of case/dashes/O-0/I-1, strict on typos."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lms_core.certificates.numbers import (
    CHECK_SYMBOLS,
    SYMBOLS,
    check_symbol,
    format_number,
    new_number,
    normalize_number,
)
from lms_core.errors import ValidationError

SHAPE = re.compile(r"^LMS-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z*~$=U]$")


def test_new_numbers_have_the_shape_and_are_not_sequential():
    numbers = {new_number() for _ in range(2000)}
    assert len(numbers) == 2000
    assert all(SHAPE.match(n) for n in numbers)
    assert all(normalize_number(n) == n for n in numbers)


def test_reading_back_forgives_case_dashes_spaces_and_confusable_letters():
    number = format_number("0A1B2C3D")
    assert normalize_number(number.lower()) == number
    assert normalize_number(number.replace("-", "")) == number
    assert normalize_number(" lms 0a1b 2c3d " + number[-1]) == number
    assert normalize_number("oA1B2C3D" + number[-1]) == number  # O for 0, no prefix
    assert normalize_number("LMS-0AIB-2C3D-" + number[-1]) == number  # I for 1
    assert normalize_number("LMS-0ALB-2C3D-" + number[-1]) == number  # L for 1


@pytest.mark.parametrize("position", range(8))
def test_every_single_character_typo_is_caught_by_the_check_character(position):
    body = "7K4F9QX2"
    number = format_number(body)
    for replacement in SYMBOLS:
        if replacement == body[position]:
            continue
        typo = body[:position] + replacement + body[position + 1 :]
        with pytest.raises(ValidationError, match="mistyped") as caught:
            normalize_number(f"LMS-{typo}-{number[-1]}")
        assert caught.value.field == "number"


def test_swapping_two_neighbours_is_caught():
    body = "7K4F9QX2"
    swapped = body[1] + body[0] + body[2:]
    with pytest.raises(ValidationError, match="mistyped"):
        normalize_number(swapped + check_symbol(body))


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "must be 8 characters"),
        ("LMS-7K4F-9QX2", "must be 8 characters"),
        ("LMS-7K4F-9QX2-MM", "must be 8 characters"),
        ("LMS-7K4F-9QU2-M", "never used: U"),
    ],
)
def test_malformed_numbers_are_refused_with_a_reason(text, message):
    with pytest.raises(ValidationError, match=message):
        normalize_number(text)


def test_check_symbols_are_the_37_of_crockford():
    assert len(CHECK_SYMBOLS) == 37 and len(set(CHECK_SYMBOLS)) == 37


@given(st.text(max_size=30))
def test_any_text_is_either_a_number_or_a_validation_error(text):
    try:
        canonical = normalize_number(text)
    except ValidationError as exc:
        assert exc.field == "number"
    else:
        assert SHAPE.match(canonical) and normalize_number(canonical) == canonical


@given(st.text(alphabet=SYMBOLS, min_size=8, max_size=8))
def test_every_body_round_trips(body):
    number = format_number(body)
    assert normalize_number(number.lower().replace("-", " ")) == number
