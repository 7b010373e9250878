"""A course's certificates zip for the back office (``lmsctl certificates export``).

Split from :mod:`admin_ui.modelviews.certificates`: the zip is built in a temporary file
(one PDF in memory at a time) and streamed from it, which is most of the view's code.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from flask import Response, abort, send_file
from sqlalchemy import select

from lms_core import scopes
from lms_core.actor import Actor
from lms_core.models import Course


def course_zip(actor: Actor, slug: str) -> Response:
    """The zip of ``slug``'s valid certificates, as an attachment.

    404 for a course the actor may not see (another instructor's is not confirmed to exist)
    and for a slug with control characters, which no course has: PostgreSQL refuses a NUL
    in a query. Raises the service's ``LmsError`` (a stored PDF missing or altered).
    """
    from admin_ui.app import state
    from lms_core.certificates.export import export_zip
    from lms_core.db import unit_of_work

    if not slug.isprintable():
        abort(404)
    app = state()
    fd, name = tempfile.mkstemp(prefix="lms-certificates-", suffix=".zip")
    os.close(fd)
    try:
        with unit_of_work(app.session_factory, write=False) as session:
            clause = scopes.courses(actor)
            stmt = select(Course.id).where(Course.slug == slug)
            if session.scalar(stmt if clause is None else stmt.where(clause)) is None:
                abort(404)
            export_zip(
                session, actor=actor, course_slug=slug, settings=app.settings, out=Path(name)
            )
        stream = open(name, "rb")  # noqa: SIM115  # closed by the response
    finally:
        Path(name).unlink(missing_ok=True)  # the open stream keeps the bytes (POSIX)
    return send_file(
        stream,
        mimetype="application/zip",
        as_attachment=True,
        download_name=f"certificates-{slug}.zip",
        max_age=0,
    )
