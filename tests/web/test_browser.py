"""The back office in real Chromium: a day's work as a user does it, click by click.

Run on SQLite and PostgreSQL like every test; LMS_SCREENSHOTS=1 also rewrites the pictures in
docs/back-office/. Every page visited is checked for Content-Security-Policy refusals (an
inline script or ``onclick=`` would show up there, not in a test-client test).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from lms_core.models import AuditEntry, Certificate, Course, Enrollment, User
from tests.web.browser_support import (
    ADMIN,
    CERTIFICATE,
    DESKTOP,
    PHONE,
    Console,
    LiveServer,
    chromium_or_stop,
    live_server,
    shoot,
)

COURSE = "demo-python-basics"
HEADER = "external_id,email,full_name,role,is_active\n"
#: Line 3 has an e-mail address with a space in it: the import refuses the whole file.
USERS_WITH_MISTAKE = (
    HEADER
    + "BRW-1,lena.brw@example.org,Lena Browser,student,true\n"
    + "BRW-2,omar brw@example.org,Omar Browser,student,true\n"
)
USERS_FIXED = USERS_WITH_MISTAKE.replace("omar brw@", "omar.brw@")
NEW_USERS = ("lena.brw@example.org", "omar.brw@example.org")
#: Pages beyond the menu's lists (forms reached from a row or a button), checked the same way.
MORE_PAGES = (
    "/admin/course/lessons/?id=1",
    "/admin/quiz/bank/?id=1",
    f"/admin/certificate/issue/?course={COURSE}",
    "/reset-password",
    "/verify",
)
#: Menu pages pictured in docs/back-office/ (the scenario pictures users, enrollments, ...).
MENU_SHOTS = {
    "/admin/course/": "courses",
    "/admin/lesson/": "lessons",
    "/admin/quiz/": "quizzes",
    "/admin/attempt/": "attempts",
    "/admin/submission/": "submissions",
    "/admin/audit/": "audit-log",
    "/admin/job/": "jobs",
    "/admin/import/": "import",
    "/admin/importrun/": "import-history",
}


@pytest.fixture(scope="module")
def server(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    chromium_or_stop()  # before the database work: a missing browser is said first
    with live_server(db_url, tmp_path_factory.mktemp("browser")) as running:
        yield running


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(browser: Any, console: Console) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP, locale="en-GB", timezone_id="Europe/Paris")
    context.set_default_timeout(10_000)
    tab = context.new_page()
    tab.on("dialog", lambda dialog: dialog.accept())  # the confirmations data-lms-confirm asks
    console.attach(tab)
    yield tab
    context.close()
    console.check()


def log_in(page: Any, server: LiveServer, email: str, password: str, console: Console) -> None:
    page.goto(server.at("/admin/"))
    assert "/login" in page.url  # anonymous: sent to the login page
    shoot(page, "login")
    console.check()
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/**")
    console.check()


def test_the_csp_watch_sees_an_inline_handler(
    page: Any, server: LiveServer, console: Console
) -> None:
    """The check every page goes through can fail: an injected ``onerror=`` is reported."""
    page.goto(server.at("/login"))
    page.evaluate(
        "() => { const d = document.createElement('div');"
        " d.innerHTML = '<img src=data:, onerror=\"window.hit = 1\">';"
        " document.body.appendChild(d); }"
    )
    page.wait_for_function("() => document.querySelector('img') !== null")
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.hit") is None  # refused, not run
    assert any("inline event handler" in line for line in console.csp), console.csp
    console.csp.clear()


def upload(page: Any, server: LiveServer, name: str, text: str) -> None:
    """The import page's form: users, upsert, this file; then "Show the plan"."""
    page.goto(server.at("/admin/import/"))
    page.select_option("#kind", "users")
    page.set_input_files(
        "#file", files=[{"name": name, "mimeType": "text/csv", "buffer": text.encode()}]
    )
    page.click("button:has-text('Show the plan')")
    page.wait_for_url("**/admin/import/plan/**")


def with_selected(page: Any, action: str) -> None:
    """Open "With selected" and choose ``action`` for the ticked rows (lms-admin.js binds it)."""
    page.click("a.dropdown-toggle:has-text('With selected')")
    page.click(f"[data-lms-action={action}]")


