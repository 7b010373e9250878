"""Mail templates: every kind renders a subject, text and HTML; HTML is escaped, text is not."""

from __future__ import annotations

from typing import Any

import pytest
from jinja2 import UndefinedError

from lms_core.mail.render import TEMPLATE_DIR, TEMPLATES, render

BASE = "https://lms.school.example/"
HOSTILE = '<script>alert("x")</script> & Co'


def context_for(template: str) -> dict[str, Any]:
    values: dict[str, Any] = {
        "email": "ada@school.example",
        "full_name": HOSTILE,
        "link": "https://lms.school.example/set-password/tok?a=1&b=2",
        "valid_days": 14,
        "valid_hours": 2,
        "course_title": HOSTILE,
        "course_link": "https://lms.school.example/courses/algebra",
        "number": "LMS-2026-ABCD1234",
        "verify_link": "https://lms.school.example/verify/LMS-2026-ABCD1234",
        "file_name": "users-2026.csv",
        "outcome": "applied",
        "summary": "users: 2 created",
        "schedule": "weekly-site",
        "report": "course algebra",
        "rows": 42,
        "slot": "2026-12-07 06:00 UTC",
    }
    return {k: values[k] for k in ("email", *TEMPLATES[template])}


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_every_template_has_three_parts_with_its_values(template: str) -> None:
    for suffix in (".subject.txt", ".txt", ".html"):
        assert (TEMPLATE_DIR / f"{template}{suffix}").is_file()
    context = context_for(template)
    mail = render(template, context, base_url=BASE)
    assert mail.subject and "\n" not in mail.subject
    assert "lms.school.example" in mail.text  # the footer names the site
    for name, value in context.items():
        if name == "full_name" or name == "course_title":
            assert HOSTILE in mail.text  # plain text reads as written
            assert "<script>" not in mail.html
            assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in mail.html
        elif name in ("link", "verify_link", "course_link"):
            assert str(value) in mail.text
            assert str(value).replace("&", "&amp;") in mail.html
        elif name != "email" or template in ("invitation", "password_reset", "test"):
            assert str(value) in mail.text, name
    assert mail.html.startswith("<!doctype html>")


def test_invitation_and_certificate_carry_their_links() -> None:
    invitation = render("invitation", context_for("invitation"), base_url=BASE)
    assert "https://lms.school.example/set-password/tok?a=1&b=2" in invitation.text
    assert "14 days" in invitation.text
    certificate = render("certificate_issued", context_for("certificate_issued"), base_url=BASE)
    assert "https://lms.school.example/verify/LMS-2026-ABCD1234" in certificate.text
    assert 'href="https://lms.school.example/verify/LMS-2026-ABCD1234"' in certificate.html


def test_a_subject_is_one_line_whatever_the_title_holds() -> None:
    context = context_for("enrollment") | {"course_title": "Algebra\r\nBcc: evil@example.org"}
    mail = render("enrollment", context, base_url=BASE)
    assert mail.subject == "You are enrolled in Algebra Bcc: evil@example.org"


def test_a_missing_value_is_an_error_not_a_blank() -> None:
    context = context_for("password_reset")
    del context["link"]
    with pytest.raises(UndefinedError):
        render("password_reset", context, base_url=BASE)
    with pytest.raises(ValueError, match="unknown mail template"):
        render("newsletter", {}, base_url=BASE)
