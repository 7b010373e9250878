"""The pages anyone may open: choosing a password from an invitation or reset link, asking
for a reset, verifying an e-mail address, and a certificate's ``/verify/<number>`` page.

Every link is followed at the path the mail and PDF builders produce, so a page moved
without its link (or the reverse) fails here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from admin_ui.public.passwords import RESET_SENT
from lms_core.accounts import tokens
from lms_core.actor import Actor
from lms_core.mail.render import (
    certificate_link,
    reset_password_link,
    set_password_link,
    verify_email_link,
)
from lms_core.models import OneTimeToken, OutboxMail, TokenPurpose, User, WebSession
from lms_core.security import token_hash
from lms_core.settings import Settings
from tests.factories import PASSWORD, Factories
from tests.web.conftest import csrf_token, log_in, post_form

NEW_PASSWORD = "Brand-New-Passw0rd"
INV = TokenPurpose.invitation


def path_of(link: str) -> str:
    return urlsplit(link).path


def issue(session: Session, user: User, purpose: TokenPurpose, **kw: timedelta) -> str:
    return tokens.issue_token(
        session, actor=Actor.operator("pytest"), user=user, purpose=purpose, **kw
    )


def token_row(session: Session, raw: str) -> OneTimeToken:
    session.expire_all()
    row = session.scalars(select(OneTimeToken).where(OneTimeToken.token_hash == token_hash(raw)))
    return row.one()


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def choose(
    client: FlaskClient, path: str, password: str, confirm: str | None = None
) -> TestResponse:
    data = {"password": password, "confirm": password if confirm is None else confirm}
    response: TestResponse = post_form(client, path, data, form_page=path)
    return response


def logs_in(app: Flask, user: User, password: str) -> bool:
    return bool(log_in(app.test_client(), user, password).status_code == 302)


# --- /set-password/<token>: the invitation link ----------------------------------------------


@pytest.fixture
def invited(session: Session, make: Factories, settings: Settings) -> tuple[User, str]:
    """An instructor made without a password, and the path of their invitation link."""
    user = make.user("instructor", password=None)
    raw = issue(session, user, TokenPurpose.invitation)
    return user, path_of(set_password_link(settings.public_base_url, raw))


def test_invitation_sets_the_first_password(
    app: Flask, client: FlaskClient, session: Session, invited: tuple[User, str]
) -> None:
    user, path = invited
    assert path.startswith("/set-password/")
    form = client.get(path)
    assert form.status_code == 200
    assert user.email in text(form) and 'autocomplete="new-password"' in text(form)
    done = choose(client, path, NEW_PASSWORD)
    assert done.status_code == 200
    page = text(done)
    assert "you can now log in" in page and 'href="/login"' in page  # staff: the back office
    assert token_row(session, path.rsplit("/", 1)[1]).used_at is not None
    assert logs_in(app, user, NEW_PASSWORD)


def test_invitation_link_used_twice_is_refused(
    client: FlaskClient, invited: tuple[User, str]
) -> None:
    _, path = invited
    choose(client, path, NEW_PASSWORD)
    again = client.get(path)
    assert again.status_code == 400 and "already used" in text(again)
    assert "new invitation" in text(again)
    assert 'name="password"' not in text(again)  # no form on a dead link


def test_invitation_link_expired(client: FlaskClient, session: Session, make: Factories) -> None:
    user = make.user("student", password=None)
    raw = issue(session, user, TokenPurpose.invitation, ttl=timedelta(seconds=-1))
    response = client.get(f"/set-password/{raw}")
    assert response.status_code == 400 and "expired" in text(response)


def test_unknown_or_wrong_kind_of_link_is_not_valid(
    client: FlaskClient, session: Session, make: Factories
) -> None:
    reset = issue(session, make.user(), TokenPurpose.password_reset)
    for path in ("/set-password/not-a-token", f"/set-password/{reset}"):
        response = client.get(path)
        assert response.status_code == 400, path
        assert "This link or code is not valid." in text(response), path


def test_weak_or_mismatched_password_keeps_the_link_usable(
    app: Flask, client: FlaskClient, session: Session, invited: tuple[User, str]
) -> None:
    user, path = invited
    weak = choose(client, path, "short1")
    assert weak.status_code == 400
    assert "Password must be at least 10 characters" in text(weak)
    differ = choose(client, path, NEW_PASSWORD, "Another-Passw0rd")
    assert differ.status_code == 400 and "differ" in text(differ)
    assert token_row(session, path.rsplit("/", 1)[1]).used_at is None
    assert choose(client, path, NEW_PASSWORD).status_code == 200
    assert logs_in(app, user, NEW_PASSWORD)


def test_a_learner_is_told_to_use_the_learning_app(
    client: FlaskClient, session: Session, make: Factories, settings: Settings
) -> None:
    learner = make.user("student", password=None)
    path = path_of(set_password_link(settings.public_base_url, issue(session, learner, INV)))
    page = text(choose(client, path, NEW_PASSWORD))
    assert "you can now log in" in page and "learning app" in page
    assert 'href="/login"' not in page


# --- /reset-password: asking for a link --------------------------------------------------


def outbox(session: Session, to: str) -> list[OutboxMail]:
    session.expire_all()
    rows = session.scalars(select(OutboxMail).where(OutboxMail.to_address == to))
    return list(rows)


def ask_reset(client: FlaskClient, email: str) -> str:
    response = post_form(client, "/reset-password", {"email": email}, form_page="/reset-password")
    assert response.status_code == 302 and response.headers["Location"] == "/reset-password"
    return text(client.get("/reset-password"))


def test_reset_request_answers_the_same_for_known_and_unknown(
    client: FlaskClient, session: Session, make: Factories, settings: Settings
) -> None:
    user = make.user("student")
    unknown = ask_reset(client, "nobody@nowhere.example")
    assert RESET_SENT in unknown
    count = session.scalar(select(func.count()).select_from(OutboxMail))
    known = ask_reset(client, f"  {user.email.upper()} ")
    assert RESET_SENT in known
    strip = re.compile(r'value="[^"]*"|nonce="[^"]*"')
    assert strip.sub("", known) == strip.sub("", unknown)  # not a word more for a real address
    assert session.scalar(select(func.count()).select_from(OutboxMail)) == (count or 0) + 1
    [mail] = outbox(session, user.email)
    assert mail.template == "password_reset" and mail.status == "queued"
    link = re.search(r"(https?://\S+/reset-password/[A-Za-z0-9_-]+)", mail.body_text)
    assert link is not None
    assert link.group(1).startswith(settings.public_base_url.rstrip("/"))


def test_reset_request_mails_no_deactivated_account(
    client: FlaskClient, session: Session, make: Factories
) -> None:
    user = make.user("student", is_active=False)
    assert RESET_SENT in ask_reset(client, user.email)
    assert outbox(session, user.email) == []


def test_reset_request_needs_an_address(client: FlaskClient) -> None:
    response = post_form(client, "/reset-password", {"email": "  "}, form_page="/reset-password")
    assert response.status_code == 400 and "e-mail address" in text(response)


# --- /reset-password/<token>: the reset mail's link ------------------------------------------


def test_reset_link_from_the_mail_sets_a_new_password_and_ends_sessions(
    app: Flask, client: FlaskClient, session: Session, make: Factories
) -> None:
    user = make.user("admin")
    elsewhere = app.test_client()
    assert log_in(elsewhere, user).status_code == 302  # logged in with the old password
    ask_reset(client, user.email)
    [mail] = outbox(session, user.email)
    link = re.search(r"https?://\S+/reset-password/[A-Za-z0-9_-]+", mail.body_text)
    assert link is not None
    path = path_of(link.group(0))
    assert client.get(path).status_code == 200
    done = choose(client, path, NEW_PASSWORD)
    assert done.status_code == 200 and "you can now log in" in text(done)
    session.expire_all()
    assert session.scalar(select(func.count()).where(WebSession.user_id == user.id)) == 0
    assert elsewhere.get("/admin/").status_code == 302  # the old session is over
    assert not logs_in(app, user, PASSWORD)
    assert logs_in(app, user, NEW_PASSWORD)
    used = client.get(path)
    assert used.status_code == 400 and "already used" in text(used)
    assert 'href="/reset-password"' in text(used)  # ask for a new link


def test_reset_link_at_the_path_the_mail_builder_makes(
    client: FlaskClient, session: Session, make: Factories, settings: Settings
) -> None:
    user = make.user()
    raw = issue(session, user, TokenPurpose.password_reset)
    path = path_of(reset_password_link(settings.public_base_url, raw))
    assert choose(client, path, NEW_PASSWORD).status_code == 200
    expired = issue(session, user, TokenPurpose.password_reset, ttl=timedelta(seconds=-1))
    response = client.get(path_of(reset_password_link(settings.public_base_url, expired)))
    assert response.status_code == 400 and "expired" in text(response)


# --- /verify-email/<token> ------------------------------------------------------------------


def test_verify_email_confirms_on_the_button_not_on_opening(
    client: FlaskClient, session: Session, make: Factories, settings: Settings
) -> None:
    user = make.user()
    raw = issue(session, user, TokenPurpose.email_verification)
    path = path_of(verify_email_link(settings.public_base_url, raw))
    opened = client.get(path)
    assert opened.status_code == 200 and user.email in text(opened)
    session.expire_all()
    assert session.get(User, user.id).email_verified_at is None  # type: ignore[union-attr]
    done = post_form(client, path, {}, form_page=path)
    assert done.status_code == 200 and "is confirmed" in text(done)
    session.expire_all()
    assert session.get(User, user.id).email_verified_at is not None  # type: ignore[union-attr]
    again = client.post(path, data={"csrf_token": csrf_token(client, "/reset-password")})
    assert again.status_code == 400 and "already used" in text(again)


def test_verify_email_refuses_an_unknown_link(client: FlaskClient) -> None:
    response = client.get("/verify-email/nope")
    assert response.status_code == 400 and "not valid" in text(response)


# --- /verify/<number> -----------------------------------------------------------------------


@pytest.fixture
def certificate(
    session: Session,
    session_factory: Callable[[], Session],
    settings: Settings,
    make: Factories,
) -> Callable[..., tuple[str, User]]:
    """Issue a certificate for a new learner; its number and the learner."""
    from lms_core.catalog import enrollments
    from lms_core.certificates import issue

    operator = Actor.operator("pytest")

    def make_one(name: str = "Ada Lovelace") -> tuple[str, User]:
        course = make.course(lessons=1, published=True, title="Data & Society")
        learner = make.user("student", name=name)
        make.enroll(learner, course)
        enrollments.complete_lesson(
            session,
            actor=operator,
            email=learner.email,
            course_slug=course.slug,
            lesson_slug="lesson-1",
        )
        session.flush()
        report = issue.issue_certificates(
            session_factory, actor=operator, course_slug=course.slug, settings=settings
        )
        return str(report.issued[0]["number"]), learner

    return make_one


def pdf_of(session: Session, settings: Settings, number: str) -> bytes:
    from lms_core.models import Certificate

    session.expire_all()
    cert = session.scalars(select(Certificate).where(Certificate.number == number)).one()
    return (Path(settings.files_dir) / cert.pdf_path).read_bytes()


def status_of(page: str) -> str:
    found = re.search(r'data-status="(\w+)"', page)
    assert found, page[:500]
    return found.group(1)


def test_the_qr_link_of_a_valid_certificate(
    client: FlaskClient, settings: Settings, certificate: Callable[..., tuple[str, User]]
) -> None:
    number, learner = certificate()
    path = path_of(certificate_link(settings.public_base_url, number))
    assert path == f"/verify/{number}"
    response = client.get(path)
    assert response.status_code == 200
    page = text(response)
    assert status_of(page) == "valid"
    assert "Ada Lovelace" in page and "Data &amp; Society" in page
    assert learner.email not in page  # the public facts only: no e-mail, no checksum
    assert "sha256" not in page.lower().replace("sha-256", "")


def test_a_revoked_certificate_says_why(
    client: FlaskClient, session: Session, certificate: Callable[..., tuple[str, User]]
) -> None:
    from lms_core.certificates import registry

    number, _ = certificate()
    registry.revoke(
        session, actor=Actor.operator("pytest"), number=number, reason="plagiarised work"
    )
    session.flush()
    page = text(client.get(f"/verify/{number}"))
    assert status_of(page) == "revoked"
    assert "plagiarised work" in page and "no longer valid" in page


def test_a_superseded_certificate_links_the_new_number(
    client: FlaskClient,
    session: Session,
    settings: Settings,
    certificate: Callable[..., tuple[str, User]],
) -> None:
    from lms_core.certificates import reissue

    number, _ = certificate()
    _, new = reissue.reissue(
        session, actor=Actor.operator("pytest"), number=number, settings=settings
    )
    session.flush()
    page = text(client.get(f"/verify/{number}"))
    assert status_of(page) == "superseded"
    assert f'href="/verify/{new.number}"' in page
    assert status_of(text(client.get(f"/verify/{new.number}"))) == "valid"


def test_an_unknown_number(client: FlaskClient) -> None:
    from lms_core.certificates.numbers import new_number

    number = new_number()
    response = client.get(f"/verify/{number}")
    assert response.status_code == 404
    page = text(response)
    assert status_of(page) == "unknown" and "not one we issued" in page
    assert 'type="file"' not in page


@pytest.mark.parametrize("typed", ["LMS-1234", "not-a-number", "LMS-0000-0000-%21"])
def test_a_malformed_number(client: FlaskClient, typed: str) -> None:
    response = client.get(f"/verify/{typed}")
    assert response.status_code == 400
    assert "is not a certificate number: it " in text(response)
    assert "data-status" not in text(response)


def test_the_lookup_form_goes_to_the_number_page(client: FlaskClient) -> None:
    assert client.get("/verify").status_code == 200
    response = client.get("/verify", query_string={"number": "LMS-7K4F-9QX2-H"})
    assert response.status_code == 302 and response.headers["Location"] == "/verify/LMS-7K4F-9QX2-H"


def upload(client: FlaskClient, number: str, data: bytes, name: str = "cert.pdf") -> TestResponse:
    import io

    path = f"/verify/{number}"
    return client.post(
        path,
        data={"csrf_token": csrf_token(client, path), "pdf": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def test_the_pdf_check_says_yes_only_for_the_issued_file(
    client: FlaskClient,
    session: Session,
    settings: Settings,
    certificate: Callable[..., tuple[str, User]],
) -> None:
    number, _ = certificate()
    issued = pdf_of(session, settings, number)
    yes = upload(client, number, issued)
    assert yes.status_code == 200
    assert 'data-file-matches="yes"' in text(yes)
    tampered = issued.replace(b"Ada Lovelace", b"Eve Lovelace")
    for other in (tampered if tampered != issued else issued + b"\n", b"%PDF-1.4 forged"):
        no = upload(client, number, other)
        assert 'data-file-matches="no"' in text(no)
        assert 'data-file-matches="yes"' not in text(no)


def test_the_pdf_check_needs_a_file_and_refuses_a_huge_one(
    client: FlaskClient, certificate: Callable[..., tuple[str, User]]
) -> None:
    from admin_ui.public.limits import MAX_PDF_MB

    number, _ = certificate()
    path = f"/verify/{number}"
    empty = post_form(client, path, {}, form_page=path)
    assert empty.status_code == 400 and "Choose the PDF" in text(empty)
    huge = upload(client, number, b"%PDF" + b"0" * (MAX_PDF_MB * 1024 * 1024 + 100_000))
    assert huge.status_code == 413
    assert f"larger than {MAX_PDF_MB} MB" in text(huge)


# --- every public page: headers, no inline script, CSRF on each form ---------------------------


@pytest.fixture
def public_pages(
    session: Session, make: Factories, certificate: Callable[..., tuple[str, User]]
) -> dict[str, str]:
    """Every public page, at a working URL: name -> path."""
    user = make.user("instructor", password=None)
    number, _ = certificate()
    return {
        "login": "/login",
        "reset request": "/reset-password",
        "set password": f"/set-password/{issue(session, user, TokenPurpose.invitation)}",
        "reset confirm": f"/reset-password/{issue(session, user, TokenPurpose.password_reset)}",
        "verify email": f"/verify-email/{issue(session, user, TokenPurpose.email_verification)}",
        "verify lookup": "/verify",
        "verify certificate": f"/verify/{number}",
        "dead link": "/set-password/nope",
    }


_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


def test_every_public_page_sends_the_security_headers(
    client: FlaskClient, public_pages: dict[str, str]
) -> None:
    for name, path in public_pages.items():
        response = client.get(path)
        assert response.status_code in (200, 400), (name, response.status_code)
        csp = response.headers["Content-Security-Policy"]
        directives = {d.split()[0]: d for d in (p.strip() for p in csp.split(";")) if d}
        assert "'unsafe-inline'" not in directives["script-src"], name
        assert "'unsafe-eval'" not in directives["script-src"], name
        assert directives["frame-ancestors"] == "frame-ancestors 'none'", name
        assert response.headers["X-Content-Type-Options"] == "nosniff", name
        assert response.headers["Referrer-Policy"] in ("same-origin", "no-referrer"), name
        assert response.headers["Cache-Control"] == "no-store", name  # token pages too
        page = text(response)
        assert not _INLINE_SCRIPT.search(page), name
        assert not _HANDLER.search(page), name
        nonce = re.search(r"'nonce-([^']+)'", csp)
        assert nonce and f'nonce="{nonce.group(1)}"' in page, name


def test_every_public_form_refuses_a_post_without_its_csrf_token(
    client: FlaskClient, session: Session, make: Factories, public_pages: dict[str, str]
) -> None:
    user = make.user("admin")
    forms = {
        name: path
        for name, path in public_pages.items()
        if name not in ("verify lookup", "dead link")  # a GET form, and a page without one
    }
    session.expire_all()
    mails = session.scalar(select(func.count()).select_from(OutboxMail))
    for name, path in forms.items():
        fields = {
            "email": user.email,
            "password": PASSWORD if name == "login" else NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        }
        response = client.post(path, data=fields)
        assert response.status_code == 400, (name, response.status_code)
        assert "CSRF" in text(response), name
    assert client.get("/admin/").status_code == 302  # the login without a token did not log in
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(OutboxMail)) == mails
    used = session.scalar(
        select(func.count()).select_from(OneTimeToken).where(OneTimeToken.used_at.is_not(None))
    )
    assert used == 0  # no link was used up
