"""The question bank upload of the quiz view: a dry run first, then the confirmed import.

The page posts the file once (``step=preview``): it is parsed and ``import_questions`` runs
with ``dry_run`` in the request's session (rolled back), and the page shows the questions,
what a replace changes, and every warning; a refused file lists each problem as the CLI
prints it (``error: bank.gift, line 3, column 5: ...``). "Import" (``step=apply``) posts the
same bytes back with a key of the plan shown; the import runs only if the dry run, done
again in the same unit of work, gives that same plan (else the new plan is shown).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from flask import abort, request
from sqlalchemy.orm import Session

from admin_ui.db import request_session, run_service
from lms_core.actor import Actor
from lms_core.errors import Conflict, ErrorList, FileProblem, LmsError
from lms_core.models import Quiz
from lms_core.quizzes.questions import ImportResult


def _plan_key(data: bytes, fmt: str, replace: bool, result: ImportResult) -> str:
    """What the confirmation must match: the file, the options and the counts shown."""
    counts = (result.added, result.updated, result.removed, result.total, result.changed)
    text = f"{result.quiz.id}|{fmt}|{replace}|{counts}"
    return hashlib.sha256(data + text.encode()).hexdigest()


def bank_step(quiz: Quiz) -> dict[str, Any]:
    """One POST of the bank page: the preview (dry run) or the confirmed import."""
    from lms_core.quizzes.questions import import_questions, parse_bank

    fmt = (request.form.get("format") or "").strip().lower() or None
    replace = request.form.get("replace") == "y"
    if request.form.get("step") == "apply":
        try:
            data = base64.b64decode(request.form.get("data", ""), validate=True)
        except (binascii.Error, ValueError):
            abort(400)
        filename = request.form.get("filename") or "upload"
    else:
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return {"errors": ["error: file: choose a file to upload"]}
        data, filename = upload.read(), upload.filename
    page: dict[str, Any] = {"filename": filename, "fmt": fmt or "", "replace": replace}
    notes: list[FileProblem] = []
    try:
        parsed = parse_bank(data, file=filename, fmt=fmt, warnings=notes)
    except ErrorList as exc:
        return {**page, "errors": [f"error: {e}" for e in exc.errors]}
    except LmsError as exc:
        return {**page, "errors": [f"error: {exc}"]}
    page["warnings"] = [f"warning: {w}" for w in notes]
    page["parsed"] = parsed

    def dry(session: Session, actor: Actor) -> ImportResult:
        return import_questions(
            session,
            actor=actor,
            quiz_ref=quiz.id,
            questions=parsed,
            replace=replace,
            dry_run=True,
            source=filename,
        )

    if request.form.get("step") == "apply":

        def apply(session: Session, actor: Actor) -> ImportResult:
            planned = dry(session, actor)
            if _plan_key(data, fmt or "", replace, planned) != request.form.get("plan"):
                raise Conflict(
                    "the quiz changed since the preview; check the new plan", field="quiz"
                )
            return import_questions(
                session,
                actor=actor,
                quiz_ref=quiz.id,
                questions=parsed,
                replace=replace,
                source=filename,
            )

        done = run_service(apply, lambda r: _imported(r, len(parsed), filename, replace))
        if done is not None:
            page["done"] = done
            return page
    session = request_session()
    try:
        from admin_ui.auth import current_actor

        result = dry(session, current_actor())
    except ErrorList as exc:
        return {**page, "errors": [f"error: {e}" for e in exc.errors]}
    except LmsError as exc:
        return {**page, "errors": [f"error: {exc}"]}
    finally:
        session.rollback()
    page.update(
        preview=result,
        rows=[(n, result.change_of(n), q) for n, q in enumerate(parsed, start=1)],
        data=base64.b64encode(data).decode("ascii"),
        plan=_plan_key(data, fmt or "", replace, result),
    )
    return page


def _imported(result: ImportResult, n: int, filename: str, replace: bool) -> str:
    replaced = f", {result.updated} replaced" if result.updated else ""
    removed = f", {result.removed} removed" if result.removed else ""
    changed = replace and result.changed
    regrade = f" ({len(result.changed)} changed: regrade after)" if changed else ""
    return (
        f"Imported {n} question(s) from {filename} into quiz {result.quiz.id}: "
        f"{result.added} added{replaced}{removed}{regrade}; {result.total} in the quiz."
    )
