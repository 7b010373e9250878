"""The import ledger: runs (applied, refused, failed, undone), their history, and undo.

A run is recorded as it starts (:func:`record_start`), so that one killed before it finished
shows in the history, as ``interrupted``.

Undo restores each record's ``before`` image after checking that the record still equals
its ``after`` and that no later import touched it; any difference refuses the whole undo
with the list (entity, key, field), because restoring half a run is worse than none.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from lms_core import events
from lms_core.actor import Actor
from lms_core.db import SessionFactory, unit_of_work
from lms_core.errors import Conflict, ErrorList, LmsError, NotFound
from lms_core.imports.apply import ORDER, _resolve_refs, _updates
from lms_core.imports.plan.changes import CREATE, Change
from lms_core.imports.resolve import FIELDS, MODELS, by_ids, chunks
from lms_core.models import (
    AuditEntry,
    Course,
    Enrollment,
    ImportChange,
    ImportRun,
    ImportStatus,
    Lesson,
    LessonProgress,
    OneTimeToken,
    TokenPurpose,
    User,
    utcnow,
)


def _add_run(
    session: Session,
    actor: Actor,
    entity: str,
    mode: str,
    file_name: str,
    sha256: str,
    status: str = ImportStatus.applied.value,
    counts: dict[str, Any] | None = None,
    **values: Any,
) -> ImportRun:
    run = ImportRun(
        actor_id=actor.user_id,
        actor_label=actor.label,
        entity=entity,
        mode=mode,
        file_name=file_name[:500],
        file_sha256=sha256,
        status=status,
        counts=counts or {},
        **values,
    )
    session.add(run)
    session.flush()
    return run


#: The message of a run recorded as started (see :func:`record_start`) until it ends.
UNFINISHED = "the run stopped before it finished (killed?); nothing it read was written"


def record_start(
    factory: SessionFactory, *, actor: Actor, entity: str, mode: str, file_name: str
) -> int:
    """The run, recorded before it works, in a short transaction of its own.

    Stored as ``failed`` with no ``finished_at`` (the statuses are fixed by the schema):
    the run's own transaction makes it applied, a refusal or failure records its outcome on
    it, and a run killed in between stays so and is shown ``running`` or ``interrupted``.
    """
    with unit_of_work(factory) as session:
        return _add_run(
            session,
            actor,
            entity,
            mode,
            file_name,
            "",
            ImportStatus.failed.value,
            message=UNFINISHED,
        ).id


def discard_start(factory: SessionFactory, run_id: int) -> None:
    """Forget a run recorded by :func:`record_start` that ends in a usage error (not recorded)."""
    with unit_of_work(factory) as session:
        session.execute(delete(ImportRun).where(ImportRun.id == run_id))


def start_run(
    session: Session,
    *,
    actor: Actor,
    entity: str,
    mode: str,
    file_name: str,
    sha256: str,
    run_id: int | None = None,
) -> ImportRun:
    """The run's row in its own transaction: the one :func:`record_start` recorded, if any."""
    run = session.get(ImportRun, run_id) if run_id is not None else None
    if run is None:
        return _add_run(session, actor, entity, mode, file_name, sha256)
    run.status = ImportStatus.applied.value
    run.message = None
    run.file_name = file_name[:500]
    session.flush()
    return run


def _audit(
    session: Session, actor: Actor, action: str, run: ImportRun, after: dict[str, Any]
) -> None:
    session.add(
        AuditEntry(
            actor_id=actor.user_id,
            actor_label=actor.label,
            action=action,
            entity_type="import_run",
            entity_id=run.id,
            after=after,
        )
    )


def finish_run(
    session: Session,
    run: ImportRun,
    *,
    actor: Actor,
    counts: dict[str, Any],
    sha256: str,
    started: float,
) -> None:
    """Counts, duration and the run's one audit entry (``import.apply``)."""
    run.counts = counts
    run.file_sha256 = sha256
    run.finished_at = utcnow()
    run.duration_ms = int((time.monotonic() - started) * 1000)
    _audit(
        session,
        actor,
        "import.apply",
        run,
        {"entity": run.entity, "mode": run.mode, "file": run.file_name, "counts": counts},
    )
    session.flush()
    events.emit(
        session,
        "import.applied",
        {
            "run_id": run.id,
            "entity": run.entity,
            "mode": run.mode,
            "file_name": run.file_name,
            "counts": counts,
            "finished_at": run.finished_at,
        },
        key=f"import.applied:{run.id}",
    )


