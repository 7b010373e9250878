"""The drop folder's scan: which files are there, which are complete, one job per new file.

A file is taken when it is *complete*: a ``<name>.done`` marker sits beside it, or its size
and modification time were the same at two looks ``import_drop_stable_seconds`` apart (a
copy over the network or a slow upload grows the file, or touches it, between looks). The
looks are remembered in a small state file in the folder (``.lms-dropfolder.json``), since
each scan is a separate job, maybe in another process.

A complete file gets a ledger job ``dropfolder.import`` keyed ``drop:<sha256 of its bytes>``:
the same bytes dropped again find that job instead of a new one, so they are imported once;
the copy is moved aside with a note instead (:func:`set_aside`).

Only regular files with one name are taken. A symbolic link (``users.csv -> /srv/lms/.env``)
or a hard link would make the service account read, and copy into ``failed/`` as errors, a
file the dropper cannot read: they are looked at with ``lstat`` (never followed), opened
with ``O_NOFOLLOW``, left alone and reported once (:func:`unsafe_reason`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from lms_core.db import SessionFactory, unit_of_work
from lms_core.models import utcnow
from lms_core.models.jobs import Job

log = logging.getLogger(__name__)

IMPORT_KIND = "dropfolder.import"
STATE_FILE = ".lms-dropfolder.json"
DONE_SUFFIX = ".done"
#: Sub-folders the toolkit keeps in the drop folder; never scanned.
WORKING, PROCESSED, FAILED = "working", "processed", "failed"

#: File name (case-insensitive) -> import entity, first match wins.
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^users.*\.(csv|xlsx)$", re.IGNORECASE), "users"),
    (re.compile(r"^courses.*\.(csv|xlsx)$", re.IGNORECASE), "courses"),
    (re.compile(r"^enrollments.*\.(csv|xlsx)$", re.IGNORECASE), "enrollments"),
    (re.compile(r"^.*\.zip$", re.IGNORECASE), "oneroster"),
)


def entity_for(name: str) -> str | None:
    """The import a file name asks for (:data:`PATTERNS`), or None: the file is left alone."""
    for pattern, entity in PATTERNS:
        if pattern.match(name):
            return entity
    return None


class UnsafeFile(Exception):
    """A dropped name that is not a regular file with one link: never read."""


def unsafe_reason(info: os.stat_result) -> str | None:
    """Why a file with this ``lstat`` may not be taken, or None when it may."""
    if stat.S_ISLNK(info.st_mode):
        return "a symbolic link: never followed, not imported"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file: not imported"
    if info.st_nlink > 1:
        return (
            f"a hard link ({info.st_nlink} names for one file): not imported; "
            "copy the file instead of linking it"
        )
    return None


def file_sha256(path: Path) -> str:
    """The SHA-256 of a regular file, opened without following a link (:class:`UnsafeFile`
    for a link, a hard link or anything not a regular file)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        info = os.lstat(path)  # ELOOP: a symbolic link
        raise UnsafeFile(unsafe_reason(info) or str(exc)) from None
    with os.fdopen(fd, "rb") as stream:
        reason = unsafe_reason(os.fstat(stream.fileno()))
        if reason is not None:
            raise UnsafeFile(reason)
        digest = hashlib.sha256()
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def job_key(sha256: str) -> str:
    return f"drop:{sha256}"


#: Outcomes of an import job that found no file to take (moved away, or changed after the
#: scan): these bytes were not imported by it, so a new copy of them is queued on that job.
NOT_TAKEN = ("gone", "changed", "unsafe")


def _requeue(job: Job, args: dict[str, Any]) -> None:
    """Queue a finished job again for a new copy of its bytes (the key stays the job's)."""
    job.args = args
    job.status = "queued"
    job.attempts = 0
    job.run_at = utcnow()
    job.result = job.error = job.finished_at = job.lease_until = job.worker = None


@dataclass
class ScanReport:
    queued: list[dict[str, Any]] = field(default_factory=list)
    #: Files not complete yet (still growing, or seen once).
    waiting: list[str] = field(default_factory=list)
    #: Copies of bytes already imported (or queued), moved aside.
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    #: Names matching no pattern, reported (logged) the first time they are seen.
    unknown: list[str] = field(default_factory=list)
    #: Links and other non-regular files, left alone, reported the first time they are seen.
    refused: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "queued": self.queued,
            "waiting": self.waiting,
            "duplicates": self.duplicates,
            "unknown": self.unknown,
            "refused": self.refused,
        }


def _load_state(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    for key in ("unknown", "refused"):
        if not isinstance(data.get(key), list):
            data[key] = []
    if not isinstance(data.get("looks"), dict):
        data["looks"] = {}
    return data


def _save_state(folder: Path, state: dict[str, Any]) -> None:
    temp = folder / f"{STATE_FILE}.{os.getpid()}.tmp"
    temp.write_text(json.dumps(state, sort_keys=True), encoding="utf-8")
    os.replace(temp, folder / STATE_FILE)


def _complete(
    path: Path, info: os.stat_result, state: dict[str, Any], stable_seconds: float, now: float
) -> bool:
    """Whether ``path`` (its ``lstat`` ``info``) is complete; records this look in ``state``."""
    if (path.parent / f"{path.name}{DONE_SUFFIX}").exists():
        return True
    look = [info.st_size, info.st_mtime_ns]
    earlier = state["looks"].get(path.name)
    if earlier is not None and earlier[:2] == look:
        return now - float(earlier[2]) >= stable_seconds
    state["looks"][path.name] = [*look, now]
    return False


def dated(folder: Path, which: str) -> Path:
    """``processed/<UTC date>`` or ``failed/<UTC date>`` under ``folder``, made if missing."""
    target = folder / which / time.strftime("%Y-%m-%d", time.gmtime())
    target.mkdir(parents=True, exist_ok=True)
    return target


def free_name(target: Path, name: str, tag: str) -> str:
    """``name``, or ``<stem>-<tag><suffix>`` when ``target`` already has a file of that name."""
    if not (target / name).exists():
        return name
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}-{tag}.{suffix}" if dot else f"{name}-{tag}"


