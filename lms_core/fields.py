"""Field specs: each entity's fields written once, read by services, imports, exports and templates.

A :class:`FieldSpec` says what a field is (name, kind, limits, choices, default, whether it is
required, audited, exported, imported and listed) and owns the ONE check of its values:
:meth:`FieldSpec.check` takes what a caller gives (a CSV cell or a typed Python value) and
returns the stored value or an :class:`Invalid` carrying the message. The services and the
import checkers both call it, so a rule and its message cannot drift apart (the parity test,
``tests/imports/test_field_parity.py``, holds them to it).

The check returns instead of raising because the import calls it for every cell of files with
millions of rows: a returned marker costs nothing, an exception per bad cell costs little, but
a pydantic model per row costs more than the whole planning stage (measured).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, Final, Literal

from lms_core.errors import ErrorList, LmsError, ValidationError
from lms_core.formats import cells
from lms_core.validation import (
    at_least,
    check_slug,
    check_url,
    normalize_email,
    one_of,
    too_long,
    whole_number_between,
)

#: What a field holds; each kind has one check (below).
Kind = Literal[
    "text", "identifier", "email", "slug", "choice", "bool", "int", "decimal", "url", "datetime"
]

TRUE: Final = frozenset({"true", "yes", "1", "y"})
FALSE: Final = frozenset({"false", "no", "0", "n"})
#: Whole numbers as spreadsheets write them (``12``, ``12.0``), with a sign so that a negative
#: number is named as such rather than as "not a number".
_INT = re.compile(r"^[+-]?\d+(?:\.0+)?$")
#: Above PostgreSQL's ``integer``: a bigger number is a typo, never a duration or a position.
MAX_INT: Final = 2_000_000_000
#: The plain addresses nearly every caller gives; anything else goes through email-validator
#: (40 µs a call: 40 s at a million rows, so the common case takes this shortcut). The top-level
#: domain is captured: a special-use one (``.invalid``, ``.local``, ...) goes the slow way too.
_SIMPLE_EMAIL = re.compile(
    r"^[a-z0-9_%+-]+(?:\.[a-z0-9_%+-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+([a-z]{2,24})$"
)


@cache
def _special_use_tlds() -> frozenset[str]:
    """The last labels of the names email-validator refuses as special-use (``invalid``,
    ``local``, ``localhost``, ``onion``, ``arpa``, ``test``), read from email-validator itself so
    the shortcut cannot accept what it refuses; such an address is left to it to decide (it
    allows ``.test`` here, as ``normalize_email`` asks). Purged users' addresses end in
    ``@deleted.invalid``: nobody can create or take one."""
    from email_validator import SPECIAL_USE_DOMAIN_NAMES

    return frozenset(name.rsplit(".", 1)[-1] for name in SPECIAL_USE_DOMAIN_NAMES)


class Invalid:
    """A refused value: the message, to be given a field (service) or a file line (import)."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f"Invalid({self.message!r})"