def record_outcome(
    factory: SessionFactory,
    *,
    actor: Actor,
    entity: str,
    mode: str,
    file_name: str,
    sha256: str,
    status: str,
    counts: dict[str, Any],
    message: str,
    started: float,
    run_id: int | None = None,
) -> int:
    """A refused or failed run, in a short transaction of its own after the rollback
    (on the row :func:`record_start` recorded, when given)."""
    # The message may quote what the operator typed (``--sheet``, ``--encoding``); a NUL in
    # it would be stored silently by SQLite but crash PostgreSQL, so it is written visibly.
    message = message.replace("\x00", "\\x00")
    with unit_of_work(factory) as session:
        started_run = session.get(ImportRun, run_id) if run_id is not None else None
        if started_run is not None:
            started_run.file_name = file_name[:500]
            started_run.file_sha256 = sha256
            started_run.status = status
            started_run.counts = counts
            started_run.message = message[:4000]
            started_run.finished_at = utcnow()
            started_run.duration_ms = int((time.monotonic() - started) * 1000)
            return started_run.id
        run = _add_run(
            session,
            actor,
            entity,
            mode,
            file_name,
            sha256,
            status,
            counts,
            message=message[:4000],
            finished_at=utcnow(),
            duration_ms=int((time.monotonic() - started) * 1000),
        )
        return run.id


def run_row(run: ImportRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "started_at": run.started_at,
        "actor": run.actor_label,
        "entity": run.entity,
        "file": run.file_name,
        "sha256": run.file_sha256[:12],
        "mode": run.mode,
        "counts": run.counts,
        "duration_ms": run.duration_ms,
        "status": run.status,
        "message": run.message,
        "undone_at": run.undone_at,
        "undone_by": run.undone_by,
    }


def history(session: Session, *, limit: int = 20) -> list[dict[str, Any]]:
    """The latest runs; one recorded as started and never finished is ``running`` while the
    import lock is held (only the newest can be: runs hold the lock), else ``interrupted``."""
    from lms_core.locks import lock_held

    stmt = select(ImportRun).order_by(ImportRun.id.desc()).limit(limit)
    rows: list[dict[str, Any]] = []
    newest = True
    for run in session.scalars(stmt):
        row = run_row(run)
        if run.finished_at is None and run.message == UNFINISHED:
            live = newest and lock_held(session, "import")
            row["status"] = "running" if live else "interrupted"
            row["message"] = None if live else UNFINISHED
            newest = False
        rows.append(row)
    return rows


@dataclass
class UndoReport:
    run_id: int
    dry_run: bool
    restored: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "restored": self.restored,
            "deleted": self.deleted,
        }


def _problem(change: ImportChange, message: str, field_name: str | None = None) -> LmsError:
    where = f"{change.entity_type} {change.key}"
    return Conflict(message, field=f"{where}.{field_name}" if field_name else where)


def _later_runs(
    session: Session, run: ImportRun, changes: list[ImportChange]
) -> dict[tuple[str, int], int]:
    """(entity_type, id) -> the later applied run that changed that record."""
    found: dict[tuple[str, int], int] = {}
    by_type: dict[str, list[int]] = defaultdict(list)
    for c in changes:
        by_type[c.entity_type].append(c.entity_id)
    for entity_type, ids in by_type.items():
        for batch in chunks(ids):
            stmt = (
                select(ImportChange.entity_id, ImportChange.run_id)
                .join(ImportRun, ImportRun.id == ImportChange.run_id)
                .where(
                    ImportChange.entity_type == entity_type,
                    ImportChange.entity_id.in_(batch),
                    ImportChange.run_id > run.id,
                    ImportRun.status == ImportStatus.applied.value,
                )
            )
            for entity_id, run_id in session.execute(stmt):
                found.setdefault((entity_type, entity_id), run_id)
    return found


