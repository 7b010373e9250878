"""Handing in an assignment: ``multipart/form-data`` with ``text`` and ``file`` parts.

The same service as ``lmsctl submissions submit``: enrolled learners only, the assignment's
dates and late policy, a graded submission is final, and every file goes through the same
size and type checks (magic bytes, not the name) before anything is stored.
"""

from __future__ import annotations

from admin_ui.api.blueprint import api
from admin_ui.api.caller import caller
from admin_ui.api.endpoint import Answer, commit, endpoint
from admin_ui.api.models import twin
from lms_core.assignments.fields import SubmissionRow

LESSON = "<string(maxlength=200):slug>/lessons/<string(maxlength=200):lesson>"

Submission = twin("Submission", SubmissionRow)


@api.post(f"/courses/{LESSON}/submission")
@endpoint(scope="submissions:write", tag="learning", ok=Submission, status=201, also=(200,))
def hand_in(slug: str, lesson: str) -> Answer:
    """Hand in work for an assignment lesson (201; 200 when it replaces an ungraded one).

    Send ``multipart/form-data``: a ``text`` part, ``file`` parts (up to 20), or both.
    """
    from flask import request

    from admin_ui.api.uploads import read_upload_form
    from admin_ui.app import state
    from admin_ui.db import request_session
    from lms_core.assignments.fields import SubmissionCreate
    from lms_core.assignments.files import Upload
    from lms_core.assignments.submissions import submission_row
    from lms_core.assignments.submissions import submit as submit_work
    from lms_core.errors import ValidationError

    if request.mimetype != "multipart/form-data":
        raise ValidationError(
            "send the work as multipart/form-data (a text part, file parts)", field="Content-Type"
        )
    settings = state().settings
    form, parts = read_upload_form(settings)  # each file checked as it streams in
    files = [Upload(filename=f.filename or "upload", data=f.read()) for f in parts.getlist("file")]
    who = caller().actor
    result = submit_work(
        request_session(),
        actor=who,
        settings=settings,
        assignment=f"{slug}/{lesson}",
        email=who.label,
        data=SubmissionCreate(text=form.get("text"), files=files),
    )
    row = submission_row(result.submission, result.submission.assignment)
    commit()
    return Submission.model_validate(row), 201 if result.outcome == "created" else 200
