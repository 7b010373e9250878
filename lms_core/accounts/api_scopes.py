"""The fixed list of scopes a personal access token may carry.

A scope narrows a token, it never widens it: a request made with a token is refused unless
the token has the endpoint's scope *and* the token's user may do it by the role rules every
front door applies. A login's own tokens (the API's ``/auth/login``) carry no scope list:
they act with the user's full rights, as the back office's session cookie does.
"""

from __future__ import annotations

from collections.abc import Iterable

from lms_core.errors import ValidationError

#: Scope name → what it allows (``lmsctl tokens create --help`` and docs/api.md show these).
SCOPES: dict[str, str] = {
    "courses:read": "the catalog: published courses and their outlines",
    "enrollments:read": "enrollments and progress (one's own; staff: their courses')",
    "enrollments:write": "enroll, drop, complete lessons",
    "certificates:read": "certificates and their PDFs",
    "certificates:write": "issue and revoke certificates",
    "users:read": "list and show users (staff)",
    "users:write": "create, update and deactivate users (administrators)",
    "quizzes:read": "one's quiz attempts and their results (staff: their courses')",
    "quizzes:write": "start, save and submit quiz attempts",
    "submissions:write": "submit assignments",
    "submissions:grade": "grade assignment submissions (staff of the course)",
    "imports:write": "plan and apply imports of users, courses, enrollments (administrators)",
    "reports:read": "reports and exports (staff)",
}


def check_scopes(scopes: Iterable[str]) -> list[str]:
    """The scopes, sorted and without repeats; refuses an unknown one, naming the known."""
    wanted = sorted({s.strip() for s in scopes if s.strip()})
    if not wanted:
        raise ValidationError(f"give at least one scope, from: {', '.join(SCOPES)}", field="scope")
    for scope in wanted:
        if scope not in SCOPES:
            raise ValidationError(
                f"unknown scope {scope!r}; known scopes: {', '.join(SCOPES)}",
                field="scope",
                value=scope,
            )
    return wanted
