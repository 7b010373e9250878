"""The import page: upload a file, read its plan, apply exactly that plan (administrators).

The same two runs as ``lmsctl import users FILE --dry-run --plan-out plan.json`` then
``lmsctl import apply plan.json`` (:mod:`lms_core.imports.runs`): the upload is planned as a
dry run that writes the plan file and, when refused, the errors file; "Apply this plan"
applies that plan file, which the service refuses if any record it names changed since.
Uploads and plans live in a private staging folder (:mod:`admin_ui.import_staging`), reached
by a random id the user's session holds. The runs commit by themselves (they take the
session factory, the import lock and record refused runs), so these views never open the
request's session: on SQLite its write lock would stand in the run's way.

A large file (more rows than ``LMS_IMPORT_JOB_ROWS``, or larger than ``LMS_IMPORT_JOB_MB``) is
planned, and its plan applied, by a job of the ledger instead (:mod:`lms_core.imports.jobs`):
the plan page then shows the job's status and progress, reloading itself, until the job has
written what the page shows (:mod:`admin_ui.modelviews.import_progress`).
"""

from __future__ import annotations

import io
from typing import Any

from flask import flash, redirect, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_admin import expose
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.exceptions import NotFound
from wtforms import (  # type: ignore[import-untyped]
    BooleanField,
    IntegerField,
    SelectField,
    StringField,
)
from wtforms.validators import NumberRange, Optional  # type: ignore[import-untyped]

from admin_ui import import_staging
from admin_ui.auth import current_actor
from admin_ui.db import error_text
from admin_ui.modelviews import import_progress
from admin_ui.modelviews.audit import time_cell
from admin_ui.views import ADMIN_ONLY, SecureBaseView
from lms_core.errors import LmsError
from lms_core.imports.jobs import APPLY_KIND, PLAN_KIND
from lms_core.imports.staged import apply_stage, plan_stage

KINDS = (
    ("users", "Users"),
    ("courses", "Courses (and their lessons)"),
    ("enrollments", "Enrollments"),
    ("oneroster", "OneRoster 1.1 bundle (zip)"),
)
MODES = (
    ("upsert", "upsert: create new records, update existing ones"),
    ("add", "add: create new records only"),
    ("update", "update: update existing records only"),
    ("sync", "sync: upsert, and deactivate users / drop enrollments the file leaves out"),
)
#: The templates offered for download (``lmsctl import template``'s entities).
TEMPLATES = ("users", "courses", "lessons", "enrollments")
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ImportForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no type hints
    kind = SelectField("What to import", choices=KINDS, default="users")
    mode = SelectField("Mode", choices=MODES, default="upsert")
    file = FileField("File (CSV, XLSX, or a OneRoster zip)", validators=[FileRequired()])
    lessons = FileField("Lessons file (courses only; default: the workbook's 'lessons' sheet)")
    max_removals = IntegerField(
        "Sync: refuse above this many removals (default 10% of those in scope)",
        validators=[Optional(), NumberRange(min=0)],
    )
    force = BooleanField("Sync: remove above that limit anyway")
    sheet = StringField("XLSX sheet (default: the first)", validators=[Optional()])
    encoding = StringField("CSV encoding when not UTF-8 (e.g. cp1252)", validators=[Optional()])


