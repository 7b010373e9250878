"""What the assessment views share (quizzes, attempts, assignments, certificates): a scoped
row or 404, a details page with extra context, file downloads that are always attachments,
a filter whose SQL the view writes, and the page's extra rows looked up once per page.

A stored file (a learner's upload, a certificate PDF) is served only through
:func:`attachment`: the headers of :func:`lms_core.assignments.serving.download_headers`
(``attachment``, ``nosniff``, a sandboxing CSP, ``no-store``), so no front door can forget one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Response, abort, flash, g, redirect, request
from flask.typing import ResponseReturnValue
from flask_admin.babel import gettext
from flask_admin.contrib.sqla.filters import BaseSQLAFilter
from flask_admin.helpers import get_redirect_target
from sqlalchemy import ColumnElement, false

from admin_ui.modelviews.base import parse_id
from lms_core.assignments.file_types import FileType
from lms_core.assignments.serving import download_headers
from lms_core.models import StoredFile


def scoped_or_404(view: Any, row_id: Any) -> Any:
    """The row ``row_id`` of ``view`` if the actor may see it; else 404 (whether an id exists
    in another course is not for an instructor to learn)."""
    wanted = parse_id(str(row_id))
    if wanted is None:
        abort(404)
    model = view.get_one(str(wanted))
    if model is None:
        abort(404)
    return model


def details_page(view: Any, extra: Callable[[Any], dict[str, Any]]) -> ResponseReturnValue:
    """Flask-Admin's details view (same refusal for an unseen id: "Record does not exist."),
    rendered with ``extra(model)`` added to the template's context."""
    return_url = get_redirect_target() or view.get_url(".index_view")
    wanted = parse_id(request.args.get("id", ""))
    model = view.get_one(str(wanted)) if wanted is not None else None
    if model is None:
        flash(gettext("Record does not exist."), "error")
        return redirect(return_url)
    page: Response = view.render(
        view.details_template,
        model=model,
        details_columns=view._details_columns,
        get_value=view.get_detail_value,
        return_url=return_url,
        **extra(model),
    )
    return page


def attachment(path: Path, kind: FileType | StoredFile, filename: str) -> Response:
    """The file at ``path`` as a download, with every header ``download_headers`` gives."""
    from flask import send_file

    response = send_file(path, conditional=False, etag=False, max_age=0)
    for name, value in download_headers(kind, filename).items():
        response.headers[name] = value
    return response


class ClauseFilter(BaseSQLAFilter):  # type: ignore[misc]  # flask-admin ships partial types
    """A list filter whose WHERE clause the view writes (``clause(value)``), for columns
    reached through a subquery rather than a relationship (no join repeats rows)."""

    def __init__(
        self,
        column: Any,
        name: str,
        clause: Callable[[str], ColumnElement[bool]],
        *,
        operation: str = "equals",
        options: Any = None,
    ) -> None:
        super().__init__(column, name, options=options)
        self._clause = clause
        self._operation = operation

    def apply(self, query: Any, value: Any, alias: Any = None) -> Any:
        return query.filter(self._clause(str(value).strip()))

    def operation(self) -> str:
        return self._operation


def id_is(column: Any, text: str) -> ColumnElement[bool]:
    """``column == id`` for a filter's typed id; no row for anything that is not one (text,
    "²", beyond 64 bits), rather than a database error."""
    wanted = parse_id(text)
    return false() if wanted is None else column == wanted


def page_extras(key: str) -> dict[Any, Any]:
    """What a list page looked up for its rows in one query (see each view's ``get_list``)."""
    found: dict[Any, Any] = g.get(key) or {}
    return found
