"""The back office's SVG charts (admin_ui/svg_charts.py): well-formed, accessible, escaped,
labels that never overlap however many weeks, scaled to fit a phone."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

import pytest

from admin_ui.svg_charts import CHAR, WIDTH, Series, bar_chart, hbar_chart, nice_ceiling, short

NS = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))  # noqa: S314 - our own output, not untrusted XML


def weeks(n: int) -> list[str]:
    return [f"2026-{1 + i // 4:02d}-{1 + (i % 4) * 7:02d}" for i in range(n)]


def test_a_bar_chart_is_an_accessible_svg_with_title_desc_and_axis_labels() -> None:
    svg = parse(
        bar_chart(
            title="Enrollments per week",
            desc="Learners per week",
            labels=["2026-01-05", "2026-01-12"],
            series=[Series("enrolled", [3, 5]), Series("completed", [1, None])],
            x_label="Week (starting Monday, UTC)",
            y_label="Learners",
        )
    )
    assert svg.tag == NS + "svg" and svg.get("role") == "img"
    assert svg.get("viewBox", "").startswith(f"0 0 {WIDTH} ") and svg.get("width") == "100%"
    title, desc = svg.find(NS + "title"), svg.find(NS + "desc")
    assert title is not None and title.text == "Enrollments per week"
    assert desc is not None and desc.text == "Learners per week"
    assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    texts = [t.text for t in svg.iter(NS + "text")]
    assert "Week (starting Monday, UTC)" in texts and "Learners" in texts
    assert "enrolled" in texts and "completed" in texts  # the legend
    bars = [r for r in svg.iter(NS + "rect") if r.find(NS + "title") is not None]
    tips = [r.find(NS + "title").text for r in bars]  # type: ignore[union-attr]
    assert tips == [
        "2026-01-05: enrolled 3",
        "2026-01-05: completed 1",
        "2026-01-12: enrolled 5",
        "2026-01-12: completed no value",
    ]
    heights = [float(r.get("height", 0)) for r in bars]
    assert heights[2] > heights[0] > heights[1] > heights[3] == 0
    assert [t for t in texts if t in {"0", "1", "2", "3", "4", "5"}] == [
        "0",
        "1",
        "2",
        "3",
        "4",
        "5",
    ]


@pytest.mark.parametrize("n", [1, 8, 30, 52, 200])
def test_week_labels_never_overlap(n: int) -> None:
    labels = weeks(n)
    svg = parse(
        bar_chart(
            title="t",
            desc="d",
            labels=labels,
            series=[Series("enrolled", list(range(n)))],
            x_label="Week",
            y_label="Learners",
        )
    )
    axis = [t for t in svg.iter(NS + "text") if t.text in labels]
    assert axis and axis[0].text == labels[0]
    xs = [float(t.get("x", 0)) for t in axis]
    width = len(labels[0]) * CHAR
    assert all(b - a >= width for a, b in itertools.pairwise(xs)), xs
    assert all(width / 2 <= x <= WIDTH - width / 2 for x in xs)


def test_text_is_escaped_and_long_labels_are_cut() -> None:
    evil = '<script>alert("x")</script> & a very long lesson title that goes on and on and on'
    markup = hbar_chart(
        title=evil, desc=evil, labels=[evil], values=[50.0], notes=["1 of 2"], x_label="%"
    )
    assert "<script>" not in str(markup)
    svg = parse(markup)
    label, value = [t.text or "" for t in svg.iter(NS + "text")][1:3]
    assert value == "50% · 1 of 2"
    assert label.endswith("…") and (len(label) + len(value)) * CHAR <= WIDTH  # side by side
    bar = next(r for r in svg.iter(NS + "rect") if r.find(NS + "title") is not None)
    assert float(bar.get("width", 0)) == pytest.approx(WIDTH / 2)


def test_horizontal_bars_put_each_label_on_its_own_line() -> None:
    svg = parse(
        hbar_chart(
            title="Funnel",
            desc="d",
            labels=["1. Setup", "2. Variables", "3. Loops"],
            values=[100.0, 50.0, None],
            notes=["4 of 4", "2 of 4", "0 of 4"],
            colors=["#111111", "#222222", "#333333"],
            x_label="Learners (%)",
        )
    )
    ys = [float(t.get("y", 0)) for t in svg.iter(NS + "text") if (t.text or "")[:2] in "1.2.3."]
    assert ys == sorted(ys) and min(b - a for a, b in itertools.pairwise(ys)) >= 30
    texts = [t.text for t in svg.iter(NS + "text")]
    assert "100% · 4 of 4" in texts and "no value · 0 of 4" in texts


def test_nothing_to_draw_says_so() -> None:
    svg = parse(
        bar_chart(
            title="t", desc="d", labels=[], series=[], x_label="x", y_label="y", empty="None."
        )
    )
    assert [t.text for t in svg.iter(NS + "text")] == ["t", "None."]
    assert "Nothing to show." in str(
        hbar_chart(title="t", desc="d", labels=[], values=[], x_label="x")
    )


def test_axis_tops_are_round_numbers() -> None:
    assert [nice_ceiling(v) for v in (0, 0.3, 1, 3, 7, 11, 26, 180, 4100)] == [
        1,
        0.5,
        1,
        5,
        10,
        20,
        50,
        200,
        5000,
    ]
    assert short("a  b\nc", 10) == "a b c" and short("abcdefghijk", 5) == "abcd…"
