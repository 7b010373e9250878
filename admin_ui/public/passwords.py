"""Choosing a password with a one-time link: ``/set-password/<token>`` (the invitation link
imports print and mail), ``/reset-password`` (ask for a link) and ``/reset-password/<token>``
(the link of the reset mail). The paths are the ones :mod:`lms_core.mail.render` builds.

A link is checked before its form is shown (:func:`~lms_core.accounts.tokens.check_token`
leaves it unused, so nobody types a password into a page whose link has expired) and used up
only when the new password passes the strength check; the same transaction ends every
session of the user (:func:`~lms_core.accounts.tokens.reset_password_with_token`).

Asking for a reset link answers the same words whether or not the address has an account:
the page must not tell a stranger who studies here.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from admin_ui.auth import STAFF_ROLES
from admin_ui.db import request_session
from admin_ui.public import public
from lms_core.errors import LmsError
from lms_core.models import TokenPurpose

#: What the reset request page says, for every address (known, unknown or deactivated).
RESET_SENT = (
    "If an account uses that address, an e-mail with a link to choose a new password is on "
    "its way; the link works for 2 hours. Nothing arrived? Check the spam folder, then ask again."
)


@dataclass(frozen=True)
class LinkKind:
    """One kind of password link: which token it carries and how its page reads."""

    purpose: TokenPurpose
    endpoint: str
    heading: str
    button: str
    #: What to do when the link no longer works.
    next_step: str


INVITATION = LinkKind(
    TokenPurpose.invitation,
    "public.set_password",
    "Choose your password",
    "Set my password",
    "Ask whoever invited you (your school's administrator) for a new invitation.",
)
RESET = LinkKind(
    TokenPurpose.password_reset,
    "public.reset_confirm",
    "Choose a new password",
    "Set my new password",
    "Ask for a new link below.",
)


def sentence(exc: LmsError) -> str:
    """A service's refusal as a sentence for a visitor (its words, without the field name)."""
    text = exc.message.rstrip(".")
    return f"{text[:1].upper()}{text[1:]}."


def _form(kind: LinkKind, token: str, email: str, status: int = 200) -> ResponseReturnValue:
    from admin_ui.app import state

    page = render_template(
        "public/choose_password.html",
        kind=kind,
        token=token,
        email=email,
        min_length=state().settings.password_min_length,
    )
    return page, status


def link_refused(message: str, *, next_step: str, offer_reset: bool) -> ResponseReturnValue:
    """The page of a link that does not work (unknown, used, expired): why, and what next."""
    page = render_template(
        "public/refused.html", message=message, next_step=next_step, offer_reset=offer_reset
    )
    return page, 400


def _choose_password(kind: LinkKind, token: str) -> ResponseReturnValue:
    from admin_ui.app import state
    from lms_core.accounts.tokens import check_token, reset_password_with_token
    from lms_core.security import PasswordHasher

    db = request_session()
    try:
        user = check_token(db, raw=token, purpose=kind.purpose)
    except LmsError as exc:
        return link_refused(sentence(exc), next_step=kind.next_step, offer_reset=kind is RESET)
    email = user.email
    if request.method == "GET":
        return _form(kind, token, email)
    password = request.form.get("password") or ""
    if password != (request.form.get("confirm") or ""):
        flash("The two passwords differ: type the same password in both fields.", "error")
        return _form(kind, token, email, 400)
    try:
        done = reset_password_with_token(
            db,
            raw=token,
            password=password,
            hasher=PasswordHasher.from_settings(state().settings),
            purpose=kind.purpose,
        )
        staff = done.role in STAFF_ROLES
        db.commit()
    except LmsError as exc:  # a weak password: the link stays unused (rolled back)
        db.rollback()
        flash(sentence(exc), "error")
        return _form(kind, token, email, 400)
    return render_template("public/password_set.html", email=email, staff=staff)


@public.route("/set-password/<token>", methods=["GET", "POST"])
def set_password(token: str) -> ResponseReturnValue:
    """An invitation's link: the first password of an account made by an import or invite."""
    return _choose_password(INVITATION, token)


@public.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_confirm(token: str) -> ResponseReturnValue:
    """A reset mail's link: a new password, and every open session of the account ends."""
    return _choose_password(RESET, token)


@public.route("/reset-password", methods=["GET", "POST"])
def reset_request() -> ResponseReturnValue:
    """Ask for a reset link by e-mail; the answer never says whether the address is known."""
    if request.method == "GET":
        return render_template("public/reset_request.html", email="")
    email = (request.form.get("email") or "").strip()
    if "@" not in email or len(email) > 320:
        flash("Enter the e-mail address of your account.", "error")
        return render_template("public/reset_request.html", email=email[:320]), 400
    _queue_reset_mail(email)
    flash(RESET_SENT, "success")
    return redirect(url_for("public.reset_request"))


def _queue_reset_mail(email: str) -> None:
    """Queue the reset mail of an active account; nothing (and no sign of it) otherwise.

    The request acts as the account's own user: the service lets a user ask for their own
    reset, and this page can do nothing else (an administrator's rights would be more than
    it needs). The mail goes to the address on file, so only its owner reads the link.
    """
    from admin_ui.app import state
    from lms_core.accounts.tokens import request_password_reset
    from lms_core.accounts.users import find_user
    from lms_core.actor import Actor

    db = request_session()
    user = find_user(db, email)
    if user is None or not user.is_active:
        return
    try:
        request_password_reset(
            db,
            actor=Actor.for_user(user),
            email=user.email,
            mail_base_url=state().settings.public_base_url,
        )
        db.commit()
    except LmsError as exc:  # the same answer to the visitor; the operator reads the log
        db.rollback()
        current_app.logger.warning("password reset request for user %s refused: %s", user.id, exc)
