"""docs/cli-reference.md is generated from the Typer app; the committed file must be current."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest

from lmsctl import reference
from lmsctl.lazy import COMMANDS
from tests.cli.test_help import EVERY_COMMAND

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / reference.REFERENCE


@pytest.fixture(scope="module")
def text() -> str:
    return reference.render()


def test_committed_reference_is_current(text):
    committed = COMMITTED.read_text(encoding="utf-8") if COMMITTED.exists() else ""

    if committed != text:
        diff = difflib.unified_diff(
            committed.splitlines(), text.splitlines(), "committed", "generated", lineterm="", n=1
        )
        shown = "\n".join(list(diff)[:40])
        pytest.fail(
            f"{reference.REFERENCE} is stale: run `make docs` (or `{reference.REGENERATE}` "
            f"from the repository root) and commit the result.\n{shown}",
            pytrace=False,
        )


def test_output_does_not_depend_on_the_terminal_or_the_settings(monkeypatch, text):
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("LMS_ACTOR", "someone@example.org")
    monkeypatch.setenv("LMS_DATABASE_URL", "sqlite:///elsewhere.db")

    other = reference.render()

    assert other == text
    assert "\x1b[" not in other


def test_every_group_and_command_has_a_section_with_usage_and_example(text):
    sections = dict(
        (m.group(1), m.group(2))
        for m in re.finditer(r"^#+ (lmsctl[^\n]*)\n(.*?)(?=^#+ lmsctl|\Z)", text, re.M | re.S)
    )

    assert set(COMMANDS) <= {path.split()[1] for path in sections if " " in path}
    for group, command in EVERY_COMMAND:
        path = " ".join(["lmsctl", group, *([command] if command else [])])
        body = sections[path]
        assert f"```text\n{path} " in body, path
        assert "Example:\n\n```sh\nlmsctl " in body, path


def test_options_show_their_help_and_defaults(text):
    assert (
        "| `--per-page <int range>` | Rows per page. [default: (every row with --json, --jsonl "
        "or into a pipe; 50 in a table on a terminal); 1<=x<=10000] |"
    ) in text
    assert "[env var: LMS_DATABASE_URL]" in text


def test_help_text_is_markdown_safe(text):
    # A type such as <str> would otherwise be swallowed as an HTML tag by the Markdown viewer.
    assert re.search(r"(?<![\\`])<[a-z]", _prose(text)) is None
    # Every table has two columns: a pipe in a value (even in a code span) is escaped.
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert rows
    assert [r for r in rows if len(re.findall(r"(?<!\\)\|", r)) != 3] == []


def test_reference_and_rules_link_to_each_other_and_readme_to_both(text):
    rules = ROOT / "docs" / reference.RULES

    assert "(cli-reference.md)" in rules.read_text(encoding="utf-8")
    assert f"]({reference.RULES})" in text
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/cli-reference.md" in readme and "docs/cli-rules.md" in readme


def test_check_mode_refuses_a_stale_file_and_write_mode_fixes_it(tmp_path, capsys):
    out = tmp_path / "cli-reference.md"
    out.write_text("# hand-edited\n", encoding="utf-8")

    assert reference.main(["--check", "-o", str(out)]) == 1
    assert f"is stale: run `{reference.REGENERATE}`" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "# hand-edited\n"

    assert reference.main(["-o", str(out)]) == 0
    assert reference.main(["--check", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == reference.render()


def _prose(text: str) -> str:
    """The text outside fenced blocks and code spans."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "", text)