REQUIRED: Final = Invalid("is required")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of an entity, as every front door and format sees it.

    The name is the model's attribute, the CSV/XLSX column, and the JSON key alike (a project
    rule), so ``imported`` and ``json_key`` only say whether the field is in files or listed.
    """

    name: str
    kind: Kind
    max_length: int | None = None
    #: For ``int`` and ``decimal``: the smallest and largest values allowed.
    minimum: int = 0
    maximum: int = MAX_INT
    choices: tuple[str, ...] = ()
    #: What a new record gets when the field is not given (the model's default).
    default: Any = None
    required: bool = False
    #: Required in an import file although a service defaults it (a users file states every
    #: role outright, so that a sync never guesses one).
    column_required: bool = False
    #: Written to the audit log when it changes.
    audited: bool = True
    #: A column of the import and export files (and of the templates).
    in_file: bool = False
    #: Read from a file, never written anywhere (not exported, listed or audited): passwords.
    secret: bool = False
    #: A key of listings and ``--json`` output.
    listed: bool = True
    #: Other header names a file may use for the column (matched like the name: ``E-Mail``
    #: for ``e-mail``), read only when the file has no column of the name itself. Only a
    #: required column has them, so every file accepted without them is read as before: an
    #: alias can only turn a refused file into one that imports.
    aliases: tuple[str, ...] = ()
    #: Text that may hold tabs and line breaks (a bio, a description); no other text may,
    #: and no text holds another control character (``cells.check_control``).
    multiline: bool = False

    @property
    def imported(self) -> bool:
        return self.in_file

    @property
    def exported(self) -> bool:
        return self.in_file and not self.secret

    @property
    def json_key(self) -> str | None:
        """The key in listings and ``--json`` output (the name), if the field is listed."""
        return self.name if self.listed and not self.secret else None

    def check(self, value: Any) -> Any:
        """The value to store, or an :class:`Invalid` with the message (``None``: empty)."""
        return KIND_CHECKS[self.kind](self, value)


def _empty(spec: FieldSpec) -> Invalid | None:
    """An empty value clears an optional field; a required one, or one with a default (never
    NULL in the database), cannot be cleared."""
    return REQUIRED if spec.required or spec.default is not None else None


def _text(spec: FieldSpec, value: Any) -> Any:
    if value is None:
        return _empty(spec)
    text = value.strip() if value.__class__ is str else str(value).strip()
    if not text:
        return _empty(spec)
    if spec.max_length is not None and len(text) > spec.max_length:
        return Invalid(too_long(spec.max_length))
    if not text.isprintable():
        control = cells.check_control(
            text, multiline=spec.multiline, identifier=spec.kind == "identifier"
        )
        if control is not None:
            return Invalid(control)
    return text


def _email(spec: FieldSpec, value: Any) -> Any:
    """Spaces and invisible characters around the address are removed (a service's argument
    and an import's cell alike); inside it they are refused, named."""
    text = "" if value is None else value.strip() if value.__class__ is str else str(value).strip()
    if not text:
        return _empty(spec)
    lowered = text.lower()
    simple = _SIMPLE_EMAIL.match(lowered) if len(lowered) <= 254 else None
    if simple is not None and simple.group(1) not in _special_use_tlds():
        if "xn--" in lowered:  # an IDN written in ASCII: its letters are checked decoded
            try:
                normalize_email(text, field=spec.name)
            except LmsError as exc:
                return Invalid(exc.message)
        return lowered
    text = cells.strip_invisible(text)
    if not text:
        return _empty(spec)
    spacing = cells.check_email_invisible(text)
    if spacing is not None:
        return Invalid(spacing)
    try:
        return normalize_email(text, field=spec.name)
    except LmsError as exc:
        return Invalid(exc.message)


def _choice(spec: FieldSpec, value: Any) -> Any:
    text = "" if value is None else value.strip() if value.__class__ is str else str(value).strip()
    if not text:
        return _empty(spec)
    lowered = text.lower()
    if lowered in spec.choices:
        return lowered
    return Invalid(one_of(spec.choices))


def _bool(spec: FieldSpec, value: Any) -> Any:
    if value.__class__ is bool:
        return value
    text = "" if value is None else str(value).strip()
    if not text:
        return _empty(spec)
    lowered = text.lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    return Invalid("must be true or false (also yes/no, 1/0)")


def _int(spec: FieldSpec, value: Any) -> Any:
    bounded = spec.maximum != MAX_INT
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif value is None or (isinstance(value, str) and not value.strip()):
        return _empty(spec)
    elif isinstance(value, str) and _INT.match(value.strip()):
        number = int(value.strip().split(".")[0])
    elif bounded:
        return Invalid(whole_number_between(spec.minimum, spec.maximum))
    else:
        return Invalid(f"must be a whole number, {spec.minimum} or more")
    if bounded and not spec.minimum <= number <= spec.maximum:
        return Invalid(whole_number_between(spec.minimum, spec.maximum))
    if number < spec.minimum:
        return Invalid(at_least(spec.minimum))
    if number > spec.maximum:
        return Invalid("is too large")
    return number


def _decimal(spec: FieldSpec, value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return _empty(spec)
    message = f"must be a number from {spec.minimum} to {spec.maximum}"
    if isinstance(value, bool):
        return Invalid(message)
    try:
        number = Decimal(str(value).strip())
    except (ArithmeticError, InvalidOperation):
        return Invalid(message)
    if not number.is_finite() or not spec.minimum <= number <= spec.maximum:
        return Invalid(message)
    return number.quantize(Decimal("0.01"))


def _raising(check: Callable[..., Any]) -> Callable[[FieldSpec, Any], Any]:
    """A kind's check made of a ``lms_core.validation`` function, the rule's one home.

    The function raises on a bad value (rare), which becomes an :class:`Invalid`.
    """

    def kind_check(spec: FieldSpec, value: Any) -> Any:
        text = "" if value is None else str(value).strip()
        if not text:
            return _empty(spec)
        # The spec's limit first, worded as every limit is: check_slug and check_url know only
        # their own (100 and 500 characters), and a field may set a shorter one.
        if spec.max_length is not None and len(text) > spec.max_length:
            return Invalid(too_long(spec.max_length))
        try:
            return check(str(value), field=spec.name)
        except LmsError as exc:
            return Invalid(exc.message)

    return kind_check


def _readonly(spec: FieldSpec, value: Any) -> Any:
    return Invalid("cannot be set")


#: The check of each kind (``FieldSpec.check`` calls it; the import's cell loop, directly).
KIND_CHECKS: Final[dict[str, Callable[[FieldSpec, Any], Any]]] = {
    "text": _text,
    "identifier": _text,
    "email": _email,
    "slug": _raising(check_slug),
    "choice": _choice,
    "bool": _bool,
    "int": _int,
    "decimal": _decimal,
    "url": _raising(check_url),
    "datetime": _readonly,
}


@dataclass(frozen=True)
class EntitySpec:
    """The fields of one entity, and the orders in which files and listings show them."""

    name: str
    fields: tuple[FieldSpec, ...]
    #: The import/export columns in file order (an interface users' scripts rely on).
    columns: tuple[str, ...] = ()
    #: Whether listings end with ``created_at`` and ``updated_at``.
    timestamps: bool = True
    by_name: Mapping[str, FieldSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})
        for column in self.columns:
            if not self.by_name[column].imported:
                raise ValueError(f"{self.name}.{column} is a column but not imported")
        required = self.required_columns()
        for f in self.fields:
            if f.aliases and f.name not in required:
                raise ValueError(f"{self.name}.{f.name} has aliases but is not a required column")

    def __getitem__(self, name: str) -> FieldSpec:
        return self.by_name[name]

    def listing(self) -> tuple[str, ...]:
        """Listing and ``--json`` keys in order: ``id``, the listed fields, the timestamps."""
        stamps = ("created_at", "updated_at") if self.timestamps else ()
        return ("id", *(f.name for f in self.fields if f.json_key), *stamps)

    def imported(self) -> tuple[FieldSpec, ...]:
        return tuple(self.by_name[c] for c in self.columns)

    def required_columns(self) -> tuple[str, ...]:
        return tuple(
            c for c in self.columns if self.by_name[c].required or self.by_name[c].column_required
        )

    def exported_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if self.by_name[c].exported)

    def audited(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.audited and not f.secret)

    def defaults(self) -> dict[str, Any]:
        return {f.name: f.default for f in self.fields if f.default is not None}

    def of_kind(self, *kinds: Kind) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.kind in kinds)


