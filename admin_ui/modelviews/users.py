"""Back-office users: administrators manage accounts; instructors list their learners.

Every column, form field and export column is named here (never a password hash, MFA
secret or token: the view only knows the names below). Writes go through
``lms_core.accounts.users`` (create, update, set_role, delete, deactivate, reactivate,
unlock), invitations through the service ``lmsctl users invite`` calls, reset mails through
``request_password_reset``: the same rules and audit entries as the CLI. Instructors see the
learners of their courses (``lms_core.scopes.users``) read-only, and may enroll them into a
course of theirs (the enrollments service decides).
"""

from __future__ import annotations

from typing import Any

from flask import flash, has_request_context, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_admin import BaseView
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import BooleanEqualFilter, FilterEmpty, FilterEqual
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session
from wtforms import BooleanField, SelectField, StringField, TextAreaField  # type: ignore[import-untyped]
from wtforms.validators import InputRequired, Optional  # type: ignore[import-untyped]

from admin_ui.db import run_service
from admin_ui.modelviews.base import ADMIN_ONLY, STAFF, StaffModelView, role_allowed
from admin_ui.modelviews.labels import human_labels
from admin_ui.modelviews.selection import (
    act_on_each,
    names,
    plural,
    selected,
    text,
    time_formatters,
)
from lms_core import scopes
from lms_core.accounts.fields import ROLES, USER, UserCreate, UserUpdate
from lms_core.actor import Actor
from lms_core.models import User

#: The only user attributes the back office shows (lists, details, exports).
LIST_COLUMNS = ("email", "full_name", "role", "is_active", "last_login_at", "created_at")
#: What ``lmsctl users show --json`` prints (the field spec's listing), without the row id.
DETAIL_COLUMNS = tuple(name for name in USER.listing() if name != "id")
EXPORT_COLUMNS = (
    "email",
    "full_name",
    "role",
    "is_active",
    "external_id",
    "last_login_at",
    "last_activity_at",
    "created_at",
)
#: Profile fields an edit sends to ``update_user`` when they changed.
PROFILE_FIELDS = ("email", "full_name", "external_id", "bio", "avatar_url")
_ROLE_CHOICES = [(r, r) for r in ROLES]


class UserCreateForm:  # a mixin of fields; the view builds it on its FlaskForm base
    email = StringField("E-mail", validators=[InputRequired()])
    full_name = StringField("Full name", validators=[InputRequired()])
    role = SelectField("Role", choices=_ROLE_CHOICES, default="student")
    external_id = StringField("External id (SIS key)", validators=[Optional()])
    is_active = BooleanField("Active", default=True)
    send_invitation = BooleanField(
        "Mail an invitation (a link to choose a password, valid 14 days)", default=True
    )


class UserEditForm:
    email = StringField("E-mail", validators=[InputRequired()])
    full_name = StringField("Full name", validators=[InputRequired()])
    role = SelectField("Role", choices=_ROLE_CHOICES)
    external_id = StringField("External id (SIS key)", validators=[Optional()])
    bio = TextAreaField("Bio", validators=[Optional()])
    avatar_url = StringField("Avatar URL", validators=[Optional()])


