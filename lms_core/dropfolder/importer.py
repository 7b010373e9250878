"""One dropped file, imported once: ``working/`` → the import → ``processed/`` or ``failed/``.

Each step can be cut short by a kill and redone by the job's next attempt (same key, same
arguments), so each step is told apart by what it leaves on disk:

1. the file is renamed (atomic, same file system) from the folder into
   ``working/<sha256 prefix>/`` (a private folder), then checked there: a regular file
   with one link (never a symbolic or hard link: :func:`~lms_core.dropfolder.scan.unsafe_reason`)
   whose bytes are the ones the scan saw. Checking the moved copy, not the name in the
   folder, leaves the sender no moment to swap it. A re-run finds it there and checks again;
2. the import runs: the same run as ``lmsctl import`` (all or nothing, one transaction). A
   re-run after a kill mid-import imports it (nothing was committed); a re-run after the
   commit is told by the import ledger that these bytes are applied (``unchanged``);
3. ``<name>.result.json`` is written beside it (atomic rename): from now on a re-run does not
   import again, it only finishes the steps below;
4. the administrators' mails are queued (keyed by the file's checksum and the admin: once);
5. the file, its errors file and, last, the result are moved to ``processed/<UTC date>/``
   (``failed/`` when refused or failed); the working folder is removed. A re-run after
   this step finds the result there (by name and checksum) and reports it again.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import select

from lms_core.actor import Actor
from lms_core.db import SessionFactory, unit_of_work
from lms_core.dropfolder.scan import (
    DONE_SUFFIX,
    FAILED,
    PROCESSED,
    WORKING,
    UnsafeFile,
    dated,
    file_sha256,
    free_name,
)
from lms_core.errors import Conflict, LmsError
from lms_core.models import User
from lms_core.models.users import Role
from lms_core.settings import Settings

log = logging.getLogger(__name__)

ACTOR = Actor.system("dropfolder")
#: Entities whose new users get an invitation mail (tokens and mails in the import's own
#: transaction, as ``lmsctl import users --invites-out``).
INVITING = frozenset({"users", "oneroster"})
#: Seconds the import waits for another import's lock before the attempt fails (and retries).
LOCK_WAIT = 30.0


def _write_json(path: Path, data: dict[str, Any]) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str), encoding="utf-8")
    os.replace(temp, path)


def _write_errors(path: Path, errors: list[dict[str, Any]]) -> None:
    """The errors of a file refused as a whole (no rows to annotate): one line each."""
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.DictWriter(out, ("file", "line", "column", "message"), extrasaction="ignore")
        writer.writeheader()
        for error in errors:
            writer.writerow({k: error.get(k) for k in ("file", "line", "column", "message")})


def _applied_by_this_job(factory: SessionFactory, run_id: int, name: str) -> bool:
    """Whether the run the ledger names for these bytes is the drop folder's own import of
    this file: then an earlier attempt of this job applied it (its key is the checksum, so no
    other drop of these bytes runs), and the outcome is ``applied``, not ``unchanged``."""
    from lms_core.models import ImportRun

    with unit_of_work(factory, write=False) as session:
        run = session.get(ImportRun, run_id)
        return run is not None and run.actor_label == ACTOR.label and run.file_name == name


def _run_import(
    factory: SessionFactory, settings: Settings, work: Path, name: str, entity: str
) -> dict[str, Any]:
    from lms_core.imports.runs import ImportOptions, import_file

    errors_out = work / f"{name}.errors.csv"
    links = work / ".invites.csv"
    options = ImportOptions(
        mode="upsert",
        errors_out=errors_out,
        invites_out=links if entity in INVITING else None,
        wait=LOCK_WAIT,
    )
    try:
        report = import_file(
            factory,
            actor=ACTOR,
            settings=settings,
            entity=entity,
            path=work / name,
            options=options,
        )
    except Conflict:
        raise  # another import holds the lock: this attempt fails and is retried
    except LmsError as exc:
        errors = [exc.as_dict()]
        _write_errors(errors_out, errors)
        return {"outcome": "failed", "errors": errors, "error_count": 1}
    finally:
        links.unlink(missing_ok=True)  # the links went out by mail; the file holds secrets
    if report.unchanged_since is not None:
        if _applied_by_this_job(factory, report.unchanged_since, name):
            # This job's earlier attempt imported the file and was killed before step 3.
            return {"outcome": "applied", "run_id": report.unchanged_since, "recovered": True}
        return {"outcome": "unchanged", "run_id": report.unchanged_since}
    if report.refused:
        errors = [e.as_dict() for e in report.problems()[:20]]
        if not errors_out.exists():
            _write_errors(errors_out, errors)
        return {
            "outcome": "refused",
            "run_id": report.run_id,
            "error_count": report.error_count,
            "errors": errors,
        }
    return {
        "outcome": "applied",
        "run_id": report.run_id,
        "counts": report.counts,
        "invitations": report.invites,
    }


def summary_text(result: dict[str, Any]) -> str:
    """The result in a few lines, for the administrators' mail."""
    lines = [f"Outcome: {result['outcome']}"]
    if result.get("run_id"):
        lines.append(f"Import run: {result['run_id']} (in the import history)")
    for entity, counts in sorted((result.get("counts") or {}).items()):
        if isinstance(counts, dict):
            said = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()) if v)
            lines.append(f"{entity}: {said or 'no change'}")
    if result.get("invitations"):
        lines.append(f"Invitation mails: {result['invitations']}")
    if result.get("error_count"):
        lines.append(f"Errors: {result['error_count']} (see {result['name']}.errors.csv)")
        for error in result.get("errors", [])[:5]:
            where = ", ".join(
                f"{k} {error[k]}" for k in ("line", "column") if error.get(k) is not None
            )
            lines.append(f"- {where + ': ' if where else ''}{error.get('message')}")
    lines.append(f"Moved to: {result['moved_to']}")
    return "\n".join(lines)


