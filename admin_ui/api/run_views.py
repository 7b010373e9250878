"""Staff runs through the API: issue a course's certificates, grade a submission, and fetch
any certificate's PDF one may see (the learner's own, or staff's for the courses they manage).

Issuing is a *run* (``lmsctl certificates issue``): it takes the course's run lock, renders
and commits in batches by itself, so the view closes the request's session first and calls
:func:`lms_core.certificates.issue.issue_certificates` with the app's session factory. Grading
is a service (``lmsctl submissions grade``) in the request's unit of work.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, field_validator

from admin_ui.api.blueprint import api
from admin_ui.api.caller import caller
from admin_ui.api.endpoint import Answer, commit, endpoint
from admin_ui.api.submission_views import LESSON, Submission

EMAIL = "<string(maxlength=320):email>"


class IssueRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: Say who would get one, write nothing.
    dry_run: bool = False
    #: Also issue a new certificate to learners whose certificate was revoked (administrators).
    include_revoked: bool = False


class Issued(BaseModel):
    #: None on a dry run (the number is drawn when it is issued).
    number: str | None
    learner: str
    email: str
    #: The revoked certificate this one replaces (``include_revoked``).
    replaces: str | None = None


class Uncovered(BaseModel):
    learner: str
    email: str
    missing: int
    characters: str


class IssueError(BaseModel):
    field: str
    value: Any = None
    message: str


class IssueResult(BaseModel):
    """``lmsctl certificates issue --json``: who got one (or would, on a dry run), how many
    already had one, were not eligible or hold a revoked one; ``errors``: names the fonts
    cannot draw (those learners got none; every other one did)."""

    course: str
    dry_run: bool
    issued: list[Issued]
    uncovered: list[Uncovered]
    errors: list[IssueError]
    already: int
    not_eligible: int
    revoked: int
    include_revoked: bool
    orphans_removed: int


class GradeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: Points, 0 to the assignment's maximum: a JSON number, or text read as the CLI reads
    #: ``--grade`` (``"7,5"`` and ``"1e1"`` accepted). Strict: ``true`` is not 1.
    grade: StrictInt | StrictFloat | str = Field(union_mode="left_to_right")
    #: Feedback for the learner (left out: unchanged).
    feedback: str | None = Field(None, max_length=20_000)

    @field_validator("grade", mode="before")
    @classmethod
    def _not_a_boolean(cls, value: Any) -> Any:
        """Refused under ``grade`` itself (the union's members would each name their own)."""
        if isinstance(value, bool):
            raise ValueError("must be a number")
        return value


@api.post("/courses/<string(maxlength=200):slug>/certificates")
@endpoint(scope="certificates:write", tag="staff", ok=IssueResult, json=IssueRequest)
def issue_certificates(slug: str, json: IssueRequest) -> Answer:
    """Issue certificates to every eligible learner of a course who has none (the course's
    instructor or an administrator); a rerun issues none. ``dry_run``: who would get one."""
    from admin_ui.app import state
    from admin_ui.db import release_request_session
    from lms_core.certificates.issue import issue_certificates as run

    who = caller().actor
    release_request_session()  # the run commits by itself, in batches
    app = state()
    report = run(
        app.session_factory,
        actor=who,
        course_slug=slug,
        settings=app.settings,
        dry_run=json.dry_run,
        include_revoked=json.include_revoked,
    )
    return IssueResult.model_validate(report.as_dict())


@api.get("/certificates/<string(maxlength=64):number>/pdf")
@endpoint(scope="certificates:read", tag="staff", ok=None)
def certificate_pdf(number: str) -> Answer:
    """A certificate's stored PDF: a learner's own, or any of the courses one manages
    (administrators: every one); 404 for any other."""
    from admin_ui.api.learner_views import pdf_download

    return pdf_download(number, mine_only=False)


@api.put(f"/courses/{LESSON}/submissions/{EMAIL}/grade")
@endpoint(scope="submissions:grade", tag="staff", ok=Submission, json=GradeRequest)
def grade_submission(slug: str, lesson: str, email: str, json: GradeRequest) -> Answer:
    """Grade (or regrade) a learner's submission (the course's instructor or an
    administrator); the late penalty applies to the final grade."""
    from admin_ui.db import request_session
    from lms_core.assignments.fields import SubmissionGrade
    from lms_core.assignments.submissions import grade, submission_row

    data = SubmissionGrade(points=json.grade, feedback=json.feedback)
    graded = grade(
        request_session(),
        actor=caller().actor,
        assignment=f"{slug}/{lesson}",
        email=email,
        data=data,
    )
    row = submission_row(graded, graded.assignment)
    commit()
    return Submission.model_validate(row)