def test_a_days_work_in_the_browser(page: Any, server: LiveServer, console: Console) -> None:
    """Import with a mistake, fix, apply; find the users; enroll them; revoke; verify."""
    log_in(page, server, ADMIN[0], ADMIN[3], console)

    # 1. A users file with a mistake: the plan page names the line and the column.
    upload(page, server, "new-users.csv", USERS_WITH_MISTAKE)
    problem = page.locator("table.lms-problems tbody tr")
    assert problem.count() == 1
    assert problem.locator(".lms-line").inner_text().strip() == "3"
    assert problem.locator(".lms-column").inner_text().strip() == "email"
    assert page.locator("button:has-text('Apply this plan')").count() == 0
    shoot(page, "import-errors")
    console.check()

    # 2. Fixed: the plan shows two new users; applying it lands on the run's page.
    upload(page, server, "new-users.csv", USERS_FIXED)
    assert page.locator("table.lms-problems").count() == 0
    assert page.locator("table.lms-changes .badge", has_text="create").count() == 2
    assert page.locator("[data-count=create]").inner_text().strip() == "2"
    shoot(page, "import-plan")
    page.click("button:has-text('Apply this plan')")
    page.wait_for_url("**/admin/importrun/details/**")
    assert "Applied import run" in page.locator(".alert").first.inner_text()
    console.check()

    # 3. The users list finds them by a search (in SQL, on the server).
    page.goto(server.at("/admin/user/"))
    page.fill("input[name=search]", "brw@example.org")
    page.press("input[name=search]", "Enter")
    page.wait_for_url("**search=**")
    rows = page.locator("table.model-list tbody tr").all_inner_texts()
    assert len(rows) == 2 and all(any(e in row for e in NEW_USERS) for row in rows), rows
    for email in NEW_USERS:
        assert page.locator(f"td:has-text('{email}')").count() == 1
    shoot(page, "users")
    console.check()

    # 4. Both selected, "Enroll into a course…", the course chosen: enrolled.
    page.check("input.action-rowtoggle")
    with_selected(page, "enroll")
    page.wait_for_url("**/admin/enrollment/enroll/**")
    page.select_option("#course", COURSE)
    shoot(page, "enroll")
    page.click("button:has-text('Enroll')")
    page.wait_for_url("**/admin/user/**")
    flash = page.locator(".alert-success").first.inner_text()
    assert f"Enrolled 2 users in {COURSE}" in flash, flash
    console.check()

    # 5. The enrollments list, filtered by the course ("Add Filter", filters.js), shows them.
    page.goto(server.at("/admin/enrollment/"))
    page.click("a.dropdown-toggle:has-text('Add Filter')")
    page.click("a.filter:has-text('Course (slug)')")
    page.fill("#filter_form input.filter-val", COURSE)
    page.click("#filter_form button[type=submit]")
    page.wait_for_url("**flt*")
    listed = page.locator("table.model-list tbody").inner_text()
    assert all(email in listed for email in NEW_USERS), listed
    assert "demo-sql-essentials" not in listed
    shoot(page, "enrollments")
    console.check()

    # 6. The demo certificate revoked, with a reason.
    page.goto(server.at("/admin/certificate/"))
    row = page.locator("table.model-list tbody tr", has_text=CERTIFICATE)
    row.locator("input.action-checkbox").check()
    shoot(page, "certificates")
    with_selected(page, "revoke")
    page.wait_for_url("**/admin/certificate/revoke/**")
    page.fill("#reason", "Issued by mistake (browser test)")
    page.click("button:has-text('Revoke')")
    page.wait_for_url("**/admin/certificate/**")
    assert f"Revoked 1 certificate(s): {CERTIFICATE}" in page.content()
    console.check()

    # 7. Anyone with the number (a QR code, or typed from paper) sees "revoked" and why.
    page.goto(server.at("/verify"))
    page.fill("input[name=number]", CERTIFICATE)
    page.press("input[name=number]", "Enter")
    page.wait_for_url(f"**/verify/{CERTIFICATE}")
    assert page.locator("[data-status]").get_attribute("data-status") == "revoked"
    assert "Issued by mistake (browser test)" in page.locator(".lms-facts").inner_text()
    shoot(page, "verify-revoked")
    page.set_viewport_size(PHONE)
    shoot(page, "verify-revoked-phone")
    page.set_viewport_size(DESKTOP)
    console.check()

    # 8. The dashboard shows the day: the import run and the latest audit entries.
    page.goto(server.at("/admin/"))
    assert page.locator("table.lms-recent-imports tbody tr").count() >= 1
    shoot(page, "dashboard")
    page.set_viewport_size(PHONE)
    page.goto(server.at("/admin/user/"))
    shoot(page, "users-phone")
    console.check()

    # What the clicks wrote, read back from the database: rows and their audit entries.
    with server.engine.connect() as conn:
        enrolled = conn.execute(
            select(User.email)
            .join(Enrollment, Enrollment.student_id == User.id)
            .join(Course, Course.id == Enrollment.course_id)
            .where(Course.slug == COURSE, User.email.in_(NEW_USERS))
        ).scalars()
        assert sorted(enrolled) == sorted(NEW_USERS)
        revoked = conn.execute(
            select(Certificate.revoked_at, Certificate.revoked_by).where(
                Certificate.number == CERTIFICATE
            )
        ).one()
        assert revoked.revoked_at is not None and revoked.revoked_by == ADMIN[0]
        actions = set(
            conn.execute(
                select(AuditEntry.action).where(AuditEntry.actor_label == ADMIN[0])
            ).scalars()
        )
    assert {"enrollment.create", "certificate.revoke"} <= actions, actions