class ImportPage(SecureBaseView):
    """Upload, plan, apply: ``/admin/import/``."""

    allowed_roles = ADMIN_ONLY

    @property
    def _settings(self) -> Any:
        from admin_ui.app import state

        return state().settings

    @property
    def _factory(self) -> Any:
        from admin_ui.app import state

        return state().session_factory

    @expose("/", methods=("GET", "POST"))  # type: ignore[untyped-decorator]  # flask-admin
    def index(self) -> ResponseReturnValue:
        form = ImportForm()
        if request.method == "POST" and form.validate_on_submit():
            return self._plan_upload(form)
        page: str = self._render_upload(form)
        return (page, 400) if request.method == "POST" else page

    def _render_upload(self, form: ImportForm) -> str:
        settings = self._settings
        page: str = self.render(
            "admin/imports/upload.html",
            form=form,
            templates=TEMPLATES,
            job_rows=settings.import_job_rows,
            job_mb=settings.import_job_mb,
        )
        return page

    def _plan_upload(self, form: ImportForm) -> ResponseReturnValue:
        """Stage the upload, plan it (here, or by a job when large), then show the plan page."""
        settings = self._settings
        kind, mode = form.kind.data, form.mode.data
        stage = import_staging.new_stage(settings)
        upload = form.file.data
        try:
            uploads = [stage.save_upload(upload.stream, upload.filename, _limit_mb())]
            if kind == "courses" and form.lessons.data and form.lessons.data.filename:
                lesson_upload = form.lessons.data
                uploads.append(
                    stage.save_upload(
                        lesson_upload.stream, lesson_upload.filename, _limit_mb(), part="lessons"
                    )
                )
        except LmsError as exc:
            stage.discard_inputs()
            flash(error_text(exc), "error")
            failed: str = self._render_upload(form)
            return failed, 400
        plan_request: dict[str, Any] = {
            "kind": kind,
            "mode": mode,
            "file": uploads[0].path.name,
            "lessons": uploads[1].path.name if len(uploads) > 1 else None,
            "options": {
                "max_removals": form.max_removals.data,
                "force": bool(form.force.data),
                "sheet": form.sheet.data or None,
                "encoding": form.encoding.data or None,
            },
        }
        if import_progress.is_large(settings, uploads):
            rows = sum(u.rows for u in uploads)
            plan_request.update(background=True, rows=rows or None)
            import_progress.queue(self._factory, stage, PLAN_KIND, plan_request)
            return redirect(url_for(".plan_view", stage_id=stage.id))
        plan_stage(self._factory, settings, current_actor(), stage, plan_request)
        return redirect(url_for(".plan_view", stage_id=stage.id))

    def _stage(self, stage_id: str) -> import_staging.Stage:
        stage = import_staging.find_stage(self._settings, stage_id)
        if stage is None:
            raise NotFound("This plan is not (or no longer) here; upload the file again.")
        return stage

    @expose("/template/<entity>.<fmt>")  # type: ignore[untyped-decorator]
    def template_view(self, entity: str, fmt: str) -> ResponseReturnValue:
        """An empty import template (header row and one example row), as the CLI writes it."""
        from lms_core.exports.templates import ENTITIES, write_template

        if entity not in ENTITIES or fmt not in ("csv", "xlsx"):
            raise NotFound("No such template.")
        out = io.BytesIO()
        write_template(entity, fmt, out)
        out.seek(0)
        mimetype = "text/csv" if fmt == "csv" else XLSX_MIME
        name = f"{entity}-template.{fmt}"
        return send_file(out, mimetype=mimetype, as_attachment=True, download_name=name)

    @expose("/plan/<stage_id>")  # type: ignore[untyped-decorator]
    def plan_view(self, stage_id: str) -> ResponseReturnValue:
        """The plan; while a job plans or applies it, the job's status and progress."""
        stage = self._stage(stage_id)
        working = import_progress.working(self._factory, stage)
        if working is not None:
            page: str = self.render(
                "admin/imports/progress.html",
                stage_id=stage.id,
                kinds=dict(KINDS),
                time_cell=time_cell,
                **working,
            )
            return page
        ended = import_progress.take_outcome(stage)
        if ended is not None:
            return self._outcome(stage, ended)
        return self._render_plan(stage)

    def _render_plan(
        self, stage: import_staging.Stage, refusal: list[dict[str, Any]] | None = None
    ) -> str:
        data = stage.read(stage.report) or {}
        page: str = self.render(
            "admin/imports/plan.html",
            stage_id=stage.id,
            plan=data,
            applied=stage.read(stage.applied),
            refusal=refusal or [],
            kinds=dict(KINDS),
        )
        return page

    @expose("/plan/<stage_id>/<filename>")  # type: ignore[untyped-decorator]
    def errors_file(self, stage_id: str, filename: str) -> ResponseReturnValue:
        """One errors file of the upload (``errors.csv``, ``errors.lessons.csv``...); no other
        name is served (:data:`admin_ui.import_staging.ERRORS_NAME`)."""
        stage = self._stage(stage_id)
        path = stage.errors_file(filename)
        if path is None:
            raise NotFound("This upload has no such errors file.")
        data = stage.read(stage.report) or {}
        stem = str(data.get("file", "import")).rsplit(".", 1)[0] or "import"
        return send_file(
            path,
            mimetype="text/csv",
            as_attachment=True,
            download_name=f"{stem}-{filename}",
            max_age=0,
        )

    @expose("/plan/<stage_id>/apply", methods=("POST",))  # type: ignore[untyped-decorator]
    def apply_view(self, stage_id: str) -> ResponseReturnValue:
        """Apply the staged plan file; the service refuses it if any record changed since."""
        stage = self._stage(stage_id)
        done = stage.read(stage.applied)
        if done is not None:
            flash(
                f"This plan was applied already (import run {done.get('run_id')}); "
                "upload the file again for a new plan.",
                "error",
            )
            return self._render_plan(stage), 409
        if import_progress.working(self._factory, stage) is not None:
            return redirect(url_for(".plan_view", stage_id=stage.id))  # a job applies it now
        if not stage.plan.is_file():
            flash("This upload has no plan to apply: fix the errors and upload it again.", "error")
            return self._render_plan(stage), 409
        plan = stage.read(stage.report) or {}
        changes = int(plan.get("changes_total") or 0)
        if plan.get("background") or changes > self._settings.import_job_rows:
            import_progress.queue(self._factory, stage, APPLY_KIND, {"changes": changes})
            return redirect(url_for(".plan_view", stage_id=stage.id))
        outcome = apply_stage(self._factory, self._settings, current_actor(), stage)
        return self._outcome(stage, outcome)

    def _outcome(self, stage: import_staging.Stage, outcome: dict[str, Any]) -> ResponseReturnValue:
        """How an apply ended (here or in a job), said as the page has always said it."""
        status = outcome["status"]
        if status == "applied":
            flash(
                f"Applied import run {outcome['run_id']}: {counts_text(outcome['counts'])}.",
                "success",
            )
            if outcome.get("uninvited"):
                flash(
                    f"{outcome['uninvited']} new user(s) have no password yet: send them an "
                    "invitation from the Users list.",
                    "info",
                )
            return redirect(url_for("importrun.details_view", id=outcome["run_id"]))
        if status == "refused":
            flash(
                "Nothing was applied: the data changed since this plan was made. "
                "Upload the file again for a new plan.",
                "error",
            )
            return self._render_plan(stage, outcome["problems"]), 409
        if status == "error":
            where, text = outcome.get("field"), str(outcome.get("message"))
            flash(
                f"{where}: {text}" if where and not text.startswith(f"{where}:") else text, "error"
            )
        elif status == "already":
            flash(
                f"This plan was applied already (import run {outcome.get('run_id')}); "
                "upload the file again for a new plan.",
                "error",
            )
        else:
            flash("This upload has no plan to apply: fix the errors and upload it again.", "error")
        return self._render_plan(stage), 409


def counts_text(counts: dict[str, Any]) -> str:
    """``created 2, updated 1`` (the top-level counts that are not zero)."""
    words = {"create": "created", "update": "updated", "deactivate": "deactivated"}
    parts = [f"{words.get(k, k)} {v}" for k, v in counts.items() if not isinstance(v, dict) and v]
    return ", ".join(parts) or "no changes"


def _limit_mb() -> int:
    from admin_ui.app import MAX_IMPORT_MB

    return MAX_IMPORT_MB
