"""``/login`` and ``/logout``: the back office's door.

A login is checked by :func:`lms_core.accounts.auth.authenticate` (argon2id, lockout with
backoff, MFA: the same rules as the API); a failure is committed (the counter must count) and
shown with the service's words, which never tell an unknown e-mail from a wrong password.
Users with MFA on type their code (or a recovery code) in the form's third field, on the same
POST as the password: there is no half-logged-in state to steal or skip. A success clears the
cookie's session (nothing planted before login survives) and opens a new server-side one.
Learners are refused here: the back office is for staff; learners use the API. The role is
checked after the password and before the code, so a learner's recovery code is not spent.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user, logout_user

from admin_ui.auth import STAFF_ROLES, LoginUser, snapshot
from admin_ui.db import request_session
from admin_ui.public import public


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host, no ``//``): no open redirect.

    Browsers read ``/\\host`` as ``//host`` and drop tabs and line breaks from a URL, so a
    backslash or a control character anywhere is refused too.
    """
    if not target:
        return url_for("admin.index")
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in target)
    ):
        return url_for("admin.index")
    return target


@public.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    from admin_ui.app import state
    from lms_core.accounts.auth import authenticate
    from lms_core.accounts.web_sessions import open_session
    from lms_core.security import PasswordHasher

    next_url = request.args.get("next")
    if request.method == "GET":
        if current_user.is_authenticated and getattr(current_user, "is_staff", False):
            return redirect(_safe_next(next_url))
        return render_template("public/login.html", next_url=next_url, email=None)

    email = (request.form.get("email") or "").strip()
    password = request.form.get("password") or ""
    totp = (request.form.get("totp") or "").strip()[:32] or None
    app_state = state()
    db = request_session()
    outcome = authenticate(
        db,
        email=email,
        password=password,
        hasher=PasswordHasher.from_settings(app_state.settings),
        settings=app_state.settings,
        totp=totp,
        roles=STAFF_ROLES,  # checked before the code: a learner's recovery code is not spent
    )
    user = outcome.user
    refused = outcome.error is not None and outcome.error.kind == "forbidden"
    if refused and user is not None and user.role not in STAFF_ROLES:
        db.commit()
        flash("the back office is for staff; learners use the learning app (the API)", "error")
        return render_template("public/login.html", next_url=next_url, email=email), 403
    if not outcome.ok or user is None:
        db.commit()  # the failed attempt and any lock are kept
        assert outcome.error is not None
        flash(outcome.error.message, "error")
        ask_code = outcome.error.field == "totp"
        page = render_template(
            "public/login.html", next_url=next_url, email=email, ask_code=ask_code
        )
        return page, 403 if outcome.error.kind == "forbidden" else 401
    raw = open_session(db, user=user, user_agent=request.headers.get("User-Agent"))
    found: LoginUser = snapshot(user, raw)
    db.commit()
    session.clear()  # a fresh cookie session: nothing from before the login carries over
    login_user(found)
    flash(f"Logged in as {user.email}.", "success")
    return redirect(_safe_next(next_url))


@public.post("/logout")
def logout() -> ResponseReturnValue:
    from lms_core.accounts.web_sessions import close_session

    token = getattr(current_user, "session_token", "")
    if token:
        db = request_session()
        close_session(db, token)
        db.commit()
    logout_user()
    session.clear()
    flash("Logged out.", "success")
    return redirect(url_for("public.login"))
