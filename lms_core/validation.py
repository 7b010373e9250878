"""Field checks shared by every service and format, each raising an error that names the field."""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from typing import Any, TypeVar

from lms_core.errors import ErrorList, LmsError, ValidationError

E = TypeVar("E", bound=StrEnum)

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_SLUG = 100


def too_long(max_length: int) -> str:
    """The one wording of a length limit (services, field specs and imports alike)."""
    return f"is longer than {max_length} characters"


def at_least(minimum: int) -> str:
    """The one wording of a lower bound on a whole number."""
    return f"must be {minimum} or more"


def whole_number_between(minimum: int, maximum: int) -> str:
    """The one wording of a bounded whole number (a rating, a position)."""
    return f"must be a whole number from {minimum} to {maximum}"


def one_of(choices: Iterable[str]) -> str:
    """The one wording of a closed list of values."""
    return f"must be one of {', '.join(choices)}"


def normalize_email(value: str, *, field: str = "email") -> str:
    """A valid address, stripped (also of non-breaking spaces) and lower-cased.

    email-validator does the syntax (and IDN) work; we lower-case the whole address because
    e-mail is the users' login and must be unique case-insensitively.
    """
    from email_validator import EmailNotValidError, validate_email

    cleaned = (value or "").replace("\u00a0", " ").strip()
    if not cleaned:
        raise ValidationError("is required", field=field, value=value)
    try:
        result = validate_email(cleaned, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ValidationError(
            f"is not a valid e-mail address ({exc})", field=field, value=value
        ) from exc
    mixed = mixed_script_label(result.domain)
    if mixed is not None:
        raise ValidationError(mixed, field=field, value=value)
    return result.normalized.lower()


#: Scripts whose letters look like Latin ones (Cyrillic U+0430 and Latin "a").
_LOOKALIKE_SCRIPTS = ("CYRILLIC", "GREEK")


def mixed_script_label(domain: str) -> str | None:
    """A message when one label of ``domain`` mixes Latin letters with Cyrillic or Greek ones.

    That is the classic homograph ("example.org" with a Cyrillic U+0430 for its "a" looks like
    "example.org" but is another domain). An internationalised domain in one script
    ("пример.рф", "exämple.org") or with labels of different scripts is accepted: a school's
    real addresses have them. ``domain`` is in Unicode (xn-- labels already decoded).
    """
    import unicodedata

    for label in domain.split("."):
        if label.isascii():
            continue
        scripts: dict[str, str] = {}
        for char in label:
            if char.isalpha():
                script = unicodedata.name(char, "").split(" ", 1)[0]
                scripts.setdefault(script, char)
        if "LATIN" in scripts:
            for other in _LOOKALIKE_SCRIPTS:
                if other in scripts:
                    char = scripts[other]
                    return (
                        f'the domain part "{label}" mixes Latin letters with {other.title()} '
                        f'ones ("{char}", U+{ord(char):04X}), as look-alikes of other domains '
                        "do; type the address again"
                    )
    return None


def parse_choice(enum: type[E], value: str, *, field: str) -> E:
    try:
        return enum((value or "").strip().lower())
    except ValueError:
        raise ValidationError(one_of(e.value for e in enum), field=field, value=value) from None


def check_slug(value: str, *, field: str = "slug") -> str:
    slug = (value or "").strip()
    if not slug or len(slug) > MAX_SLUG or not SLUG_RE.match(slug):
        raise ValidationError(
            "must be lower-case letters, digits and single dashes (e.g. intro-to-python), "
            f"at most {MAX_SLUG} characters",
            field=field,
            value=value,
        )
    return slug


def check_text(
    value: str | None, *, field: str, max_length: int, required: bool = False
) -> str | None:
    if value is None:
        if required:
            raise ValidationError("is required", field=field)
        return None
    text = value.strip()
    if required and not text:
        raise ValidationError("is required", field=field, value=value)
    if len(text) > max_length:
        raise ValidationError(too_long(max_length), field=field, value=value)
    if not text.isprintable():  # NUL and other control characters (tabs, line breaks: kept)
        from lms_core.formats.cells import check_control

        control = check_control(text, multiline=True)
        if control is not None:
            raise ValidationError(control, field=field, value=value)
    return text


def check_url(value: str | None, *, field: str) -> str | None:
    if value is None or not value.strip():
        return None
    url = value.strip()
    if not re.match(r"^https?://[^\s/$.?#][^\s]*$", url, re.IGNORECASE) or len(url) > 500:
        raise ValidationError("must be an http(s) URL", field=field, value=value)
    return url


def like_pattern(search: str) -> str:
    """A case-insensitive ``LIKE`` pattern matching ``search`` literally (``%`` and ``_`` escaped)."""
    escaped = search.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def collect(checks: list[tuple[str, Any]]) -> dict[str, Any]:
    """Run every check and raise all problems at once, not only the first."""
    values: dict[str, Any] = {}
    errors: list[LmsError] = []
    for name, check in checks:
        try:
            values[name] = check()
        except LmsError as exc:
            errors.append(exc)
    if errors:
        raise errors[0] if len(errors) == 1 else ErrorList(errors)
    return values
