"""A staged import: an uploaded file planned, then its plan applied, in a folder of its own.

The back office's import page keeps each upload in a private folder under the files folder
(``<files_dir>/.web-imports/<id>``). A small file is planned and applied in the request; a
large one by the ``imports.plan`` and ``imports.apply`` jobs (:mod:`lms_core.imports.jobs`),
in a worker that shares the files folder. Both paths call the functions here, which call the
same two runs as ``lmsctl import ... --dry-run --plan-out`` and ``lmsctl import apply``
(:mod:`lms_core.imports.runs`), so the audit entries and the "apply exactly that plan,
refused if the data changed" rule are the CLI's. What the page shows is written as JSON
files of the stage (``report.json``, ``applied.json``, ``outcome.json``, ``progress.json``):
a worker has no request to answer, and the page reads the same files whoever wrote them.
Whether the plan was applied is the ledger's to say, though: its run is recorded under the
plan file's name, unique to the stage, and looked for under the import lock before applying.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lms_core.actor import Actor
from lms_core.db import SessionFactory
from lms_core.errors import FileProblem, LmsError
from lms_core.imports.report import ImportReport
from lms_core.imports.rerun import applied_plan
from lms_core.imports.runs import ImportOptions, apply_plan_file, import_file
from lms_core.private_paths import PRIVATE_FILE, WEB_IMPORTS_FOLDER
from lms_core.settings import Settings

#: Why a file with passwords gets no plan here (the service's refusal, said for a staged
#: upload: the back office's page and the API both show it, so it names neither).
PASSWORDS = (
    "this file has a password column, and a plan never carries passwords, so there is no "
    "plan to apply: remove the column (new users then get an invitation link to choose "
    "their own) and upload the file again"
)
#: Changes shown on the plan page (the plan file holds them all).
SHOWN_CHANGES = 200
#: Problems kept for the page (the errors file has every row).
SHOWN_ERRORS = 500
#: Seconds between two writes of ``progress.json`` (a tick comes every chunk of rows).
PROGRESS_EVERY = 0.5
_ID = re.compile(r"\A[0-9a-f]{32}\Z")
#: The errors files an import writes: ``errors.csv``, then ``errors.<table>.csv`` for each
#: further table (a courses file's lessons, OneRoster's tables). Only these names are served.
ERRORS_NAME = re.compile(r"\Aerrors(\.[a-z_]+)?\.csv\Z")


@dataclass(frozen=True)
class StageFiles:
    """One staged upload's folder and the files written there."""

    id: str
    folder: Path

    @property
    def inputs(self) -> Path:
        return self.folder / "input"

    @property
    def plan(self) -> Path:
        """Named after the stage: its run is recorded as ``<file> (plan plan-<id>.json)``, so
        the ledger tells whether it was applied (:func:`applied_in_ledger`)."""
        return self.folder / f"plan-{self.id}.json"

    @property
    def errors(self) -> Path:
        return self.folder / "errors.csv"

    @property
    def report(self) -> Path:
        """What the plan page shows (:func:`report_data`)."""
        return self.folder / "report.json"

    @property
    def applied(self) -> Path:
        """The import run the plan became, as the page shows it. Written after the commit (a
        worker killed in between leaves none), so the ledger is the proof, not this file."""
        return self.folder / "applied.json"

    @property
    def outcome(self) -> Path:
        """How a background apply ended when it did not apply (refused, or an error)."""
        return self.folder / "outcome.json"

    @property
    def progress(self) -> Path:
        """A running job's progress: what it reads and how many rows or changes so far."""
        return self.folder / "progress.json"

    @property
    def job(self) -> Path:
        """The job working on the stage: ``{"job_id", "phase"}``."""
        return self.folder / "job.json"

    def errors_files(self) -> list[str]:
        """The names of the stage's errors files, ``errors.csv`` first (the main table)."""
        if not self.folder.is_dir():
            return []
        found = [p.name for p in self.folder.iterdir() if self.errors_file(p.name) is not None]
        return sorted(found, key=lambda name: (name != self.errors.name, name))

    def errors_file(self, name: str) -> Path | None:
        """The errors file ``name`` of the stage, or None: any other name (a path, the plan, a
        link) is never served."""
        if not ERRORS_NAME.match(name):
            return None
        path = self.folder / name
        return path if path.is_file() and not path.is_symlink() else None

    def read(self, path: Path) -> dict[str, Any] | None:
        """A JSON file of the stage, or None when it is not there."""
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return data

    def write(self, path: Path, data: dict[str, Any]) -> None:
        """A JSON file of the stage, 0600, replaced whole (never half-written)."""
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, default=str, ensure_ascii=False)
        os.replace(tmp, path)

    def discard_inputs(self) -> None:
        """Remove the uploaded files once planned: applying reads the plan only, and an upload
        may hold passwords (its errors file leaves them out)."""
        shutil.rmtree(self.inputs, ignore_errors=True)

    def input_file(self, part: str, name: str) -> Path:
        """An uploaded file by its part and (already safe) name; never outside the stage."""
        path = self.inputs / part / name
        if "/" in name or name.startswith(".") or part not in ("main", "lessons"):
            raise ValueError(f"not a staged input: {part}/{name}")
        return path


