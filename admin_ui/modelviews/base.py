"""The base of every back-office model view: role rule, scope, service-backed writes, exports.

Flask-Admin's defaults are unsafe for us, and each is closed here once:

* every view names the roles it admits (``allowed_roles``); a view without them admits
  nobody, and the view x role matrix test fails on it;
* lists and single rows pass through :meth:`scope` (the rule of :mod:`lms_core.scopes`), so
  an instructor who edits an id in the address bar sees "Record does not exist";
* create, update and delete never touch the session directly: a subclass that allows them
  implements :meth:`create_with_service` and friends, which call one ``lms_core`` service
  (rules, audit entry) in the request's unit of work (:func:`admin_ui.db.run_service`);
* Flask-Admin's export (no formula escaping) is off; ``/export.csv`` and ``/export.xlsx``
  stream the same scoped query through our formula-safe writers;
* forms are Flask-WTF forms: the CSRF token Flask-WTF's ``CSRFProtect`` checks on every POST.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar

from flask import Response, abort, current_app, flash, redirect, request
from flask.typing import ResponseReturnValue
from flask_admin import expose
from flask_admin.contrib.sqla import ModelView
from flask_login import current_user, login_url
from flask_wtf import FlaskForm
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from admin_ui.auth import current_actor
from admin_ui.db import error_text, request_session, request_session_proxy, run_service
from lms_core.actor import Actor
from lms_core.errors import LmsError

ADMIN_ONLY = frozenset({"admin"})
#: The largest row id the databases hold (a signed 64-bit integer).
MAX_ID = 2**63 - 1
#: A page number past any real list (Flask-Admin multiplies it into an OFFSET).
MAX_PAGE = 10**7


def parse_id(text: Any) -> int | None:
    """A row id from the request (query string, form), or None when it cannot be one.

    ``str.isdigit`` accepts "²" and ``int`` accepts " 7" and "٣"; ids beyond 64 bits overflow
    SQLite and PostgreSQL. Only ASCII decimals from 1 to :data:`MAX_ID` pass.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        return text if 0 < text <= MAX_ID else None
    if not isinstance(text, str) or not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


STAFF = frozenset({"admin", "instructor"})


def role_allowed(allowed: frozenset[str] | None) -> bool:
    """Whether the logged-in user's role is in ``allowed`` (None: nobody, the safe default)."""
    if not allowed or not current_user.is_authenticated:
        return False
    return getattr(current_user, "role", None) in allowed


def refuse() -> ResponseReturnValue:
    """Anonymous: to the login page; logged in without the role: 403."""
    login_view = getattr(getattr(current_app, "login_manager", None), "login_view", None)
    if not current_user.is_authenticated and login_view:
        return redirect(login_url(login_view, next_url=request.url))
    abort(403)


