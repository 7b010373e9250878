"""The reports bench's ``_vs_sql`` verdict: strictly within 2x of the hand-written twin and
the same rows. A twin that gives other rows (or other columns) measures another query, so
its ratio proves nothing: a MISS with a note, never an exception that stops the bench."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module("reports_bench")
    finally:
        sys.path.remove(str(BENCH))


def test_same_rows_within_2x_pass(bench: ModuleType) -> None:
    differ = bench.rows_differ([(1, "a", 2.0)], [(1, "a", 2.001)])
    assert differ is None
    assert bench.vs_sql_target("x", 1.9, differ).endswith(" PASS")


def test_a_ratio_over_2_misses_however_small_the_figure(bench: ModuleType) -> None:
    assert bench.vs_sql_target("x", 2.01, None).endswith(" MISS")


def test_differing_values_miss(bench: ModuleType) -> None:
    differ = bench.rows_differ([(1, "a"), (2, "b")], [(1, "a"), (2, "c")])
    assert differ == "1 value(s) differ"
    line = bench.vs_sql_target("x", 1.0, differ)
    assert line.endswith(" MISS") and "1 value(s) differ" in line


def test_differing_row_and_column_counts_miss_with_a_note(bench: ModuleType) -> None:
    assert bench.rows_differ([(1,)], []) == "rows differ: 1 vs 0"
    differ = bench.rows_differ([(1, 2, 3)], [(1, 2)])
    assert differ == "columns differ: 3 vs 2"
    assert bench.vs_sql_target("x", 0.5, differ).endswith(" MISS")
