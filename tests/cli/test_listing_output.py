"""Listings a script can trust: every row with --json/--jsonl, pages that say where they are,
tables that a pipe receives whole (tab-separated, never wrapped), and the top-level options."""

from __future__ import annotations

import json
import types

import pytest
from sqlalchemy import insert

from lms_core.accounts.users import users_query
from lms_core.actor import Actor
from lms_core.models import User
from lms_core.ops import demo
from lms_core.pagination import iter_rows
from lmsctl import output
from tests.cli.helpers import ok, ok_json, usage_error

#: More than the 50 rows a table shows on a terminal.
MANY = 120


@pytest.fixture
def many_users(session):
    """``MANY`` learners, inserted in one statement (no password hashing, no audit: speed)."""
    rows = [
        {"email": f"learner{i:03d}@example.org", "full_name": f"Learner {i:03d}", "role": "student"}
        for i in range(MANY)
    ]
    session.execute(insert(User), rows)
    session.flush()
    return [r["email"] for r in rows]


@pytest.fixture
def terminal(monkeypatch):
    """stdout as a terminal: people get a table of one page (CliRunner's stdout is a pipe)."""
    monkeypatch.setattr(output, "is_terminal", lambda: True)


def test_json_lists_every_row_not_one_page(cli, many_users):
    rows = ok_json(cli("users", "list", "--json"))

    assert [r["email"] for r in rows] == many_users  # ordered by e-mail, all of them
    assert "password_hash" not in rows[0]


def test_jsonl_prints_one_object_a_line(cli, many_users):
    done = ok(cli("users", "list", "--jsonl"))

    lines = done.stdout.splitlines()
    assert len(lines) == MANY
    assert [json.loads(line)["email"] for line in lines] == many_users
    assert done.stderr == ""


def test_explicit_paging_reports_the_total_and_the_next_page(cli, many_users):
    first = cli("users", "list", "--per-page", "50", "--json")
    data = ok_json(first)

    assert {k: v for k, v in data.items() if k != "items"} == {
        "page": 1,
        "per_page": 50,
        "pages": 3,
        "total": MANY,
        "next_page": 2,
    }
    assert [r["email"] for r in data["items"]] == many_users[:50]
    assert first.stderr == "page 1 of 3 (120 user(s)); next: --page 2\n"

    last = cli("users", "list", "--per-page", "50", "--page", "3", "--json")
    data = ok_json(last)
    assert (len(data["items"]), data["next_page"]) == (20, None)
    assert [r["email"] for r in data["items"]] == many_users[100:]
    assert "page 3 of 3 (120 user(s)); last page" in last.stderr


def test_explicit_paging_with_jsonl_keeps_one_object_a_line(cli, many_users):
    done = ok(cli("users", "list", "--page", "2", "--jsonl"))

    emails = [json.loads(line)["email"] for line in done.stdout.splitlines()]
    assert emails == many_users[50:100]  # --page alone: pages of 50
    assert done.stderr == "page 2 of 3 (120 user(s)); next: --page 3\n"


def test_json_and_jsonl_together_are_a_usage_error(cli):
    usage_error(cli("users", "list", "--json", "--jsonl"), "--jsonl")


def test_a_pipe_gets_every_row_tab_separated_never_wrapped(cli, make, many_users):
    local = "a-very-long-mailbox-name-that-a-rich-table-would-fold-at-eighty-columns-" + "x" * 30
    email = f"{local}@example.org"
    assert len(email) > 110
    name = "Maximiliane Alexandra Konstantina von Hohenzollern-Sigmaringen-Wittelsbach " * 2
    make.user("student", email=email, name=name.strip(), password=None)

    done = ok(cli("users", "list"))

    header, *rows = done.stdout.splitlines()
    assert header == "email\tfull_name\trole\tis_active\texternal_id\tlast_login_at"
    assert len(rows) == MANY + 1  # every row, not a page: the reader is a program
    assert all(len(row.split("\t")) == 6 for row in rows)
    # `lmsctl users list | grep -c EMAIL` finds the long e-mail on one line, with its name
    (line,) = [row for row in rows if email in row]
    assert line.split("\t")[:3] == [email, name.strip(), "student"]
    assert sum("@example.org" in row for row in rows) == MANY + 1
    assert "│" not in done.stdout and "─" not in done.stdout
    assert done.stderr == f"{MANY + 1} user(s)\n"


def test_a_pipe_gets_timestamps_in_full(cli, make):
    """Seconds and the time zone are data for a program: never cut to minutes as on screen."""
    learner = make.user("student", email="ts@example.org", password=None)
    course = make.course()
    make.enroll(learner, course)
    done = ok(cli("enrollments", "list", "--user", "ts@example.org"))
    header, row = done.stdout.splitlines()
    enrolled_at = dict(zip(header.split("\t"), row.split("\t"), strict=True))["enrolled_at"]
    as_json = ok(cli("enrollments", "list", "--user", "ts@example.org", "--json"))
    assert enrolled_at == json.loads(as_json.stdout)[0]["enrolled_at"]
    assert len(enrolled_at) > len("2026-12-06 17:17")


