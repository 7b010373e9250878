"""Back-office view of the job ledger (administrators): list, detail, retry and cancel.

Retry and cancel call the services behind ``lmsctl jobs retry`` and ``lmsctl jobs cancel``
(:mod:`lms_core.jobs.admin`), which check the job's state and write the audit entry; from a
job's page one job, from the list "With selected" several, in one unit of work (all or none).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from flask import abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import BaseView, expose
from flask_admin.actions import action
from markupsafe import Markup
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from admin_ui.db import run_service
from admin_ui.modelviews.audit import choice_filter, date_filters, format_json, format_time
from admin_ui.modelviews.base import ADMIN_ONLY, StaffModelView, parse_id
from admin_ui.modelviews.labels import human_labels
from admin_ui.modelviews.selection import row_ids
from lms_core.actor import Actor
from lms_core.jobs import admin as jobs_admin
from lms_core.jobs.admin import ROW_FIELDS
from lms_core.models.jobs import Job, JobStatus

Service = Callable[..., Job]


def _format_status(_view: Any, _context: Any, model: Job, _name: str) -> Markup:
    return Markup('<span class="lms-job-status {0}">{0}</span>').format(model.status)


def _format_error(_view: Any, _context: Any, model: Job, _name: str) -> str:
    text = model.error or ""
    return text if len(text) <= 100 else text[:97] + "…"


class JobView(StaffModelView):
    """Jobs, newest first; filter by status and kind; retry and cancel through the services."""

    allowed_roles = ADMIN_ONLY
    column_list = (
        "id",
        "kind",
        "status",
        "attempts",
        "max_attempts",
        "run_at",
        "started_at",
        "finished_at",
        "error",
    )
    #: The fields ``lmsctl jobs show`` prints (lms_core.jobs.admin.ROW_FIELDS), then the
    #: job's arguments and result.
    column_details_list = (*ROW_FIELDS, "args", "result")
    _own_labels: ClassVar[dict[str, str]] = {"max_attempts": "Max"}
    column_default_sort = ("id", True)
    named_filter_urls = True
    column_sortable_list = ("id", "kind", "status", "attempts", "run_at", "finished_at")
    column_searchable_list = ("kind", "key")
    column_labels: ClassVar[dict[str, str]] = human_labels(
        column_list,
        column_details_list,
        column_searchable_list,
        own={**_own_labels, "args": "Arguments"},
    )
    column_descriptions: ClassVar[dict[str, str]] = {
        "max_attempts": "Attempts before the job is given up (dead).",
        "run_at": "When it is due (again, after a failed attempt).",
    }
    column_filters = (
        choice_filter(Job.status, "Status", JobStatus),
        "kind",
        *date_filters(Job.created_at, "Created"),
        *date_filters(Job.finished_at, "Finished"),
    )
    column_formatters = {
        "status": _format_status,
        "error": _format_error,
        "run_at": format_time,
        "started_at": format_time,
        "finished_at": format_time,
    }
    column_formatters_detail = {
        "status": _format_status,
        "run_at": format_time,
        "lease_until": format_time,
        "created_at": format_time,
        "started_at": format_time,
        "finished_at": format_time,
        "args": format_json,
        "result": format_json,
    }
    details_template = "admin/jobs/details.html"
    export_columns = ("id", "kind", "status", "attempts", "run_at", "finished_at", "error")

    def scope(self, actor: Actor) -> ColumnElement[bool] | None:
        return None if actor.is_admin else super().scope(actor)

    def _change(self, service: Service, verb: str, ids: list[int]) -> bool:
        """``service`` on each job, in one unit of work: all changed, or none and a message."""
        if not ids:
            flash("No job selected.", "error")
            return False

        def act(session: Session, actor: Actor) -> list[Job]:
            return [service(session, actor=actor, job_id=i) for i in ids]

        done = run_service(
            act, lambda jobs: f"{verb} job(s) " + ", ".join(f"#{j.id}" for j in jobs) + "."
        )
        return done is not None

    @action("retry", "Retry", "Run the selected jobs again now?")  # type: ignore[untyped-decorator]
    def action_retry(self, ids: list[str]) -> None:
        self._change(jobs_admin.retry, "Retried", row_ids(ids))

    @action("cancel", "Cancel", "Cancel the selected jobs?")  # type: ignore[untyped-decorator]
    def action_cancel(self, ids: list[str]) -> None:
        self._change(jobs_admin.cancel, "Cancelled", row_ids(ids))

    @expose("/retry/<int:job_id>", methods=("POST",))  # type: ignore[untyped-decorator]
    def retry_view(self, job_id: int) -> ResponseReturnValue:
        if parse_id(job_id) is None:  # beyond 64 bits: no such job, not a database error
            abort(404)
        self._change(jobs_admin.retry, "Retried", [job_id])
        return redirect(url_for(".details_view", id=job_id, url=request.args.get("url")))

    @expose("/cancel/<int:job_id>", methods=("POST",))  # type: ignore[untyped-decorator]
    def cancel_view(self, job_id: int) -> ResponseReturnValue:
        if parse_id(job_id) is None:
            abort(404)
        self._change(jobs_admin.cancel, "Cancelled", [job_id])
        return redirect(url_for(".details_view", id=job_id, url=request.args.get("url")))


def views() -> list[BaseView]:
    return [JobView(Job, name="Jobs", endpoint="job", url="/admin/job")]
