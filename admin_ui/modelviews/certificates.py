"""Back-office views: certificates (list, revoke with a reason, reissue, issue for a course,
verify link, PDF download).

Revoking is ``lms_core.certificates.registry.revoke`` for each selected certificate in one
unit of work (all or none). Issuing and reissuing are *runs* (``issue_certificates``,
``reissue_certificate``): they take the course's certificates lock and commit on their own,
as ``lmsctl certificates issue/reissue`` do, so they are called with the app's session
factory and the request opens no session of its own (on SQLite that session would hold the
write lock the run waits for). Issuing shows the eligibility list first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from flask import abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import BaseView, expose
from flask_admin.actions import action
from markupsafe import Markup
from sqlalchemy import ColumnElement, select
from werkzeug.routing import BuildError

from admin_ui.db import run_service
from admin_ui.modelviews.assessing import ClauseFilter, attachment, details_page, scoped_or_404
from admin_ui.modelviews.base import STAFF, StaffModelView
from admin_ui.modelviews.labels import human_labels
from admin_ui.modelviews.selection import row_ids, time_formatters
from lms_core import scopes
from lms_core.actor import Actor
from lms_core.errors import LmsError
from lms_core.models import Certificate, Course, Enrollment

_STATUS = {
    "valid": Certificate.revoked_at.is_(None) & Certificate.superseded_at.is_(None),
    "revoked": Certificate.revoked_at.is_not(None),
    "superseded": Certificate.revoked_at.is_(None) & Certificate.superseded_at.is_not(None),
}


def _course_is(slug: str) -> ColumnElement[bool]:
    enrolled = select(Enrollment.id).join(Course, Course.id == Enrollment.course_id)
    return Certificate.enrollment_id.in_(enrolled.where(Course.slug == slug))


def verify_url(number: str) -> str:
    """The public page a certificate's QR code points to (``/verify/<number>``)."""
    try:
        return url_for("public.verify_certificate", number=number)
    except BuildError:
        from admin_ui.app import state
        from lms_core.mail.render import certificate_link

        return certificate_link(state().settings.public_base_url, number)


def _status_cell(_v: Any, _c: Any, model: Any, _n: str) -> Markup:
    return Markup('<span class="lms-status {0}">{0}</span>').format(model.status)


def _number_cell(view: Any, _c: Any, model: Any, _n: str) -> Markup:
    return Markup('<a href="{}">{}</a>').format(
        view.get_url(".details_view", id=model.id), model.number
    )


def _links_cell(view: Any, _c: Any, model: Any, _n: str) -> Markup:
    return Markup(
        '<a href="{}" target="_blank" rel="noopener">Verify</a> · <a href="{}">PDF</a>'
    ).format(verify_url(model.number), view.get_url(".pdf_view", id=model.id))