def stage_at(settings: Settings, stage_id: str) -> StageFiles | None:
    """The stage ``stage_id`` under the files folder, or None (a bad id, or gone)."""
    if not _ID.match(stage_id or ""):
        return None
    folder = settings.files_dir / WEB_IMPORTS_FOLDER / stage_id
    return StageFiles(stage_id, folder) if folder.is_dir() else None


class ProgressFile:
    """A run's ``progress(what, done)`` callback that writes ``progress.json`` now and then."""

    def __init__(self, stage: StageFiles, phase: str, total: int | None) -> None:
        self.stage, self.phase, self.total = stage, phase, total
        self._last = 0.0

    def __call__(self, what: str, done: int) -> None:
        now = time.monotonic()
        if now - self._last < PROGRESS_EVERY:
            return
        self._last = now
        self.stage.write(
            self.stage.progress,
            {"phase": self.phase, "what": what, "done": done, "total": self.total},
        )


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


def plan_stage(
    factory: SessionFactory,
    settings: Settings,
    actor: Actor,
    stage: StageFiles,
    request: dict[str, Any],
    *,
    progress: ProgressFile | None = None,
) -> dict[str, Any]:
    """Plan the stage's upload as a dry run; write and return ``report.json``'s data.

    ``request``: ``kind``, ``mode``, ``file`` and ``lessons`` (input names of the stage),
    ``options`` (``max_removals``, ``force``, ``sheet``, ``encoding``), ``background``.
    A refusal (a bad file, a password column) is part of the data, never raised: the page
    shows it whoever planned. The uploaded files are removed afterwards in every case.
    """
    opts = request.get("options") or {}
    path = stage.input_file("main", str(request["file"]))
    lessons = request.get("lessons")
    options = ImportOptions(
        mode=str(request["mode"]),
        max_removals=opts.get("max_removals"),
        force=bool(opts.get("force")),
        dry_run=True,
        sheet=opts.get("sheet") or None,
        encoding=opts.get("encoding") or None,
        lessons=stage.input_file("lessons", str(lessons)) if lessons else None,
        plan_out=stage.plan,
        errors_out=stage.errors,
    )
    data: dict[str, Any] = {
        "kind": request["kind"],
        "mode": request["mode"],
        "file": path.name,
        "options": {"max_removals": options.max_removals, "force": options.force},
        "background": bool(request.get("background")),
    }
    try:
        report = import_file(
            factory,
            actor=actor,
            settings=settings,
            entity=str(request["kind"]),
            path=path,
            options=options,
            progress=progress,
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
    # The plan and errors file are what is kept. Not removed on an unexpected error (the
    # database gone): a job's next attempt plans them again; the sweep removes them in a day.
    stage.discard_inputs()
    data["has_plan"] = stage.plan.is_file() and not data["error_count"]
    data["errors_files"] = stage.errors_files()
    data["has_errors_file"] = bool(data["errors_files"])
    stage.write(stage.report, data)
    return data


def apply_stage(
    factory: SessionFactory,
    settings: Settings,
    actor: Actor,
    stage: StageFiles,
    *,
    progress: ProgressFile | None = None,
    wait: float = 0,
) -> dict[str, Any]:
    """Apply the stage's plan file, once (``wait``: seconds to wait for another import's lock); how it went, as ``{"status": ...}``:

    ``applied`` (``run_id``, ``counts``, ``uninvited``; ``applied.json`` written and the plan
    removed), ``already`` (applied before: by an earlier click, a second worker, or an attempt
    killed after its commit, found in the ledger under the import lock), ``no_plan``,
    ``refused`` (the data changed since: ``problems``) or ``error`` (``message``, ``field``).
    Raises only what is not a refusal (a bug, the database gone), for a job to retry.
    """
    done = stage.read(stage.applied)
    if done is not None:
        return {"status": "already", **done}
    if not stage.plan.is_file():
        return {"status": "no_plan"}
    try:
        report = apply_plan_file(
            factory,
            actor=actor,
            settings=settings,
            path=stage.plan,
            wait=wait,
            progress=progress,
            once=True,
        )
    except LmsError as exc:
        # The plan gone since the check above: another apply of the stage has just applied it.
        done = None if stage.plan.is_file() else applied_in_ledger(factory, stage)
        if done is not None:
            return {"status": "already", **done}
        return {"status": "error", "message": str(exc), "field": exc.field}
    try:
        if report.refused:
            return {"status": "refused", "problems": [e.as_dict() for e in report.problems()]}
        run_id = report.applied_by or report.run_id
        applied = _mark_applied(stage, {"run_id": run_id, "counts": report.counts})
        status = "already" if report.applied_by else "applied"
        return {"status": status, "uninvited": report.uninvited, **applied}
    finally:
        report.close()


def _mark_applied(stage: StageFiles, applied: dict[str, Any]) -> dict[str, Any]:
    stage.write(stage.applied, applied)
    stage.plan.unlink(missing_ok=True)  # applied: the ledger keeps the changes now
    return applied


def applied_in_ledger(factory: SessionFactory, stage: StageFiles) -> dict[str, Any] | None:
    """The stage's ``applied.json``, or, when the ledger has a run of its plan that the file
    does not say (a worker killed after its commit), that run, written there now."""
    done = stage.read(stage.applied)
    if done is not None:
        return done
    found = applied_plan(factory, stage.plan.name)
    if found is None:
        return None
    return _mark_applied(stage, {"run_id": found[0], "counts": found[1]})