class UserView(StaffModelView):
    """Users: the administrators' accounts page; instructors' list of their learners."""

    allowed_roles = STAFF
    export_columns = EXPORT_COLUMNS
    list_columns_only = True  # the formatters read listed columns only
    column_list = LIST_COLUMNS
    column_details_list = DETAIL_COLUMNS
    form_columns = ("email", "full_name", "role", "external_id", "bio", "avatar_url")
    column_searchable_list = ("email", "full_name")
    column_sortable_list = (
        "email",
        "full_name",
        "role",
        "is_active",
        "last_login_at",
        "created_at",
    )
    column_default_sort = "email"
    column_filters = (
        FilterEqual(User.role, "Role", options=_ROLE_CHOICES),
        BooleanEqualFilter(User.is_active, "Active"),
        FilterEmpty(User.deleted_at, "Deleted at"),
    )
    column_labels = {
        **human_labels(column_list, column_details_list),
        "full_name": "Name",
        "is_active": "Active",
        "last_login_at": "Last login",
        "last_activity_at": "Last activity",
    }
    column_formatters = time_formatters(
        "last_login_at",
        "last_activity_at",
        "created_at",
        "updated_at",
        "locked_until",
        "email_verified_at",
        "deleted_at",
    )

    # -- who may do what: everybody in STAFF lists; only administrators change accounts --
    @property
    def can_create(self) -> bool:  # type: ignore[override]  # per request: admins only
        return has_request_context() and role_allowed(ADMIN_ONLY)

    @property
    def can_edit(self) -> bool:  # type: ignore[override]
        return has_request_context() and role_allowed(ADMIN_ONLY)

    @property
    def can_delete(self) -> bool:  # type: ignore[override]
        return has_request_context() and role_allowed(ADMIN_ONLY)

    def is_action_allowed(self, name: str) -> bool:
        if name == "delete":  # Flask-Admin's bulk delete commits row by row: not offered
            return False
        if name == "enroll":
            return role_allowed(STAFF)
        return role_allowed(ADMIN_ONLY)

    def scope(self, actor: Actor) -> ColumnElement[bool] | None:
        return scopes.users(actor)

    def get_create_form(self) -> Any:
        return type("UserCreate", (UserCreateForm, self.form_base_class), {})

    def get_edit_form(self) -> Any:
        return type("UserEdit", (UserEditForm, self.form_base_class), {})

    def describe(self, model: Any) -> str:
        return f"user {model.email}"

    # -- writes: the CLI's services -------------------------------------------------------
    def create_with_service(self, session: Session, actor: Actor, form: Any) -> Any:
        from lms_core.accounts.users import create_user

        user, _ = create_user(
            session,
            actor=actor,
            data=UserCreate(
                email=text(form.email.data),
                full_name=text(form.full_name.data),
                role=form.role.data,
                external_id=text(form.external_id.data) or None,
                is_active=bool(form.is_active.data),
            ),
        )
        if form.send_invitation.data:
            report = _invite(session, actor, [user.email])
            if report.skipped:
                flash(f"No invitation for {user.email}: {report.skipped[0].message}.", "warning")
        return user

    def update_with_service(self, session: Session, actor: Actor, form: Any, model: Any) -> Any:
        from lms_core.accounts.users import set_role, update_user

        email = model.email
        changed = {
            f: text(getattr(form, f).data)
            for f in PROFILE_FIELDS
            if text(getattr(form, f).data) != text(getattr(model, f))
        }
        role_changed = form.role.data != model.role
        if changed or not role_changed:  # nothing at all: the service says so
            model = update_user(session, actor=actor, email=email, data=UserUpdate(**changed))
        if role_changed:
            model = set_role(session, actor=actor, email=model.email, role=form.role.data)
        return model

    def delete_with_service(self, session: Session, actor: Actor, model: Any) -> Any:
        from lms_core.accounts.users import delete_user

        return delete_user(session, actor=actor, email=model.email)

    # -- actions on a selection: one unit of work each ------------------------------------
    def _each(self, ids: Any, service: Any, verb: str) -> None:
        act_on_each(
            selected(self, ids, User.email),
            lambda s, a, u: service(s, actor=a, email=u.email),
            verb=verb,
            noun="user",
            name=lambda u: u.email,
        )

    @action("deactivate", "Deactivate", "Deactivate the selected users? They can no longer log in.")  # type: ignore[untyped-decorator]
    def action_deactivate(self, ids: Any) -> None:
        from lms_core.accounts.users import deactivate_user

        self._each(ids, deactivate_user, "Deactivated")

    @action("reactivate", "Reactivate")  # type: ignore[untyped-decorator]
    def action_reactivate(self, ids: Any) -> None:
        from lms_core.accounts.users import reactivate_user

        self._each(ids, reactivate_user, "Reactivated")

    @action("unlock", "Unlock (clear failed logins)")  # type: ignore[untyped-decorator]
    def action_unlock(self, ids: Any) -> None:
        from lms_core.accounts.users import unlock_user

        self._each(ids, unlock_user, "Unlocked")

    @action("invite", "Send invitation mail", "Mail each selected user a new invitation link?")  # type: ignore[untyped-decorator]
    def action_invite(self, ids: Any) -> None:
        rows = selected(self, ids, User.email)
        if not rows:
            flash("No user selected that you may change.", "error")
            return
        report = run_service(lambda s, a: _invite(s, a, [u.email for u in rows]), None)
        if report is None:
            return
        invited = [i.email for i in report.invited]
        if invited:
            flash(f"Invited {plural(len(invited), 'user')}: {names(invited)}.", "success")
        for skipped in report.skipped:
            flash(f"Not invited: {skipped.email} {skipped.message}.", "warning")

    @action("reset", "Send password reset mail", "Mail each selected user a password reset link?")  # type: ignore[untyped-decorator]
    def action_reset(self, ids: Any) -> None:
        from lms_core.accounts.tokens import request_password_reset

        base_url = _settings().public_base_url
        act_on_each(
            selected(self, ids, User.email),
            lambda s, a, u: request_password_reset(
                s, actor=a, email=u.email, mail_base_url=base_url
            ),
            verb="Mailed a password reset link to",
            noun="user",
            name=lambda u: u.email,
        )

    @action("enroll", "Enroll into a course…")  # type: ignore[untyped-decorator]
    def action_enroll(self, ids: Any) -> ResponseReturnValue:
        rows = selected(self, ids, User.email)
        if not rows:
            flash("No user selected that you may enroll.", "error")
            return redirect(url_for(".index_view"))
        return redirect(url_for("enrollment.enroll_view", user=[u.id for u in rows]))


def _settings() -> Any:
    from admin_ui.app import state

    return state().settings


def _invite(session: Session, actor: Actor, emails: list[str]) -> Any:
    """What ``lmsctl users invite EMAIL...`` does: a token per user, mailed (queued)."""
    from lms_core.imports.invites import invite_users

    return invite_users(
        session, actor=actor, base_url=_settings().public_base_url, emails=emails, mail=True
    )


def views() -> list[BaseView]:
    return [UserView(User, name="Users", endpoint="user", category=None)]
