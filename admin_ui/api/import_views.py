"""Imports through the API: post a file, read its plan, apply exactly that plan
(administrators, as ``lmsctl import``: ``COMMAND_RULES["import users"]`` and its siblings).

The same stages as the back office's import page (:mod:`lms_core.imports.staged`): the upload
is copied, checked against the size limit as it streams in, into a private stage folder; it
is planned as a dry run that writes the plan file (``lmsctl import ... --dry-run
--plan-out``), and applying runs ``lmsctl import apply`` on that plan file, refused if any
record it names changed since. So the audit entries, the import lock and the ledger are the
CLI's. A large file (``LMS_IMPORT_JOB_ROWS`` / ``LMS_IMPORT_JOB_MB``) is planned, and its plan
applied, by the ledger's ``imports.plan`` / ``imports.apply`` jobs: the answer is then 202
with the job, and ``GET /imports/{id}`` follows it.

A stage made here records its uploader (``api.json``): another caller is told "not found".
The runs commit by themselves, so each view closes the request's session before one starts.
"""

from __future__ import annotations

import re
import secrets
import shutil
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from admin_ui.api.blueprint import api
from admin_ui.api.caller import caller
from admin_ui.api.endpoint import Answer, endpoint
from admin_ui.api.problems import ApiProblem, error_entry
from admin_ui.import_staging import Stage, Upload
from lms_core.actor import Actor

KINDS = ("users", "courses", "enrollments", "oneroster")
MODES = ("upsert", "add", "update", "sync")
#: ``max_removals``: plain digits, a number any import can hold (9 digits at most).
WHOLE = re.compile(r"[0-9]{1,9}")
MAX_REMOVALS = 999_999_999
STAGE = "<string(maxlength=64):plan_id>"
#: The stage's file naming who uploaded it (the API's stages are not in a cookie session).
OWNER = "api.json"


class JobState(BaseModel):
    id: int
    #: ``queued``, ``running``, ``succeeded``, ``failed`` (retried), ``dead``, ``cancelled``.
    status: str
    #: ``plan`` or ``apply``.
    phase: str
    attempts: int
    error: str | None = None
    #: ``{"what", "done", "total"}`` while the job reads rows or writes changes.
    progress: dict[str, Any] | None = None


class ImportPlan(BaseModel):
    """A posted file's plan, as the back office's plan page shows it (the first 200 changes;
    ``changes_total`` counts them all).

    ``status``: ``planning`` (a job reads the file), ``planned`` (apply it with its
    ``fingerprint``), ``refused`` (``errors``: nothing can be applied), ``applying`` (a job
    applies it), ``applied`` (``applied``: the import run), ``apply_refused`` (the data
    changed since the plan: ``errors``), ``apply_failed`` (an error, or its job cancelled or
    dead: ``errors``; it may be applied again), ``plan_failed`` (the plan's job cancelled or
    dead: post the file again).
    """

    id: str
    status: str
    kind: str | None = None
    mode: str | None = None
    file: str | None = None
    counts: dict[str, Any] = {}
    #: ``{file, line, column, value, message}`` each.
    errors: list[dict[str, Any]] = []
    error_count: int = 0
    warnings: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    changes_total: int = 0
    #: The plan file's SHA-256: what ``/apply`` may name, to apply exactly the plan read.
    fingerprint: str | None = None
    job: JobState | None = None
    #: ``{run_id, counts}`` once applied.
    applied: dict[str, Any] | None = None


class ApplyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: The plan's fingerprint as read: refused (409) when the stage holds another plan.
    fingerprint: str | None = Field(None, max_length=64)


def _admin() -> Actor:
    from lms_core.permissions import require_admin

    who = caller().actor
    require_admin(who, "import users, courses or enrollments")
    return who


def _not_found(plan_id: str) -> ApiProblem:
    detail = f"no import plan {plan_id} of yours (a plan is kept a day)"
    return ApiProblem(404, detail, [error_entry("plan_id", plan_id, detail)])


