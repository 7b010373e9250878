"""Back-office views of imports: the import page and the history of runs, with undo.

The history is the ledger ``lmsctl import history`` prints (:class:`ImportRun`), read only;
a run's page lists its changes (before and after) and offers "Undo this run", which first
shows what the undo would restore (the service's dry run), then calls the same service as
``lmsctl import undo`` (:func:`lms_core.imports.runs.undo_import`) in one unit of work.
"""

from __future__ import annotations

from typing import Any, ClassVar

from flask import redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import BaseView, expose
from markupsafe import Markup
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from admin_ui.db import error_text, request_session, run_service
from admin_ui.modelviews.audit import choice_filter, date_filters, format_time
from admin_ui.modelviews.base import ADMIN_ONLY, StaffModelView, parse_id
from admin_ui.modelviews.import_page import ImportPage, counts_text
from admin_ui.modelviews.labels import human_labels
from lms_core import scopes
from lms_core.actor import Actor
from lms_core.errors import ErrorList, LmsError
from lms_core.imports.ledger import UNFINISHED
from lms_core.imports.runs import undo_import
from lms_core.imports.stages import ENTITIES
from lms_core.models import ImportChange, ImportMode, ImportRun, ImportStatus

#: Changes listed on a run's page (the ledger keeps them all).
SHOWN_CHANGES = 500


def _status(run: ImportRun) -> str:
    if run.finished_at is None and run.message == UNFINISHED:
        return "unfinished"
    return run.status


def _format_status(_view: Any, _context: Any, model: ImportRun, _name: str) -> Markup:
    status = _status(model)
    return Markup('<span class="lms-run-status {0}">{0}</span>').format(status)


def _format_counts(_view: Any, _context: Any, model: ImportRun, _name: str) -> str:
    return counts_text(model.counts or {})


class ImportRunView(StaffModelView):
    """The import history: every run, newest first; filters in SQL; undo from a run's page."""

    allowed_roles = ADMIN_ONLY
    column_list = (
        "id",
        "started_at",
        "actor_label",
        "entity",
        "mode",
        "file_name",
        "status",
        "counts",
        "duration_ms",
        "finished_at",
    )
    column_details_list = (*column_list, "file_sha256", "message", "undone_at", "undone_by")
    _own_labels: ClassVar[dict[str, str]] = {
        "actor_label": "Actor",
        "entity": "Kind",
        "file_name": "File",
        "duration_ms": "ms",
        "file_sha256": "SHA-256",
    }
    column_default_sort = ("id", True)
    named_filter_urls = True
    column_sortable_list = ("id", "started_at", "actor_label", "entity", "mode", "status")
    column_searchable_list = ("file_name", "actor_label")
    column_labels: ClassVar[dict[str, str]] = human_labels(
        column_list, column_details_list, column_searchable_list, own={**_own_labels}
    )
    column_descriptions: ClassVar[dict[str, str]] = {
        "duration_ms": "How long the run took, in milliseconds."
    }
    column_filters = (
        choice_filter(ImportRun.entity, "Kind", ENTITIES),
        choice_filter(ImportRun.mode, "Mode", ImportMode),
        choice_filter(ImportRun.status, "Status", ImportStatus),
        "actor_label",
        *date_filters(ImportRun.started_at, "Started"),
    )
    column_formatters = {
        "started_at": format_time,
        "finished_at": format_time,
        "undone_at": format_time,
        "status": _format_status,
        "counts": _format_counts,
    }
    column_formatters_detail = column_formatters
    details_template = "admin/imports/run_details.html"
    export_columns = (
        "id",
        "started_at",
        "finished_at",
        "actor_label",
        "entity",
        "mode",
        "file_name",
        "status",
        "duration_ms",
        "message",
    )

    def scope(self, actor: Actor) -> ColumnElement[bool] | None:
        return scopes.import_runs(actor)

    def run_changes(self, run: ImportRun) -> list[ImportChange]:
        """The run's first changes, in the order applied (one query)."""
        stmt = (
            select(ImportChange)
            .where(ImportChange.run_id == run.id)
            .order_by(ImportChange.id)
            .limit(SHOWN_CHANGES)
        )
        return list(request_session().scalars(stmt))

    @expose("/undo/<int:run_id>", methods=("GET", "POST"))  # type: ignore[untyped-decorator]
    def undo_view(self, run_id: int) -> ResponseReturnValue:
        """GET: what an undo would do (the service's dry run); POST: undo, all or nothing."""
        run = self.get_one(str(run_id)) if parse_id(run_id) is not None else None
        if run is None:
            return self.render("admin/imports/undo.html", run=None, preview=None, problems=[]), 404
        if request.method == "POST":
            done = run_service(
                lambda s, a: undo_import(s, actor=a, run_id=run_id),
                lambda r: f"Undid import run {run_id}: {_undo_text(r.as_dict())}.",
            )
            if done is not None:
                return redirect(url_for(".details_view", id=run_id))
        return self._undo_preview(run)

    def _undo_preview(self, run: ImportRun) -> ResponseReturnValue:
        session: Session = request_session()
        problems: list[str] = []
        preview = None
        try:
            preview = undo_import(session, actor=self.actor, run_id=run.id, dry_run=True)
        except ErrorList as exc:
            problems = [error_text(e) for e in exc.errors]
        except LmsError as exc:
            problems = [error_text(exc)]
        finally:
            session.rollback()
        page: ResponseReturnValue = self.render(
            "admin/imports/undo.html",
            run=run,
            preview=_undo_text(preview.as_dict(), done=False) if preview else None,
            problems=problems,
            status=_status(run),
        )
        return page


def _undo_text(data: dict[str, Any], *, done: bool = True) -> str:
    restored = [f"{n} {t}(s)" for t, n in data["restored"].items() if n]
    deleted = [f"{n} {t}(s)" for t, n in data["deleted"].items() if n]
    restore, delete = ("restored", "deleted") if done else ("restore", "delete")
    return (
        f"{restore} {', '.join(restored) or 'nothing'}; "
        f"{delete} the created {', '.join(deleted) or 'none'}"
    )


def views() -> list[BaseView]:
    return [
        ImportPage(name="Import", endpoint="import_page", url="/admin/import", category="Imports"),
        ImportRunView(
            ImportRun,
            name="Import history",
            endpoint="importrun",
            url="/admin/importrun",
            category="Imports",
        ),
    ]