class CertificateView(StaffModelView):
    """Certificates of the courses the actor manages."""

    allowed_roles = STAFF
    details_template = "admin/certificates/details.html"
    list_template = "admin/certificates/list.html"
    column_list = (
        "number",
        "learner_name",
        "enrollment.student.email",
        "enrollment.course.slug",
        "issued_at",
        "status",
        "version",
        "links",
    )
    _own_labels: ClassVar[dict[str, str]] = {
        "learner_name": "Learner",
        "enrollment.student.email": "E-mail",
        "enrollment.course.slug": "Course",
        "links": "",
    }
    column_sortable_list = ("number", "learner_name", "issued_at", "version")
    column_default_sort = ("issued_at", True)
    column_searchable_list = ("number", "learner_name")
    column_filters = (
        ClauseFilter(
            Certificate.revoked_at,
            "Status",
            lambda v: _STATUS.get(v, _STATUS["valid"]),
            options=[(s, s) for s in _STATUS],
        ),
        ClauseFilter(Certificate.enrollment_id, "Course (slug)", _course_is),
    )
    column_details_list = (
        "number",
        "legacy_number",
        "learner_name",
        "course_title",
        "enrollment.student.email",
        "issued_at",
        "status",
        "version",
        "revoked_at",
        "revoked_reason",
        "revoked_by",
        "superseded_at",
        "template",
        "pdf_sha256",
    )
    column_labels: ClassVar[dict[str, str]] = human_labels(
        column_list,
        column_details_list,
        column_searchable_list,
        own={
            **_own_labels,
            "legacy_number": "Former number",
            "revoked_reason": "Revocation reason",
            "version": "Version",
        },
    )
    column_descriptions: ClassVar[dict[str, str]] = {
        "version": "1 for the first PDF; each reissue adds one (the older number is then superseded)."
    }
    column_formatters: ClassVar[dict[str, Any]] = {
        **time_formatters("issued_at", "revoked_at", "superseded_at"),
        "status": _status_cell,
        "number": _number_cell,
        "links": _links_cell,
    }
    column_formatters_detail: ClassVar[dict[str, Any]] = {
        **time_formatters("issued_at", "revoked_at", "superseded_at"),
        "status": _status_cell,
    }
    export_columns = (
        "number",
        "learner_name",
        "enrollment.student.email",
        "enrollment.course.slug",
        "issued_at",
        "status",
        "version",
    )

    def scope(self, actor: Actor) -> ColumnElement[bool] | None:
        return scopes.certificates(actor)

    def describe(self, model: Any) -> str:
        return f"certificate {model.number}"

    @expose("/details/")  # type: ignore[untyped-decorator]
    def details_view(self) -> ResponseReturnValue:
        return details_page(self, lambda cert: {"verify_url": verify_url(cert.number)})

    # -- PDF -----------------------------------------------------------------------------
    @expose("/pdf/")  # type: ignore[untyped-decorator]
    def pdf_view(self) -> ResponseReturnValue:
        """The certificate's stored PDF (``pdf_path`` under the files directory), as a download."""
        from admin_ui.app import state
        from lms_core.assignments.file_types import PDF

        cert = scoped_or_404(self, request.args.get("id", ""))
        root = state().settings.files_dir.resolve()
        path = (root / cert.pdf_path).resolve()
        if root not in path.parents or not path.is_file():
            flash(f"The PDF of {cert.number} is missing from the files directory.", "error")
            return redirect(self.get_url(".details_view", id=cert.id))
        return attachment(Path(path), PDF, f"{cert.number}.pdf")

    # -- revoke: a reason first ----------------------------------------------------------
    @action("revoke", "Revoke…")  # type: ignore[untyped-decorator]
    def action_revoke(self, ids: list[str]) -> ResponseReturnValue:
        return redirect(self.get_url(".revoke_view", id=row_ids(ids)))

    @expose("/revoke/", methods=("GET", "POST"))  # type: ignore[untyped-decorator]
    def revoke_view(self) -> ResponseReturnValue:
        """Which certificates, and why (shown when they are verified); then revoke them all."""
        from lms_core.certificates.registry import revoke

        wanted = row_ids(request.values.getlist("id"))
        certs = (
            list(self.get_query().filter(Certificate.id.in_(wanted)).order_by(Certificate.number))
            if wanted
            else []
        )
        if not certs:
            flash("No certificate selected that you may revoke.", "error")
            return redirect(self.get_url(".index_view"))
        reason = (request.form.get("reason") or "").strip()
        if request.method == "POST":
            numbers = [c.number for c in certs]
            done = run_service(
                lambda s, a: [revoke(s, actor=a, number=n, reason=reason) for n in numbers],
                f"Revoked {len(numbers)} certificate(s): {', '.join(numbers)}.",
            )
            if done is not None:
                return redirect(self.get_url(".index_view"))
        return self.render("admin/certificates/revoke.html", certs=certs, reason=reason)

    @expose("/export/")  # type: ignore[untyped-decorator]
    def export_zip_view(self) -> ResponseReturnValue:
        """``lmsctl certificates export``: a course's valid PDFs and a manifest CSV, one zip."""
        from admin_ui.modelviews.certificate_zip import course_zip

        slug = (request.args.get("course") or "").strip()
        try:
            return course_zip(self.actor, slug)
        except LmsError as exc:  # a PDF missing or altered: which one, and to reissue it
            flash(str(exc), "error")
            return redirect(self.get_url(".issue_view", course=slug))

    # -- reinstate (administrators): a revocation undone ---------------------------------
    def is_action_allowed(self, name: str) -> bool:
        """Reinstating is the administrators' (``require_admin`` in the service as well)."""
        if name == "reinstate" and not self.actor.is_admin:
            return False
        return super().is_action_allowed(name)

    @action("reinstate", "Reinstate (undo a revocation)…")  # type: ignore[untyped-decorator]
    def action_reinstate(self, ids: list[str]) -> ResponseReturnValue:
        return redirect(self.get_url(".reinstate_view", id=row_ids(ids)))

    @expose("/reinstate/", methods=("GET", "POST"))  # type: ignore[untyped-decorator]
    def reinstate_view(self) -> ResponseReturnValue:
        """``lmsctl certificates reinstate``: the same number and PDF verify as valid again;
        the reason, optional, goes to the audit log. Administrators only."""
        from lms_core.certificates.registry import reinstate

        if not self.actor.is_admin:
            abort(403)
        wanted = row_ids(request.values.getlist("id"))
        certs = (
            list(self.get_query().filter(Certificate.id.in_(wanted)).order_by(Certificate.number))
            if wanted
            else []
        )
        if not certs:
            flash("No certificate selected.", "error")
            return redirect(self.get_url(".index_view"))
        reason = (request.form.get("reason") or "").strip() or None
        if request.method == "POST":
            numbers = [c.number for c in certs]
            done = run_service(
                lambda s, a: [reinstate(s, actor=a, number=n, reason=reason) for n in numbers],
                f"Reinstated {len(numbers)} certificate(s): {', '.join(numbers)}; they verify "
                "as valid again.",
            )
            if done is not None:
                return redirect(self.get_url(".index_view"))
        return self.render("admin/certificates/reinstate.html", certs=certs, reason=reason or "")

    # -- reissue and issue: runs with their own transactions ------------------------------
    @action(
        "reissue",
        "Reissue (new number and PDF)",
        "Reissue the selected certificates? Each old one becomes superseded.",
    )  # type: ignore[untyped-decorator]
    def action_reissue(self, ids: list[str]) -> None:
        from admin_ui.app import state
        from lms_core.certificates.reissue import reissue_certificate

        numbers = _scoped_numbers(self.actor, row_ids(ids))
        if not numbers:
            flash("No certificate selected that you may reissue.", "error")
            return
        app = state()
        done = []
        for number in numbers:
            try:
                row, old = reissue_certificate(
                    app.session_factory, actor=self.actor, number=number, settings=app.settings
                )
            except LmsError as exc:
                flash(f"{number}: {exc}", "error")
                continue
            done.append(f"{old} as {row['number']}")
        if done:
            flash(f"Reissued {len(done)} certificate(s): {', '.join(done)}.", "success")

    @expose("/issue/", methods=("GET", "POST"))  # type: ignore[untyped-decorator]
    def issue_view(self) -> ResponseReturnValue:
        """Choose a course, see who is eligible (and why not), then issue."""
        from admin_ui.app import state
        from lms_core.certificates.issue import issue_certificates
        from lms_core.certificates.registry import eligibility
        from lms_core.db import unit_of_work

        app = state()
        slug = (request.values.get("course") or "").strip()
        if request.method == "POST" and slug:
            try:
                report = issue_certificates(
                    app.session_factory, actor=self.actor, course_slug=slug, settings=app.settings
                )
            except LmsError as exc:
                flash(str(exc), "error")
            else:
                flash(_issued(report), "success" if not report.uncovered else "warning")
                for row in report.uncovered:
                    flash(
                        f"{row['learner']} <{row['email']}>: the fonts cannot draw "
                        f"{row['missing']} character(s) ({row['characters']}); not issued",
                        "error",
                    )
                return redirect(self.get_url(".index_view", flt1_1=slug))
        with unit_of_work(app.session_factory, write=False) as session:
            clause = scopes.courses(self.actor)
            stmt = select(Course.slug, Course.title).order_by(Course.slug)
            courses = session.execute(stmt if clause is None else stmt.where(clause)).all()
            rows: list[dict[str, Any]] = []
            if slug:
                if slug not in {c.slug for c in courses}:
                    abort(404)
                try:
                    rows = [
                        dict(r.as_row())
                        for r in eligibility(session, actor=self.actor, course_slug=slug)
                    ]
                except LmsError as exc:
                    flash(str(exc), "error")
        return self.render(
            "admin/certificates/issue.html",
            courses=courses,
            slug=slug,
            rows=rows,
            eligible=sum(1 for r in rows if r["eligible"] and r["status"] == "eligible"),
        )


def _issued(report: Any) -> str:
    text = (
        f"Issued {len(report.issued)} certificate(s) for {report.course}; already had one "
        f"{report.already}, not eligible {report.not_eligible}"
    )
    if report.revoked:
        text += f", skipped: revoked {report.revoked}"
    return text + "."


def _scoped_numbers(actor: Actor, ids: list[int]) -> list[str]:
    """The numbers of the certificates ``ids`` the actor may see, read in a unit of its own
    (the runs that follow open theirs; this request holds none)."""
    from admin_ui.app import state
    from lms_core.db import unit_of_work

    if not ids:
        return []
    stmt = select(Certificate.number).where(Certificate.id.in_(ids)).order_by(Certificate.number)
    clause = scopes.certificates(actor)
    with unit_of_work(state().session_factory, write=False) as session:
        return list(session.scalars(stmt if clause is None else stmt.where(clause)))


def views() -> list[BaseView]:
    return [
        CertificateView(
            Certificate, name="Certificates", endpoint="certificate", category="Assessment"
        )
    ]