def _dependants(
    session: Session, entity_type: str, ids: list[int], created: dict[str, set[int]]
) -> dict[int, str]:
    """Records created by the run that have since gained rows of their own (id -> what)."""
    out: dict[int, str] = {}
    checks: list[tuple[Any, Any, str, set[int]]] = []
    if entity_type == "user":
        checks = [
            (Enrollment.student_id, Enrollment.id, "enrollments", created.get("enrollment", set())),
            (Course.instructor_id, Course.id, "courses they teach", created.get("course", set())),
            (AuditEntry.actor_id, AuditEntry.id, "actions in the audit log", set()),
        ]
    elif entity_type == "course":
        checks = [
            (Enrollment.course_id, Enrollment.id, "enrollments", created.get("enrollment", set())),
            (Lesson.course_id, Lesson.id, "lessons", created.get("lesson", set())),
        ]
    elif entity_type == "lesson":
        checks = [(LessonProgress.lesson_id, LessonProgress.id, "learners' progress", set())]
    elif entity_type == "enrollment":
        checks = [(LessonProgress.enrollment_id, LessonProgress.id, "lesson progress", set())]
    for batch in chunks(ids):
        for owner, row_id, what, own in checks:
            for parent, child in session.execute(select(owner, row_id).where(owner.in_(batch))):
                if child not in own:
                    out.setdefault(parent, what)
        if entity_type == "user":
            stmt = select(OneTimeToken.user_id).where(
                OneTimeToken.user_id.in_(batch),
                (OneTimeToken.purpose != TokenPurpose.invitation.value)
                | OneTimeToken.used_at.is_not(None),
            )
            for user_id in session.scalars(stmt):
                out.setdefault(user_id, "used or other one-time tokens")
            logged = select(User.id).where(User.id.in_(batch), User.last_login_at.is_not(None))
            for user_id in session.scalars(logged):
                out.setdefault(user_id, "logins")
    return out


def undo(session: Session, *, actor: Actor, run_id: int, dry_run: bool = False) -> UndoReport:
    """Restore every record of run ``run_id`` to its ``before``; all or nothing."""
    run = session.get(ImportRun, run_id)
    if run is None:
        raise NotFound(f"no import run {run_id}", field="run", value=run_id)
    if run.status != ImportStatus.applied.value:
        when = f" on {run.undone_at:%Y-%m-%d %H:%M}" if run.undone_at else ""
        status = "unfinished" if run.message == UNFINISHED and not run.finished_at else run.status
        raise Conflict(
            f"import run {run_id} is {status}{when}; only an applied run can be undone",
            field="run",
            value=run_id,
        )
    changes = list(
        session.scalars(
            select(ImportChange).where(ImportChange.run_id == run_id).order_by(ImportChange.id)
        )
    )
    later = _later_runs(session, run, changes)
    created: dict[str, set[int]] = defaultdict(set)
    for c in changes:
        if c.action == CREATE:
            created[c.entity_type].add(c.entity_id)
    problems: list[LmsError] = []
    by_type: dict[str, list[ImportChange]] = defaultdict(list)
    for c in changes:
        by_type[c.entity_type].append(c)
    for entity_type, items in by_type.items():
        current = by_ids(session, entity_type, [c.entity_id for c in items])
        gained = _dependants(session, entity_type, sorted(created.get(entity_type, set())), created)
        for c in items:
            record = current.get(c.entity_id)
            if record is None:
                problems.append(_problem(c, "no longer exists"))
                continue
            if (entity_type, c.entity_id) in later:
                problems.append(
                    _problem(
                        c,
                        f"changed again by import run {later[entity_type, c.entity_id]}; undo that run first",
                    )
                )
                continue
            for name, value in (c.after or {}).items():
                if name in FIELDS[entity_type] and record.get(name) != value:
                    problems.append(
                        _problem(
                            c,
                            f"changed since the import (now {record.get(name)!r}, the import set {value!r})",
                            name,
                        )
                    )
            if c.action == CREATE and c.entity_id in gained:
                problems.append(
                    _problem(
                        c, f"was created by this run and has since gained {gained[c.entity_id]}"
                    )
                )
    if problems:
        raise problems[0] if len(problems) == 1 else ErrorList(problems)
    report = UndoReport(run_id, dry_run)
    for entity_type in reversed(ORDER):
        items = by_type.get(entity_type, [])
        deletes = [c.entity_id for c in items if c.action == CREATE]
        restores = [
            Change(c.entity_type, c.key, c.action, c.entity_id, c.after, dict(c.before or {}))
            for c in items
            if c.action != CREATE
        ]
        report.deleted[entity_type] = len(deletes)
        report.restored[entity_type] = len(restores)
        if dry_run:
            continue
        model = MODELS[entity_type]
        for batch in chunks(deletes):
            if entity_type == "user":
                session.execute(delete(OneTimeToken).where(OneTimeToken.user_id.in_(batch)))
            session.execute(delete(model).where(model.id.in_(batch)))
        if restores:
            _resolve_refs(session, entity_type, restores)
            _updates(session, entity_type, restores)
    if not dry_run:
        run.status = ImportStatus.undone.value
        run.undone_at = utcnow()
        run.undone_by = actor.label
        _audit(session, actor, "import.undo", run, report.as_dict())
        session.flush()
    return report
