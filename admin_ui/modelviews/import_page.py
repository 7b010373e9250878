"""The import page: upload a file, read its plan, apply exactly that plan (administrators).

The same two runs as ``lmsctl import users FILE --dry-run --plan-out plan.json`` then
``lmsctl import apply plan.json`` (:mod:`lms_core.imports.runs`): the upload is planned as a
dry run that writes the plan file and, when refused, the errors file; "Apply this plan"
applies that plan file, which the service refuses if any record it names changed since.
Uploads and plans live in a private staging folder (:mod:`admin_ui.import_staging`), reached
by a random id the user's session holds. The runs commit by themselves (they take the
session factory, the import lock and record refused runs), so these views never open the
request's session: on SQLite its write lock would stand in the run's way.
"""

from __future__ import annotations

import io
import itertools
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
from admin_ui.views import ADMIN_ONLY, SecureBaseView
from lms_core.errors import FileProblem, LmsError
from lms_core.imports.report import ImportReport
from lms_core.imports.runs import ImportOptions, apply_plan_file, import_file

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
#: Why a file with passwords gets no plan here (the service's refusal, said for this page).
PASSWORDS = (
    "this file has a password column, and a plan never carries passwords, so the back "
    "office cannot show one to apply: remove the column (new users then get an invitation "
    "link to choose their own) and upload the file again"
)
#: The templates offered for download (``lmsctl import template``'s entities).
TEMPLATES = ("users", "courses", "lessons", "enrollments")
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Changes shown on the plan page (the plan file holds them all).
SHOWN_CHANGES = 200
#: Problems kept for the page (the errors file has every row).
SHOWN_ERRORS = 500


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


def problem_dict(exc: LmsError, file: str) -> dict[str, Any]:
    """A refusal as one row of the page's error table (file, line, column, value, message)."""
    if isinstance(exc, FileProblem):
        return exc.as_dict()
    return {
        "file": file,
        "line": None,
        "column": exc.field,
        "value": exc.value,
        "message": str(exc),
    }


def report_data(report: ImportReport) -> dict[str, Any]:
    """What the plan page shows of a dry run, kept as JSON beside the plan."""
    errors = [e.as_dict() for e in report.problems()[:SHOWN_ERRORS]]
    changes = list(itertools.islice(report.changes(), SHOWN_CHANGES))
    return {
        "counts": report.counts,
        "errors": errors,
        "error_count": report.error_count,
        "warnings": [w.as_dict() for w in report.warnings],
        "changes": changes,
        "changes_total": report.log.total_changes if report.log and not report.refused else 0,
    }


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
        page: str = self.render("admin/imports/upload.html", form=form, templates=TEMPLATES)
        return (page, 400) if request.method == "POST" else page

    def _plan_upload(self, form: ImportForm) -> ResponseReturnValue:
        """Stage the upload, plan it as a dry run, then show the plan page."""
        settings = self._settings
        kind, mode = form.kind.data, form.mode.data
        stage = import_staging.new_stage(settings)
        upload = form.file.data
        try:
            path = stage.save_upload(upload.stream, upload.filename, _limit_mb())
            lessons = None
            if kind == "courses" and form.lessons.data and form.lessons.data.filename:
                lesson_upload = form.lessons.data
                lessons = stage.save_upload(
                    lesson_upload.stream, lesson_upload.filename, _limit_mb(), part="lessons"
                )
        except LmsError as exc:
            stage.discard_inputs()
            flash(error_text(exc), "error")
            failed: str = self.render("admin/imports/upload.html", form=form, templates=TEMPLATES)
            return failed, 400
        options = ImportOptions(
            mode=mode,
            max_removals=form.max_removals.data,
            force=bool(form.force.data),
            dry_run=True,
            sheet=form.sheet.data or None,
            encoding=form.encoding.data or None,
            lessons=lessons,
            plan_out=stage.plan,
            errors_out=stage.errors,
        )
        data: dict[str, Any] = {
            "kind": kind,
            "mode": mode,
            "file": path.name,
            "options": {"max_removals": options.max_removals, "force": options.force},
        }
        try:
            report = import_file(
                self._factory,
                actor=current_actor(),
                settings=settings,
                entity=kind,
                path=path,
                options=options,
            )
        except LmsError as exc:
            problem = problem_dict(exc, path.name)
            if exc.field == "plan_out":  # a password column: no plan can be saved
                problem.update(column="password", message=PASSWORDS)
            data.update(counts={}, errors=[problem], error_count=1)
            data.update(warnings=[], changes=[], changes_total=0)
        else:
            try:
                data.update(report_data(report))
            finally:
                report.close()
        finally:
            stage.discard_inputs()  # the plan and errors file are what is kept
        data["has_plan"] = stage.plan.is_file() and not data["error_count"]
        data["errors_files"] = stage.errors_files()
        data["has_errors_file"] = bool(data["errors_files"])
        stage.write(stage.report, data)
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
        stage = self._stage(stage_id)
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
        if not stage.plan.is_file():
            flash("This upload has no plan to apply: fix the errors and upload it again.", "error")
            return self._render_plan(stage), 409
        try:
            report = apply_plan_file(
                self._factory, actor=current_actor(), settings=self._settings, path=stage.plan
            )
        except LmsError as exc:
            flash(error_text(exc), "error")
            return self._render_plan(stage), 409
        try:
            if report.refused:
                flash(
                    "Nothing was applied: the data changed since this plan was made. "
                    "Upload the file again for a new plan.",
                    "error",
                )
                return self._render_plan(stage, [e.as_dict() for e in report.problems()]), 409
            stage.write(stage.applied, {"run_id": report.run_id, "counts": report.counts})
            stage.plan.unlink(missing_ok=True)  # applied: the ledger keeps the changes now
        finally:
            report.close()
        flash(f"Applied import run {report.run_id}: {counts_text(report.counts)}.", "success")
        if report.uninvited:
            flash(
                f"{report.uninvited} new user(s) have no password yet: send them an invitation "
                "from the Users list.",
                "info",
            )
        return redirect(url_for("importrun.details_view", id=report.run_id))


def counts_text(counts: dict[str, Any]) -> str:
    """``created 2, updated 1`` (the top-level counts that are not zero)."""
    words = {"create": "created", "update": "updated", "deactivate": "deactivated"}
    parts = [f"{words.get(k, k)} {v}" for k, v in counts.items() if not isinstance(v, dict) and v]
    return ", ".join(parts) or "no changes"


def _limit_mb() -> int:
    from admin_ui.app import MAX_IMPORT_MB

    return MAX_IMPORT_MB
