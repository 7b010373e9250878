"""``GET /verify/{number}``: the JSON of the public verification page, for anyone."""

from __future__ import annotations

from pydantic import BaseModel

from admin_ui.api.blueprint import api
from admin_ui.api.caller import PUBLIC
from admin_ui.api.endpoint import Answer, endpoint
from admin_ui.api.problems import ApiProblem, error_entry


class Verification(BaseModel):
    """What ``/verify/<number>`` shows: status and the few public facts, no e-mail."""

    number: str
    status: str
    verified: bool
    learner: str | None
    course: str | None
    issued_on: str | None
    revoked_on: str | None
    reason: str | None
    superseded_by: str | None
    file_matches: bool | None


@api.get("/verify/<string(maxlength=64):number>")
@endpoint(scope=PUBLIC, tag="public", ok=Verification)
def verify(number: str) -> Answer:
    """A certificate's status by its number (404 when nobody issued that number)."""
    from admin_ui.db import request_session
    from lms_core.certificates.verify import public_verification

    facts = public_verification(request_session(), number)
    if facts["status"] == "unknown":
        message = f"no certificate has the number {number}"
        raise ApiProblem(404, message, [error_entry("number", number, message)])
    return Verification(**facts)