def test_a_pipe_gets_a_record_as_field_and_value_lines(cli, make):
    user = make.user("student", email="ada@example.org", name="Ada Lovelace", password=None)
    ok(cli("users", "update", user.email, "--bio", "line one\nline\ttwo"))

    done = ok(cli("users", "show", user.email))

    fields = dict(line.split("\t", 1) for line in done.stdout.splitlines())
    assert fields["email"] == "ada@example.org"
    assert fields["bio"] == "line one\\nline\\ttwo"  # escaped, never a broken line


def test_a_terminal_table_shows_a_page_and_says_how_many_more(cli, many_users, terminal):
    done = ok(cli("users", "list"))

    assert many_users[49] in done.stdout and many_users[50] not in done.stdout
    footer = " ".join(done.stdout.split())
    assert (
        "rows 1-50 of 120 user(s); 70 more: add --page 2 "
        "(or --per-page N; --json, --jsonl or a pipe lists every row)"
    ) in footer

    last = ok(cli("users", "list", "--page", "3"))
    assert many_users[-1] in last.stdout
    assert "rows 101-120 of 120 user(s)" in " ".join(last.stdout.split())
    assert "more" not in last.stdout


def test_courses_and_enrollments_list_every_row(cli, make, session):
    course = make.course(slug="big", lessons=1, published=True)
    learners = [make.user("student", password=None) for _ in range(55)]
    for learner in learners:
        make.enroll(learner, course)

    enrolled = ok_json(cli("enrollments", "list", "--course", "big", "--json"))
    assert sorted(r["user_email"] for r in enrolled) == sorted(u.email for u in learners)
    lines = ok(cli("enrollments", "list", "--jsonl")).stdout.splitlines()
    assert len(lines) == 55
    for _ in range(52):
        make.course()
    assert len(ok_json(cli("courses", "list", "--json"))) == 53
    assert "total" in ok_json(cli("courses", "list", "--per-page", "10", "--json"))


def test_every_listing_takes_jsonl_with_the_rows_of_json(cli, session, hasher, settings, tmp_path):
    demo.seed(session, actor=Actor.system("demo"), hasher=hasher, settings=settings)
    session.flush()
    notes = tmp_path / "notes.txt"
    notes.write_text("Read chapter 1.\n", encoding="utf-8")
    ok(cli("files", "upload", str(notes), "--course", "demo-python-basics"))
    listings = [
        ("users", "list"),
        ("courses", "list"),
        ("enrollments", "list"),
        ("lessons", "list", "demo-python-basics"),
        ("quizzes", "list"),
        ("quizzes", "questions", "demo-python-basics/checkpoint"),
        ("quizzes", "attempts", "demo-python-basics/checkpoint"),
        ("assignments", "list"),
        ("submissions", "list", "demo-python-basics/homework"),
        ("files", "list"),
        ("certificates", "list"),
    ]
    for args in listings:
        rows = ok_json(cli(*args, "--json"))
        assert isinstance(rows, list) and rows, args
        lines = ok(cli(*args, "--jsonl")).stdout.splitlines()
        assert [json.loads(line) for line in lines] == rows, args
        piped = ok(cli(*args)).stdout.splitlines()
        assert len(piped) == len(rows) + 1, args  # a header line, then one line a row


def test_streaming_reads_in_chunks_without_building_a_list(session, many_users):
    stream = iter_rows(session, users_query(session, actor=Actor.operator("t")), chunk=7)

    assert isinstance(stream, types.GeneratorType)
    assert [u.email for u in stream] == many_users


def test_version_prints_the_package_version(cli):
    from importlib.metadata import version

    done = ok(cli("--version"))
    assert done.stdout == f"lmsctl {version('lms-toolkit')}\n"


def _helps(cli, path=()):
    """``--help`` of the root and of every group and command under it, by path."""
    from lmsctl.reference import subcommands, tree

    def walk(entry):
        yield entry.path.split()[1:]
        for sub in subcommands(entry):
            yield from walk(sub)

    for words in walk(tree()):
        yield " ".join(words), ok(cli(*words, "--help")).stdout


def test_completion_only_at_the_top_and_flags_without_a_metavar(cli):
    helps = dict(_helps(cli))

    assert "--install-completion" in helps[""] and "--show-completion" in helps[""]
    assert "--version" in helps[""]
    for path, text in helps.items():
        assert "<bool>" not in text and "BOOLEAN" not in text, path
        if path:
            assert "--install-completion" not in text, path
            assert "--show-completion" not in text, path
    assert "--json  " in helps["users list"] and "--jsonl  " in helps["users list"]


def test_a_failure_after_rows_went_out_is_reported_on_stderr_only(capsys):
    """A second JSON document after a half-written array would look like data: the problem
    goes to stderr, and the exit code says the rows are incomplete."""
    import typer

    from lms_core.errors import ValidationError
    from lmsctl.output import emit_rows, reporting

    def rows():
        yield {"email": "a@example.org"}
        raise ValidationError("the connection went away", field="database_url")

    with pytest.raises(typer.Exit) as exited, reporting(as_json=True):
        emit_rows(rows(), ["email"], as_json=True)
    out = capsys.readouterr()
    assert exited.value.exit_code == 1
    assert '"errors"' not in out.out and out.out.startswith("[")
    assert "the connection went away" in out.err

    # The next command of the same process reports as JSON again.
    with pytest.raises(typer.Exit), reporting(as_json=True):
        raise ValidationError("plain", field="x")
    assert '"errors"' in capsys.readouterr().out