def set_aside(folder: Path, path: Path, job: Job) -> dict[str, Any]:
    """Move a copy of bytes a job already has to where that job's file went, with a note."""
    result = job.result or {}
    run = result.get("run_id")
    failed = job.status == "succeeded" and result.get("outcome") not in (
        None,
        "applied",
        "unchanged",
    )
    target = dated(folder, FAILED if failed or job.status == "dead" else PROCESSED)
    name = free_name(target, path.name, f"dup{job.id}")
    note = f"already imported by job {job.id}" + (f" / run {run}" if run else "")
    if job.status not in ("succeeded", "dead", "cancelled"):
        note = f"already queued as job {job.id} ({job.status})"
    os.replace(path, target / name)
    (target / f"{name}.note.txt").write_text(note + "\n", encoding="utf-8")
    done = path.parent / f"{path.name}{DONE_SUFFIX}"
    if done.exists():
        done.unlink()
    return {"file": path.name, "moved_to": str(target / name), "note": note, "job_id": job.id}


def _refuse(state: dict[str, Any], report: ScanReport, name: str, reason: str) -> None:
    """Report a link (or other non-regular file) the first time it is seen; leave it alone."""
    if name in state["refused"]:
        return
    state["refused"].append(name)
    report.refused.append({"file": name, "reason": reason})
    log.warning("drop folder: %s is %s (left alone)", name, reason)


def _take(
    factory: SessionFactory,
    folder: Path,
    path: Path,
    entity: str,
    report: ScanReport,
) -> None:
    """Queue (or requeue, or set aside) one complete regular file."""
    from lms_core.jobs.ledger import enqueue

    name = path.name
    sha = file_sha256(path)
    key = job_key(sha)
    with unit_of_work(factory) as session:
        job = session.scalars(select(Job).where(Job.key == key)).one_or_none()
        if job is None:
            job = enqueue(
                session, IMPORT_KIND, {"name": name, "entity": entity, "sha256": sha}, key=key
            )
            report.queued.append({"file": name, "entity": entity, "job_id": job.id})
        elif job.args.get("name") == name and job.status in ("queued", "running", "failed"):
            report.waiting.append(name)  # its own job has not moved it yet
        elif job.status == "succeeded" and (job.result or {}).get("outcome") in NOT_TAKEN:
            _requeue(job, {"name": name, "entity": entity, "sha256": sha})
            report.queued.append({"file": name, "entity": entity, "job_id": job.id})
        else:
            report.duplicates.append(set_aside(folder, path, job))


def scan(factory: SessionFactory, folder: Path, *, stable_seconds: float) -> ScanReport:
    """Look at ``folder`` once: queue an import job per new complete file (flushes and commits
    its own units of work, one per file).

    A file an import job moves away while we look (between listing the folder and reading
    it) is skipped, not an error: the scan is one job for all files.
    """
    report = ScanReport()
    if not folder.is_dir():
        log.warning("drop folder %s does not exist (LMS_IMPORT_DROP_DIR)", folder)
        return report
    state = _load_state(folder)
    now = time.time()
    seen: set[str] = set()
    for path in sorted(folder.iterdir()):
        name = path.name
        if name.startswith(".") or name.endswith(DONE_SUFFIX):
            continue
        try:
            info = os.lstat(path)
            if stat.S_ISDIR(info.st_mode):
                continue  # working/, processed/, failed/ and any other folder
            seen.add(name)
            reason = unsafe_reason(info)
            if reason is not None:
                _refuse(state, report, name, reason)
                continue
            entity = entity_for(name)
            if entity is None:
                if name not in state["unknown"]:
                    state["unknown"].append(name)
                    report.unknown.append(name)
                    log.warning(
                        "drop folder: %s matches no pattern (users*, courses*, enrollments* "
                        ".csv/.xlsx, *.zip): left alone",
                        name,
                    )
                continue
            if not _complete(path, info, state, stable_seconds, now):
                report.waiting.append(name)
                continue
            _take(factory, folder, path, entity, report)
        except FileNotFoundError:
            seen.discard(name)  # moved away meanwhile (by its import job, or the sender)
            continue
        except UnsafeFile as exc:  # replaced by a link since the lstat
            _refuse(state, report, name, str(exc))
            continue
        state["looks"].pop(name, None)
    state["looks"] = {k: v for k, v in state["looks"].items() if k in seen}
    state["unknown"] = [n for n in state["unknown"] if n in seen]
    state["refused"] = [n for n in state["refused"] if n in seen]
    _save_state(folder, state)
    return report