def _stage(plan_id: str, who: Actor) -> Stage:
    from admin_ui.app import state
    from lms_core.imports.staged import stage_at

    found = stage_at(state().settings, plan_id)
    if found is None:
        raise _not_found(plan_id)
    stage = Stage(found.id, found.folder)
    owner = stage.read(stage.folder / OWNER) or {}
    if owner.get("user_id") != who.user_id:
        raise _not_found(plan_id)
    return stage


def _conflict(detail: str, plan_id: str) -> ApiProblem:
    return ApiProblem(409, detail, [error_entry("plan_id", plan_id, detail)])


def _file_errors(problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A file's problems as API errors: ``file, line, column`` kept, ``field`` the column."""
    return [
        {**error_entry(p.get("column"), p.get("value"), str(p.get("message"))), **p}
        for p in problems
    ]


#: Statuses in which the stage still holds its plan file: it may be applied (again).
PLANNED = ("planned", "applying", "apply_refused", "apply_failed")


def _error_message(outcome: dict[str, Any]) -> str:
    """An apply's error as told to the caller: the import lock's holder (a login and a
    process id on SQLite) is the server's business, so a held lock is said in words."""
    if outcome.get("field") == "lock":
        return "another import is running; apply this plan again when it has ended"
    return str(outcome.get("message"))


def _ended(doc: dict[str, Any], busy: dict[str, Any]) -> None:
    """A job that ended (dead, cancelled) before it wrote what it was for: ``plan_failed`` or
    ``apply_failed``, with the job's error, rather than "planning"/"applying" for ever. An
    apply may be posted again (a new job is queued); a plan's file must be posted again."""
    job = busy["job"]
    phase = busy["phase"]
    status = job["status"] if job else "gone"
    message = (job or {}).get("error") or f"the {phase} job ended ({status}) before it finished"
    where = {"file": busy.get("file") or doc.get("file"), "line": None, "column": None}
    doc.update(
        status="plan_failed" if phase == "plan" else "apply_failed",
        errors=[{**where, "value": None, "message": message}],
    )
    doc["kind"] = doc.get("kind") or busy.get("kind")
    doc["file"] = doc.get("file") or busy.get("file")
    if job:
        doc["job"] = {**job, "phase": phase, "progress": busy["progress"]}


def plan_document(stage: Stage) -> ImportPlan:
    """What a stage holds now, for ``GET /imports/{id}`` and the other answers."""
    from admin_ui.app import state
    from admin_ui.modelviews.import_progress import working
    from lms_core.imports.rerun import file_sha256

    data = stage.read(stage.report) or {}
    doc: dict[str, Any] = {k: v for k, v in data.items() if k in ImportPlan.model_fields}
    doc["id"] = stage.id
    busy = working(state().session_factory, stage)
    applied = stage.read(stage.applied)
    outcome = stage.read(stage.outcome)
    if busy is not None and busy["refresh"] is None:
        _ended(doc, busy)
    elif busy is not None:
        job = busy["job"] or {}
        doc["status"] = "planning" if busy["phase"] == "plan" else "applying"
        doc["job"] = {**job, "phase": busy["phase"], "progress": busy["progress"]} if job else None
        doc["kind"], doc["file"] = busy.get("kind"), busy.get("file")
    elif applied is not None:
        doc.update(status="applied", applied=applied)
    elif outcome is not None and outcome.get("status") == "refused":
        doc.update(status="apply_refused", errors=outcome.get("problems", []))
    elif outcome is not None and outcome.get("status") == "error":
        problem = {"file": doc.get("file"), "line": None, "column": outcome.get("field")}
        doc.update(status="apply_failed", errors=[{**problem, "message": _error_message(outcome)}])
    else:
        doc["status"] = "planned" if data.get("has_plan") else "refused"
    if stage.plan.is_file() and doc["status"] in PLANNED:
        doc["fingerprint"] = file_sha256(stage.plan)
    return ImportPlan.model_validate(doc)


def _queue(who: Actor, stage: Stage, kind: str, args: dict[str, Any]) -> None:
    """Queue the plan or apply job for the stage, as the back office does (one apply job per
    plan while it may still run; a new one once it ended without applying)."""
    from admin_ui.app import state
    from admin_ui.modelviews.import_progress import queue_for

    queue_for(state().session_factory, stage, kind, args, who)


def _save(stage: Stage, files: Any, part: str, limit_mb: int) -> Upload | None:
    upload = files.get("lessons" if part == "lessons" else "file")
    if upload is None or not upload.filename:
        return None
    saved: Upload = stage.save_upload(upload.stream, upload.filename, limit_mb, part=part)
    return saved


def _check_parts(kind: str, files: Any) -> None:
    """The ``file`` part is there (a ``lessons`` part only with a courses import)."""
    from lms_core.errors import ValidationError

    upload = files.get("file")
    if upload is None or not upload.filename:
        raise ValidationError("send the file to import as the 'file' part", field="file")
    if kind != "courses" and files.get("lessons") is not None:
        # Refused rather than dropped: the caller believes its lessons were imported.
        raise ValidationError(
            f"only a courses import takes a 'lessons' file, not a {kind} import",
            field="lessons",
            value=files["lessons"].filename,
        )


def _form_options(form: Any) -> tuple[str, dict[str, Any]]:
    from lms_core.errors import ValidationError

    mode = form.get("mode") or "upsert"
    if mode not in MODES:
        raise ValidationError(f"mode must be one of {', '.join(MODES)}", field="mode", value=mode)
    raw = form.get("max_removals")
    # ASCII digits, bounded: ``str.isdigit`` takes "²" (int() then fails) and any length.
    if raw not in (None, "") and not WHOLE.fullmatch(str(raw)):
        raise ValidationError(
            f"a whole number from 0 to {MAX_REMOVALS}", field="max_removals", value=raw
        )
    options = {
        "max_removals": int(raw) if raw not in (None, "") else None,
        "force": str(form.get("force", "")).lower() in ("1", "true", "yes", "on"),
        "sheet": form.get("sheet") or None,
        "encoding": form.get("encoding") or None,
    }
    return mode, options


@api.post("/imports/<string(maxlength=20):kind>")
@endpoint(scope="imports:write", tag="staff", ok=ImportPlan, status=200, also=(202,))
def import_plan(kind: str) -> Answer:
    """Post a file (``multipart/form-data``: ``file``; a courses import may add ``lessons``;
    ``mode``, ``max_removals``, ``force``, ``sheet``, ``encoding``): its plan, nothing written.

    ``kind``: users, courses, enrollments or oneroster. A file with problems is a 422 whose
    errors name file, line and column (``plan_id``: the refused plan, to GET); a large file is planned by a job (202: poll
    ``GET /imports/{id}``).
    """
    from flask import request

    from admin_ui.api.uploads import read_upload_form
    from admin_ui.app import MAX_IMPORT_MB, state
    from admin_ui.db import release_request_session
    from admin_ui.import_staging import root, sweep
    from admin_ui.modelviews.import_progress import is_large
    from lms_core.errors import ValidationError
    from lms_core.imports.jobs import PLAN_KIND
    from lms_core.imports.staged import plan_stage
    from lms_core.private_paths import make_private_dirs

    who = _admin()
    release_request_session()  # the plan run commits its ledger entry by itself
    if kind not in KINDS:
        raise ValidationError(f"kind must be one of {', '.join(KINDS)}", field="kind", value=kind)
    if request.mimetype != "multipart/form-data":
        raise ValidationError("send the file as multipart/form-data", field="Content-Type")
    settings = state().settings
    form, files = read_upload_form(
        settings, limit_mb=MAX_IMPORT_MB, max_files=2, setting="for each file of an import"
    )
    mode, options = _form_options(form)
    _check_parts(kind, files)  # before any folder is made: a refused post leaves none
    sweep(settings)
    stage_id = secrets.token_hex(16)
    stage = Stage(stage_id, root(settings) / stage_id)
    make_private_dirs(stage.folder)
    try:
        stage.write(stage.folder / OWNER, {"user_id": who.user_id})
        main = _save(stage, files, "main", MAX_IMPORT_MB)
        if main is None:  # checked above; kept so that ``main`` is never None below
            raise ValidationError("send the file to import as the 'file' part", field="file")
        lessons = _save(stage, files, "lessons", MAX_IMPORT_MB) if kind == "courses" else None
    except Exception:
        shutil.rmtree(stage.folder, ignore_errors=True)  # nothing staged: no folder left
        raise
    uploads = [u for u in (main, lessons) if u is not None]
    plan_request: dict[str, Any] = {
        "kind": kind,
        "mode": mode,
        "file": main.path.name,
        "lessons": lessons.path.name if lessons else None,
        "options": options,
    }
    if is_large(settings, uploads):
        rows = sum(u.rows for u in uploads)
        _queue(who, stage, PLAN_KIND, {**plan_request, "background": True, "rows": rows or None})
        return plan_document(stage), 202
    plan_stage(state().session_factory, settings, who, stage, plan_request)
    doc = plan_document(stage)
    if doc.status == "refused":
        detail = (
            f"{doc.error_count} problem(s) in {doc.file}; nothing can be applied "
            f"(GET /api/v1/imports/{doc.id} shows the plan)"
        )
        raise ApiProblem(422, detail, _file_errors(doc.errors), members={"plan_id": doc.id})
    return doc


@api.get(f"/imports/{STAGE}")
@endpoint(scope="imports:write", tag="staff", ok=ImportPlan)
def import_status(plan_id: str) -> Answer:
    """A posted file's plan, or the job planning or applying it, or how the apply ended."""
    who = _admin()
    return plan_document(_stage(plan_id, who))


@api.post(f"/imports/{STAGE}/apply")
@endpoint(
    scope="imports:write", tag="staff", ok=ImportPlan, status=200, also=(202,), json=ApplyRequest
)
def import_apply(plan_id: str, json: ApplyRequest) -> Answer:
    """Apply exactly this plan; refused (409) if a record it names changed since, or if
    ``fingerprint`` is not the plan's. A large plan is applied by a job (202)."""
    from admin_ui.app import state
    from admin_ui.db import release_request_session
    from lms_core.imports.jobs import APPLY_KIND
    from lms_core.imports.staged import apply_stage

    who = _admin()
    release_request_session()  # the apply run commits by itself
    stage = _stage(plan_id, who)
    doc = plan_document(stage)
    if doc.status == "applied":
        run = (doc.applied or {}).get("run_id")
        raise _conflict(f"this plan was applied already (import run {run})", plan_id)
    if doc.status in ("planning", "applying"):
        raise _conflict(f"a job is {doc.status} this file: GET /api/v1/imports/{plan_id}", plan_id)
    if doc.fingerprint is None:
        raise _conflict("this file has no plan to apply: fix its errors and post it again", plan_id)
    if json.fingerprint is not None and json.fingerprint != doc.fingerprint:
        detail = "this is not the plan you read (its fingerprint differs): GET it again"
        raise ApiProblem(409, detail, [error_entry("fingerprint", json.fingerprint, detail)])
    settings = state().settings
    if (stage.read(stage.report) or {}).get(
        "background"
    ) or doc.changes_total > settings.import_job_rows:
        _queue(who, stage, APPLY_KIND, {"changes": doc.changes_total})
        return plan_document(stage), 202
    outcome = apply_stage(state().session_factory, settings, who, stage)
    if outcome["status"] == "refused":
        detail = "nothing was applied: the data changed since this plan; post the file again"
        raise ApiProblem(409, detail, _file_errors(outcome["problems"]))
    if outcome["status"] == "error":
        message = _error_message(outcome)
        raise ApiProblem(409, message, [error_entry(outcome.get("field"), None, message)])
    if outcome["status"] != "applied":
        raise _conflict(
            f"this plan was applied already (import run {outcome.get('run_id')})", plan_id
        )
    return plan_document(stage)
