"""Back-office view of the audit log: read only, filtered and searched in SQL.

Administrators read the whole log; instructors the entries they made themselves
(:func:`lms_core.scopes.audit_entries`). Nobody creates, edits or deletes an entry here: the
log is written by the services, each with the change it records.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, ClassVar

from flask_admin import BaseView
from flask_admin.contrib.sqla import filters as sqla_filters
from flask_admin.contrib.sqla.filters import (
    DateTimeBetweenFilter,
    DateTimeGreaterFilter,
    DateTimeSmallerFilter,
    FilterEqual,
)
from markupsafe import Markup
from sqlalchemy import ColumnElement

from admin_ui.modelviews.base import STAFF, StaffModelView
from admin_ui.modelviews.labels import human_labels
from lms_core import scopes
from lms_core.accounts.audit import SECRET_FIELDS
from lms_core.actor import Actor
from lms_core.models import AuditEntry

#: Keys never shown, whatever an entry holds (the services leave them out already).
HIDDEN_KEYS = SECRET_FIELDS | {"password", "token", "secret"}


def time_cell(value: Any) -> Markup:
    """A UTC datetime as ``<time datetime="…Z">`` (lms-admin.js shows the viewer's zone)."""
    if value is None:
        return Markup("")
    iso = value.isoformat() + ("" if value.tzinfo else "Z")
    text = value.strftime("%Y-%m-%d %H:%M")
    return Markup('<time class="text-nowrap" datetime="{}">{}</time>').format(iso, text)


def format_time(_view: Any, _context: Any, model: Any, name: str) -> Markup:
    return time_cell(getattr(model, name))


class UtcBetween(DateTimeBetweenFilter):  # type: ignore[misc]  # flask-admin is untyped
    """ "between" on a UTC column: the picked times are read as UTC (the column refuses naive)."""

    def clean(self, value: str) -> list[datetime]:
        return [v.replace(tzinfo=UTC) for v in super().clean(value)]


class UtcAfter(DateTimeGreaterFilter):  # type: ignore[misc]
    def clean(self, value: str) -> datetime:
        cleaned: datetime = super().clean(value)
        return cleaned.replace(tzinfo=UTC)


class UtcBefore(DateTimeSmallerFilter):  # type: ignore[misc]
    def clean(self, value: str) -> datetime:
        cleaned: datetime = super().clean(value)
        return cleaned.replace(tzinfo=UTC)


def date_filters(column: Any, name: str) -> list[Any]:
    """Between / after / before filters on a UTC datetime column (times typed in UTC).

    Flask-Admin has no converter for our ``UtcDateTime`` type, and its own filters pass
    naive datetimes, which that type refuses; these make them UTC.
    """
    label = f"{name} (UTC)"
    return [UtcBetween(column, label), UtcAfter(column, label), UtcBefore(column, label)]


def choice_filter(column: Any, name: str, values: Any) -> Any:
    """ "equals" with a drop-down of the column's allowed values (a status, a kind)."""
    return FilterEqual(column, name, options=[(str(v), str(v)) for v in values])


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items() if k not in HIDDEN_KEYS}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return value


def format_json(_view: Any, _context: Any, model: Any, name: str) -> Markup:
    value = getattr(model, name)
    if value is None:
        return Markup("")
    text = json.dumps(_redacted(value), indent=1, ensure_ascii=False, sort_keys=True, default=str)
    return Markup('<pre class="lms-json mb-0">{}</pre>').format(text)


#: What a 64-bit integer column holds; a filter value outside it is an error from the database.
_INT64 = range(-(2**63), 2**63)


def _int64(value: int) -> int:
    if value not in _INT64:
        raise ValueError("beyond a 64-bit integer")
    return value


class _IntEqual(sqla_filters.IntEqualFilter):  # type: ignore[misc]  # partial types
    def clean(self, value: str) -> int:
        return _int64(super().clean(value))


class _IntNotEqual(sqla_filters.IntNotEqualFilter):  # type: ignore[misc]
    def clean(self, value: str) -> int:
        return _int64(super().clean(value))


class _IntGreater(sqla_filters.IntGreaterFilter):  # type: ignore[misc]
    def clean(self, value: str) -> int:
        return _int64(super().clean(value))


class _IntSmaller(sqla_filters.IntSmallerFilter):  # type: ignore[misc]
    def clean(self, value: str) -> int:
        return _int64(super().clean(value))


class _IntInList(sqla_filters.IntInListFilter):  # type: ignore[misc]
    def clean(self, value: str) -> list[int]:
        return [_int64(v) for v in super().clean(value)]


class _IntNotInList(sqla_filters.IntNotInListFilter):  # type: ignore[misc]
    def clean(self, value: str) -> list[int]:
        return [_int64(v) for v in super().clean(value)]


class BoundedFilterConverter(sqla_filters.FilterConverter):  # type: ignore[misc]
    """Flask-Admin's filters, with integer values checked against the 64-bit range: a typed
    ``99999999999999999999`` is flashed as an invalid filter value instead of reaching SQL
    (SQLite raises OverflowError, PostgreSQL "out of range")."""

    int_filters = (
        _IntEqual,
        _IntNotEqual,
        _IntGreater,
        _IntSmaller,
        sqla_filters.FilterEmpty,
        _IntInList,
        _IntNotInList,
    )


class AuditView(StaffModelView):
    """The audit log, newest first; no create, edit or delete (the base allows none)."""

    allowed_roles = STAFF
    column_list = ("id", "created_at", "actor_label", "action", "entity_type", "entity_id")
    column_details_list = (
        "id",
        "created_at",
        "actor_label",
        "actor_id",
        "action",
        "entity_type",
        "entity_id",
        "before",
        "after",
    )
    _own_labels: ClassVar[dict[str, str]] = {
        "actor_label": "Actor",
        "entity_type": "Entity",
        "entity_id": "Entity id",
        "created_at": "When",
    }
    column_default_sort = ("id", True)
    named_filter_urls = True
    column_sortable_list = ("id", "created_at", "actor_label", "action", "entity_type")
    column_searchable_list = ("actor_label", "action", "entity_type")
    column_labels: ClassVar[dict[str, str]] = human_labels(
        column_list, column_details_list, column_searchable_list, own={**_own_labels}
    )
    filter_converter = BoundedFilterConverter()
    column_filters = (
        "actor_label",
        "entity_type",
        "action",
        "entity_id",
        *date_filters(AuditEntry.created_at, "When"),
    )
    column_formatters = {"created_at": format_time}
    column_formatters_detail = {
        "created_at": format_time,
        "before": format_json,
        "after": format_json,
    }
    export_columns = ("id", "created_at", "actor_label", "action", "entity_type", "entity_id")

    def scope(self, actor: Actor) -> ColumnElement[bool] | None:
        return scopes.audit_entries(actor)


def views() -> list[BaseView]:
    return [AuditView(AuditEntry, name="Audit log", endpoint="audit", url="/admin/audit")]