def test_every_menu_page_and_a_record_of_each(
    page: Any, server: LiveServer, console: Console
) -> None:
    """Each page of the menu (and a few forms beyond), and the first record's page of each
    list, answers 200 with no CSP refusal or script exception: a template with an inline
    script or handler fails here, whoever wrote it."""
    log_in(page, server, ADMIN[0], ADMIN[3], console)
    links = page.locator("nav a.nav-link[href^='/admin/'], nav a.dropdown-item[href^='/admin/']")
    menu = sorted(
        {href for href in links.evaluate_all("els => els.map(e => e.getAttribute('href'))")}
    )
    assert set(MENU_SHOTS) <= set(menu), set(MENU_SHOTS) - set(menu)
    for href in [*menu, *MORE_PAGES]:
        answer = page.goto(server.at(href), wait_until="domcontentloaded")
        assert answer is not None and answer.status == 200, href
        if href in MENU_SHOTS:
            shoot(page, MENU_SHOTS[href], full_page=False)
        record = page.locator("table.model-list a[href*='/details/']").first
        if record.count():
            target = record.get_attribute("href")
            answer = page.goto(server.at(target), wait_until="domcontentloaded")
            assert answer is not None and answer.status == 200, target
        console.check()


def test_an_invitation_link_sets_the_first_password(
    page: Any, server: LiveServer, console: Console
) -> None:
    """The link an import or ``lmsctl users invite`` hands out: choose a password, log in."""
    from lms_core.accounts import users
    from lms_core.accounts.fields import UserCreate
    from lms_core.actor import Actor
    from lms_core.db import make_session_factory, unit_of_work
    from lms_core.imports.invites import invite_users

    email = "nora.brw@example.org"
    with unit_of_work(make_session_factory(server.engine)) as session:
        operator = Actor.operator("browser-test")
        data = UserCreate(email=email, full_name="Nora Browser", role="instructor")
        users.create_user(session, actor=operator, data=data)
        report = invite_users(
            session, actor=operator, base_url=server.url, emails=[email], mail=False
        )
    link = report.invited[0].link
    assert link and link.startswith(server.at("/set-password/"))
    page.goto(link)
    assert email in page.inner_text("main")
    page.fill("#password", "Nora-Browser-2026!")
    page.fill("#confirm", "Nora-Browser-2026!")
    shoot(page, "set-password")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.locator(".lms-flash.error").count() == 0, page.inner_text("main")
    console.check()
    page.goto(link)  # used once: the same link no longer works
    assert page.locator("#password").count() == 0
    console.check()
    log_in(page, server, email, "Nora-Browser-2026!", console)
    assert "My courses at a glance" in page.inner_text("body")
    shoot(page, "dashboard-instructor")
