"""What the people and catalog views share: the selected rows of an action, the one unit of
work an action runs in, how a flash message names rows, and dates as ``<time>`` cells.

An action on a selection is all or nothing: every row's service call runs in the request's
one unit of work (:func:`admin_ui.db.run_service`), so a refusal on the fifth row leaves the
first four unchanged too, and the flash message says which row was refused and why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import flash
from markupsafe import Markup
from sqlalchemy.orm import Session

from admin_ui.db import run_service
from admin_ui.modelviews.base import parse_id
from lms_core.actor import Actor

T = TypeVar("T")

#: How many names a flash message lists before "and N more".
NAMED_IN_FLASH = 10


def row_ids(ids: Iterable[Any]) -> list[int]:
    """The integer ids of a POSTed selection; anything else (text, "²", ids beyond a 64-bit
    integer that SQLite and PostgreSQL would refuse with an error) is dropped."""
    found = (parse_id(str(raw)) for raw in ids)
    return [wanted for wanted in found if wanted is not None]


def selected(view: Any, ids: Iterable[Any], order_by: Any) -> list[Any]:
    """The selected rows the actor may see (the view's scoped query), in ``order_by`` order.

    Ids outside the scope are left out, as the list never showed them.
    """
    wanted = row_ids(ids)
    if not wanted:
        return []
    pk = view.model.__mapper__.primary_key[0]
    return list(view.get_query().filter(pk.in_(wanted)).order_by(order_by))


def names(items: Sequence[str]) -> str:
    """``a, b, c`` (the first few, then "and N more")."""
    shown = ", ".join(items[:NAMED_IN_FLASH])
    more = len(items) - NAMED_IN_FLASH
    return f"{shown} and {more} more" if more > 0 else shown


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def act_on_each(
    rows: Sequence[T],
    call: Callable[[Session, Actor, T], Any],
    *,
    verb: str,
    noun: str,
    name: Callable[[T], str],
) -> bool:
    """Call a service for each row in one unit of work; flash "Verb N nouns: a, b".

    Returns whether it was committed (a refusal rolls every row back and is flashed).
    """
    if not rows:
        flash(f"No {noun} selected that you may change.", "error")
        return False

    def work(session: Session, actor: Actor) -> list[str]:
        changed = []
        for row in rows:
            label = name(row)  # read before the call: a service may rename or delete the row
            call(session, actor, row)
            changed.append(label)
        return changed

    done = run_service(
        work, lambda changed: f"{verb} {plural(len(changed), noun)}: {names(changed)}."
    )
    return done is not None


def text(value: Any) -> str:
    """A form or row value as the text a form shows ("" for none), for comparing the two."""
    return "" if value is None else str(value).strip()


def changed_fields(
    form: Any, model: Any, texts: tuple[str, ...], flags: tuple[str, ...]
) -> dict[str, Any]:
    """The fields whose form value differs from the row's: what an update sends (an emptied
    text clears the field, as the services read it)."""
    out: dict[str, Any] = {}
    for name in texts:
        new, old = text(getattr(form, name).data), text(getattr(model, name))
        if name == "certificate_min_grade" and new and old:
            try:
                same = float(new) == float(old)
            except ValueError:
                same = False
            if same:
                continue
        if new != old:
            out[name] = new
    for name in flags:
        if bool(getattr(form, name).data) != bool(getattr(model, name)):
            out[name] = bool(getattr(form, name).data)
    return out


def utc_iso(value: datetime) -> str:
    """An ISO 8601 UTC timestamp (naive values are UTC, as the database keeps them)."""
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.isoformat().replace("+00:00", "Z")


def time_cell(_view: Any, _context: Any, model: Any, name: str) -> Markup | str:
    """A list or details cell for a timestamp: ``<time datetime=...>`` (lms-admin.js shows
    it in the viewer's time zone; without script the UTC time reads as it is).

    Made from one ``isoformat`` (a list page has a hundred of these): the same text as
    :func:`utc_iso` and ``strftime("%Y-%m-%d %H:%M UTC")``.
    """
    value = getattr(model, name, None)
    if not isinstance(value, datetime):
        return ""
    if value.tzinfo is None:  # naive values are UTC, shown as they are
        iso = f"{value.isoformat()}Z"
        shown = iso
    else:
        text = (value if value.tzinfo is UTC else value.astimezone(UTC)).isoformat()
        iso = f"{text[:-6]}Z"  # "+00:00" -> "Z"
        shown = f"{text[:10]} {text[11:16]} UTC"
    # Both texts are made of digits, "-", ":", ".", "T", "Z" and spaces: nothing to escape.
    return Markup(f'<time datetime="{iso}">{shown}</time>')  # noqa: S704 - see above


def time_formatters(*columns: str) -> dict[str, Callable[..., Markup | str]]:
    """``column_formatters`` entries rendering each of ``columns`` as a ``<time>`` cell."""
    return {column: time_cell for column in columns}
