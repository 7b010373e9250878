"""lmsctl reports chart: PNG and SVG of a course's figures; matplotlib only when drawing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.reports.world import World, build

CHARTS = ("course-funnel", "enrollments", "scores", "questions")


@pytest.fixture
def world(session: Session) -> World:
    return build(session)


@pytest.mark.parametrize("kind", CHARTS)
def test_png(cli: Any, world: World, tmp_path: Path, kind: str) -> None:
    out = tmp_path / f"{kind}.png"
    result = cli("reports", "chart", kind, "rep-course", "-o", str(out), "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["output"] == str(out)
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_svg_says_what_it_shows(cli: Any, world: World, tmp_path: Path) -> None:
    out = tmp_path / "funnel.svg"
    result = cli("reports", "chart", "course-funnel", "rep-course", "-o", str(out))

    assert result.exit_code == 0, result.output
    svg = out.read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    # Text is drawn as paths; matplotlib keeps each text as a comment beside them.
    assert "<!-- Drop-off funnel: Reports -->" in svg
    assert "Learners who completed the lesson (% of 4 enrolled)" in svg


@pytest.mark.parametrize("kind", CHARTS)
def test_an_empty_course_still_draws(cli: Any, world: World, tmp_path: Path, kind: str) -> None:
    out = tmp_path / "empty.png"
    result = cli("reports", "chart", kind, "rep-empty", "-o", str(out))

    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 0


def test_refusals_write_nothing(cli: Any, world: World, tmp_path: Path) -> None:
    jpg = tmp_path / "chart.jpg"
    wrong = cli("reports", "chart", "scores", "rep-course", "-o", str(jpg), "--json")
    assert wrong.exit_code == 2 and json.loads(wrong.stdout)["errors"][0]["field"] == "output"
    png = tmp_path / "chart.png"
    other = cli(
        "reports",
        "chart",
        "scores",
        "rep-course",
        "-o",
        str(png),
        "--json",
        as_="t2@rep.example.org",
    )
    assert other.exit_code == 1 and json.loads(other.stdout)["errors"][0]["field"] == "as"
    unknown = cli("reports", "chart", "pie", "rep-course", "-o", str(png))
    assert unknown.exit_code == 2
    assert not jpg.exists() and not png.exists()


def test_matplotlib_is_loaded_only_to_draw() -> None:
    code = (
        "import sys, lmsctl.commands.reports, lms_core.reports.course, "
        "lms_core.reports.system, lms_core.reports.output, lms_core.reports.charts; "
        "print('matplotlib' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
