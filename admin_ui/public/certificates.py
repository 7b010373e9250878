"""``/verify/<number>``: the page every certificate's QR code points to.

It shows :func:`lms_core.certificates.verify.public_verification` and nothing more: status
(valid, revoked with its reason, superseded with the number that replaced it, unknown), the
learner's name, the course and the dates. A relying party may upload the PDF it was given:
the page says whether its SHA-256 is that of the PDF issued (the file is hashed, not kept).
``/verify`` is a form to type a number printed on paper.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from admin_ui.public import public
from admin_ui.public.limits import MAX_PDF_MB

#: HTTP status per verification status: a number nobody issued is "not found".
_STATUS_CODE = {"valid": 200, "revoked": 200, "superseded": 200, "unknown": 404}


def _page(number: str, facts: dict[str, Any] | None, *, error: str | None = None) -> Any:
    return render_template(
        "public/verify_certificate.html",
        number=number,
        facts=facts,
        error=error,
        max_pdf_mb=MAX_PDF_MB,
    )


@contextmanager
def _read_session() -> Iterator[Session]:
    """A session that only reads, for the anonymous PDF check: the request's own session takes
    SQLite's write lock on every POST (:func:`admin_ui.db.request_session`), and anybody on
    the internet may POST here; a check must never queue behind, or block, a real writer."""
    from admin_ui.app import state

    session = state().session_factory()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


@public.get("/verify")
def verify_lookup() -> ResponseReturnValue:
    """A form for a number read off paper; a typed number goes to its own page."""
    typed = (request.args.get("number") or "").strip()
    if typed:
        return redirect(url_for("public.verify_certificate", number=typed[:64]))
    return render_template("public/verify_lookup.html")


@public.route("/verify/<number>", methods=["GET", "POST"])
def verify_certificate(number: str) -> ResponseReturnValue:
    from lms_core.certificates.verify import public_verification
    from lms_core.errors import ValidationError

    pdf: bytes | None = None
    if request.method == "POST":
        upload = request.files.get("pdf")  # the body's size is capped in admin_ui.public.limits
        if upload is None or not upload.filename:
            try:
                with _read_session() as session:
                    facts = public_verification(session, number)
            except ValidationError:
                facts = None
            return _page(number, facts, error="Choose the PDF file to check."), 400
        pdf = upload.read()
    try:
        with _read_session() as session:
            facts = public_verification(session, number, pdf=pdf)
    except ValidationError as exc:
        error = f"{number} is not a certificate number: it {exc.message}."
        return _page(number, None, error=error), 400
    return _page(number, facts), _STATUS_CODE.get(facts["status"], 200)
