"""The README's command blocks run as written, from a checkout's root, on the demo data.

Every ```sh block runs in order in one bash, in a directory that looks like the repository
root (``examples/``, ``.venv``), after ``lmsctl init`` and ``lmsctl demo seed`` (what the first
block, ``make demo``, does). Each line must exit 0, except a line whose comment says it is
refused, which must exit 1. A block preceded by ``<!-- not run: REASON -->`` is skipped
(the reason is shown in the README itself, e.g. a server of the reader's own).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.integration.conftest import BIN

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
_FENCE = "```"
_MARK = "__README_LINE__"
# The password a reader types at --prompt-password (and again to confirm it).
_TYPED = "Correct-Horse-Battery-9\nCorrect-Horse-Battery-9\n"


def readme_blocks() -> list[tuple[str, list[tuple[int, str]]]]:
    """Each sh block: the two lines before it, and its (README line number, line) pairs."""
    text = README.read_text(encoding="utf-8").splitlines()
    blocks: list[tuple[str, list[tuple[int, str]]]] = []
    index = 0
    while index < len(text):
        if text[index].strip() == _FENCE + "sh":
            before = "\n".join(text[max(0, index - 2) : index])
            body: list[tuple[int, str]] = []
            index += 1
            while text[index].strip() != _FENCE:
                body.append((index + 1, text[index]))
                index += 1
            blocks.append((before, body))
        index += 1
    return blocks


def readme_lines() -> list[tuple[int, str]]:
    """(README line number, command) of every line the README asks a reader to run."""
    return [
        (number, line)
        for before, body in readme_blocks()
        if "<!-- not run" not in before
        for number, line in body
        if line.strip() and not line.lstrip().startswith("#")
    ]


def expected_code(line: str) -> int:
    comment = line.partition(" #")[2].lower()
    return 1 if "refused" in comment else 0


def test_every_block_is_run_or_says_why_not() -> None:
    blocks = readme_blocks()
    assert len(blocks) >= 5
    for before, _ in blocks:
        if "<!-- not run" in before:
            assert re.search(r"<!-- not run: \S.+-->", before), before


def test_readme_blocks_run_as_written(seeded: dict[str, str], tmp_path: Path) -> None:
    root = tmp_path / "checkout"
    root.mkdir()
    (root / "examples").symlink_to(ROOT / "examples")
    (root / ".venv").symlink_to(BIN.parent)
    script = ["set +e"]
    lines = readme_lines()
    for number, line in lines:
        script.append(line)
        script.append(f'echo "{_MARK} {number} $?" >&2')
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        env={**seeded, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"},
        cwd=root,
        input=_TYPED,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    codes: dict[int, int] = {}
    context: dict[int, str] = {}
    buffer: list[str] = []
    for err_line in done.stderr.splitlines():
        if err_line.startswith(_MARK):
            _, number, code = err_line.split()
            codes[int(number)] = int(code)
            context[int(number)] = "\n".join(buffer[-6:])
            buffer = []
        else:
            buffer.append(err_line)
    wrong = [
        f"README line {number}: `{line}` exited {codes.get(number)} "
        f"(expected {expected_code(line)})\n{context.get(number, '')}"
        for number, line in lines
        if codes.get(number) != expected_code(line)
    ]
    assert not wrong, "\n\n".join(wrong)
    assert "Traceback" not in done.stdout + done.stderr