class StaffModelView(ModelView):  # type: ignore[misc]  # flask-admin ships partial types
    """A model view for staff. Subclasses set ``allowed_roles`` and override :meth:`scope`."""

    #: Roles admitted (``ADMIN_ONLY`` or ``STAFF``); None admits nobody.
    allowed_roles: ClassVar[frozenset[str] | None] = None
    #: Columns a CSV/XLSX export writes (field names of the seed); empty: no export.
    export_columns: ClassVar[tuple[str, ...]] = ()
    #: The list page reads only the listed columns (and the listed ``relation.column``s of
    #: many-to-one relations) as plain records, not ORM rows: set where every column
    #: formatter reads listed columns (and the primary key) only.
    list_columns_only: ClassVar[bool] = False

    form_base_class = FlaskForm
    can_create = False
    can_edit = False
    can_delete = False
    can_export = False
    can_view_details = True
    page_size = 50
    can_set_page_size = True
    page_size_options = (50, 100, 500)
    list_template = "admin/lms_list.html"

    def __init__(self, model: type[Any], **kwargs: Any) -> None:
        super().__init__(model, request_session_proxy, **kwargs)

    # -- who may enter ---------------------------------------------------------------------
    def is_accessible(self) -> bool:
        return role_allowed(self.allowed_roles)

    def inaccessible_callback(self, name: Any, **kwargs: Any) -> ResponseReturnValue:
        return refuse()

    @property
    def actor(self) -> Actor:
        return current_actor()

    # -- what they see ---------------------------------------------------------------------
    def scope(self, actor: Actor) -> ColumnElement[bool] | None:
        """The rows ``actor`` may see, as a WHERE clause; None: every row (administrators).

        Views open to instructors must override this; the default admits administrators only.
        """
        if actor.is_admin:
            return None
        from sqlalchemy import false

        return false()

    def _scoped(self, query: Any) -> Any:
        clause = self.scope(self.actor)
        return query if clause is None else query.filter(clause)

    def get_query(self) -> Any:
        return self._scoped(super().get_query())

    def get_count_query(self) -> Any:
        """Flask-Admin's count, as ``count(*)``: its ``count('*')`` binds the star as a
        parameter, and SQLite then reads every row (100,000 users: 20 ms) where ``count(*)``
        counts the table's b-tree pages."""
        from sqlalchemy import func

        return self._scoped(self.session.query(func.count()).select_from(self.model))

    def get_one(self, id: Any) -> Any:
        pk_value = parse_id(id)
        if pk_value is None:  # "abc", "²", 2**70: no such record, never a database error
            return None
        model = super().get_one(str(pk_value))  # Flask-Admin decodes a text id
        if model is None:
            return None
        clause = self.scope(self.actor)
        if clause is None:
            return model
        pk = self.model.__mapper__.primary_key[0]
        found = self.session.query(self.model).filter(pk == model.id).filter(clause).one_or_none()
        return found

    def get_list(
        self,
        page: int | None,
        sort_column: Any,
        sort_desc: bool,
        search: str | None,
        filters: Any,
        execute: bool = True,
        page_size: int | None = None,
    ) -> Any:
        """Flask-Admin's listing, with what the address bar may carry made harmless: a page
        number past any real list, and NUL characters (PostgreSQL refuses them in text)."""
        if page is not None and not 0 <= page <= MAX_PAGE:
            page = MAX_PAGE if page > 0 else 0
        if search:
            search = search.replace("\x00", "")
        if filters:
            filters = [
                (i, name, value.replace("\x00", "") if isinstance(value, str) else value)
                for i, name, value in filters
            ]
        return super().get_list(
            page, sort_column, sort_desc, search, filters, execute=execute, page_size=page_size
        )

    def is_action_allowed(self, name: str) -> bool:
        """Flask-Admin's bulk delete commits row by row: never offered (one unit of work per
        request; a view that wants a bulk removal writes an action over its service)."""
        return name != "delete" and bool(super().is_action_allowed(name))

    # -- how they change it ----------------------------------------------------------------
    def create_with_service(self, session: Session, actor: Actor, form: Any) -> Any:
        raise NotImplementedError

    def update_with_service(self, session: Session, actor: Actor, form: Any, model: Any) -> Any:
        raise NotImplementedError

    def delete_with_service(self, session: Session, actor: Actor, model: Any) -> Any:
        raise NotImplementedError

    def describe(self, model: Any) -> str:
        """How a flash message names a row ("course python-101")."""
        return f"{self.name.lower().rstrip('s')} {model}"

    def create_model(self, form: Any) -> Any:
        made = run_service(
            lambda s, a: self.create_with_service(s, a, form),
            lambda m: f"Created {self.describe(m)}.",
        )
        return made if made is not None else False

    def update_model(self, form: Any, model: Any) -> bool:
        done = run_service(
            lambda s, a: self.update_with_service(s, a, form, model) or model,
            lambda m: f"Saved {self.describe(m)}.",
        )
        return done is not None

    def delete_model(self, model: Any) -> bool:
        done = run_service(
            lambda s, a: self.delete_with_service(s, a, model) or model,
            lambda m: f"Deleted {self.describe(m)}.",
        )
        return done is not None

    # -- the list page: rows rendered in one pass (admin_ui/modelviews/listing.py) --------
    @expose("/")  # type: ignore[untyped-decorator]  # flask-admin is untyped
    def index_view(self) -> Any:
        from admin_ui.modelviews.listing import index_context

        return self.render(self.list_template, **index_context(self))

    # Flask-Admin flashes its own "Record was successfully saved." after ours, which already
    # names the row; keep ours only.
    @expose("/new/", methods=("GET", "POST"))  # type: ignore[untyped-decorator]  # untyped
    def create_view(self) -> Any:
        return _without_generic_flash(super().create_view())

    @expose("/edit/", methods=("GET", "POST"))  # type: ignore[untyped-decorator]  # untyped
    def edit_view(self) -> Any:
        return _without_generic_flash(super().edit_view())

    @expose("/delete/", methods=("POST",))  # type: ignore[untyped-decorator]  # untyped
    def delete_view(self) -> Any:
        return _without_generic_flash(super().delete_view())

    def handle_view_exception(self, exc: Exception) -> bool:
        if isinstance(exc, LmsError):
            request_session().rollback()
            flash(error_text(exc), "error")
            return True
        return bool(super().handle_view_exception(exc))

    # -- exports through our formula-safe writers ------------------------------------------
    def export_rows(self) -> Iterator[dict[str, Any]]:
        """Every row of the scoped list as the export's dict (the seed's field names)."""
        query = self.get_query().order_by(self.model.__mapper__.primary_key[0])
        for model in query.yield_per(1000):
            yield {name: _attr(model, name) for name in self.export_columns}

    @expose("/export.<fmt>")  # type: ignore[untyped-decorator]  # flask-admin is untyped
    def export_view(self, fmt: str) -> ResponseReturnValue:
        if not self.export_columns or fmt not in ("csv", "xlsx"):
            abort(404)
        from admin_ui.exports import export_response

        name = self.endpoint.replace("_", "-")
        return export_response(fmt, name, list(self.export_columns), self.export_rows())

    def _lms_template_args(self) -> dict[str, Any]:
        return {"lms_export_formats": ("csv", "xlsx") if self.export_columns else ()}

    def render(self, template: str, **kwargs: Any) -> Response:
        kwargs.update(self._lms_template_args())
        rendered: Response = super().render(template, **kwargs)
        return rendered


_GENERIC_FLASHES = (
    "Record was successfully created.",
    "Record was successfully saved.",
    "Record was successfully deleted.",
)


def _without_generic_flash(response: Any) -> Any:
    """``response``, with Flask-Admin's generic success line taken out of the pending flashes."""
    from flask import session

    pending = session.get("_flashes")
    if pending:
        kept = [(c, m) for c, m in pending if m not in _GENERIC_FLASHES]
        if len(kept) != len(pending):
            session["_flashes"] = kept
    return response


def _attr(model: Any, dotted: str) -> Any:
    value = model
    for part in dotted.split("."):
        value = getattr(value, part, None) if value is not None else None
    # Timestamps as ISO 8601 text, as every lmsctl export writes them (XLSX refuses aware ones).
    return value.isoformat() if isinstance(value, datetime) else value