def command_values(command: Any, spec: EntitySpec) -> dict[str, Any]:
    """The fields of ``spec`` that a typed command (a dataclass) carries, by name.

    Every attribute must be a field of ``spec`` or one the command declares in its
    ``service_args`` (a lesson's ``position``: the service's own argument, not a column): an
    attribute added to a command and not to its spec would otherwise be dropped in silence.
    """
    own: Collection[str] = getattr(command, "service_args", ())
    values: dict[str, Any] = {}
    for f in dataclasses.fields(command):
        if f.name in spec.by_name:
            values[f.name] = getattr(command, f.name)
        elif f.name not in own:
            raise TypeError(
                f"{type(command).__name__}.{f.name} is neither a field of {spec.name} "
                "nor one of its service_args"
            )
    return values


def checked_values(
    spec: EntitySpec,
    values: Mapping[str, Any],
    *,
    creating: bool = False,
    required: Collection[str] = (),
) -> tuple[dict[str, Any], list[LmsError]]:
    """The checked values and one error per refused field (see :func:`check_values`)."""
    out: dict[str, Any] = {}
    errors: list[LmsError] = []
    for name, value in values.items():
        field_spec = spec.by_name[name]
        if value is None:
            if creating and (field_spec.required or name in required):
                errors.append(ValidationError(REQUIRED.message, field=name))
            continue
        result = field_spec.check(value)
        if isinstance(result, Invalid):
            errors.append(ValidationError(result.message, field=name, value=value))
        elif result is None and name in required:
            errors.append(ValidationError(REQUIRED.message, field=name, value=value))
        else:
            out[name] = result
    return out, errors


def raise_all(errors: list[LmsError]) -> None:
    """Raise every problem at once (one error, or an :class:`ErrorList`), if there are any."""
    if errors:
        raise errors[0] if len(errors) == 1 else ErrorList(errors)


def check_values(
    spec: EntitySpec,
    values: Mapping[str, Any],
    *,
    creating: bool = False,
    required: Collection[str] = (),
) -> dict[str, Any]:
    """Check the given values; every problem raised at once, each naming its field.

    ``None`` means "not given" and is left out, except that a create (``creating``) is told
    that a required field "is required". An empty text clears an optional field.

    ``required`` names fields that are optional in the spec but that this call needs (the
    keys a service looks a row up by: an enrollment's ``user_email``, a course's new
    instructor): given empty, they are "required" rather than cleared to ``None``, and with
    ``creating`` a ``None`` is too. Every key and reference is thus refused in one place.
    """
    out, errors = checked_values(spec, values, creating=creating, required=required)
    raise_all(errors)
    return out


def iso(value: datetime | None) -> str | None:
    """A timestamp as listings and ``--json`` show it: ISO 8601, as the audit log writes it."""
    return None if value is None else value.isoformat()