def _mail_admins(factory: SessionFactory, settings: Settings, result: dict[str, Any]) -> int:
    from lms_core.mail.outbox import queue_mail

    outcome = {"applied": "imported", "unchanged": "already imported (unchanged)"}.get(
        result["outcome"], result["outcome"]
    )
    with unit_of_work(factory) as session:
        admins = session.scalars(
            select(User).where(
                User.role == Role.admin.value, User.is_active.is_(True), User.deleted_at.is_(None)
            )
        ).all()
        for admin in admins:
            queue_mail(
                session,
                template="import_result",
                to=admin.email,
                context={
                    "full_name": admin.full_name,
                    "file_name": result["name"],
                    "outcome": outcome,
                    "summary": summary_text(result),
                },
                key=f"dropfolder:{result['sha256'][:40]}:{admin.id}",
                base_url=settings.public_base_url,
            )
        return len(admins)


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "errors"} | {
        "error_count": result.get("error_count", 0)
    }


def _finished(folder: Path, name: str, sha: str) -> dict[str, Any] | None:
    """The result of these bytes already moved to ``processed/`` or ``failed/`` (a re-run
    after a kill that followed the last move), or None."""
    stem, dot, suffix = name.rpartition(".")
    names = (name, f"{stem}-{sha[:8]}.{suffix}" if dot else f"{name}-{sha[:8]}")
    for which in (PROCESSED, FAILED):
        base = folder / which
        days = (
            sorted((d for d in base.iterdir() if d.is_dir()), reverse=True) if base.is_dir() else []
        )
        for day in days:
            for candidate in names:
                try:
                    found = json.loads((day / f"{candidate}.result.json").read_text("utf-8"))
                except (OSError, ValueError):
                    continue
                if isinstance(found, dict) and found.get("sha256") == sha:
                    return _summary(found) | {"recovered": True}
    return None


def _set_aside(folder: Path, data: Path, name: str, note: str) -> str:
    """Move a file taken into ``working/`` but not imported to ``failed/``, with a note."""
    target = dated(folder, FAILED)
    final = target / free_name(target, name, "refused")
    os.replace(data, final)
    (target / f"{final.name}.note.txt").write_text(note + "\n", encoding="utf-8")
    return str(final)


def _check_taken(folder: Path, work: Path, name: str, sha: str) -> dict[str, Any] | None:
    """Check the file moved into ``working/``; None when it may be imported, else the outcome
    (the file put back, or aside, and the working folder removed)."""
    data = work / name
    try:
        actual = file_sha256(data)
    except UnsafeFile as exc:
        moved = _set_aside(folder, data, name, f"refused: {exc}")
        shutil.rmtree(work, ignore_errors=True)
        log.warning("drop folder: %s refused: %s", name, exc)
        return {"outcome": "unsafe", "name": name, "message": str(exc), "moved_to": moved}
    if actual == sha:
        return None
    source = folder / name
    if os.path.lexists(source):  # a newer file of that name came meanwhile: keep both
        _set_aside(folder, data, name, "changed since the scan; a newer file had that name")
    else:
        os.replace(data, source)  # the scan takes it again, as the bytes it now holds
    shutil.rmtree(work, ignore_errors=True)
    return {"outcome": "changed", "name": name, "message": "changed since the scan"}


def import_dropped(
    factory: SessionFactory, settings: Settings, folder: Path, args: dict[str, Any]
) -> dict[str, Any]:
    """Import the dropped file ``args['name']`` (bytes ``args['sha256']``) once; the summary."""
    name, entity, sha = str(args["name"]), str(args["entity"]), str(args["sha256"])
    work = folder / WORKING / sha[:16]
    data, result_path = work / name, work / f"{name}.result.json"
    if not result_path.exists():
        if not os.path.lexists(data):
            try:
                work.mkdir(parents=True, exist_ok=True, mode=0o700)
                os.replace(folder / name, data)  # a link is moved as a link, never followed
            except FileNotFoundError:
                shutil.rmtree(work, ignore_errors=True)
                finished = _finished(folder, name, sha)
                if finished is not None:
                    return finished
                return {"outcome": "gone", "name": name, "message": "the file was moved away"}
        refused = _check_taken(folder, work, name, sha)
        if refused is not None:
            return refused
    # Always (a re-run too): a marker left by a kill would let a later file of that name in
    # at once, before it is complete.
    (folder / f"{name}{DONE_SUFFIX}").unlink(missing_ok=True)
    if result_path.exists():
        result: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
    else:
        result = _run_import(factory, settings, work, name, entity)
        target = dated(
            folder, PROCESSED if result["outcome"] in ("applied", "unchanged") else FAILED
        )
        result.update(
            name=name,
            entity=entity,
            sha256=sha,
            moved_to=str(target / free_name(target, name, sha[:8])),
        )
        _write_json(result_path, result)
    result["mailed"] = _mail_admins(factory, settings, result)
    final = Path(result["moved_to"])
    final.parent.mkdir(parents=True, exist_ok=True)
    for source, suffix in (
        (data, ""),
        (work / f"{name}.errors.csv", ".errors.csv"),
        (work / f"{name}.errors.lessons.csv", ".errors.lessons.csv"),
        (result_path, ".result.json"),
    ):
        if source.exists():
            os.replace(source, final.with_name(final.name + suffix))
    shutil.rmtree(work, ignore_errors=True)
    log.info("drop folder: %s %s -> %s", name, result["outcome"], final)
    return _summary(result)
