"""One cap on the problems a refusal keeps (``MAX_PROBLEMS``), for imports and banks alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lms_core.errors import MAX_PROBLEMS, FileProblem, FileRefused, ProblemCollector
from lms_core.quizzes.bank.formats import read_questions
from tests.imports.importing import Importer


@pytest.fixture
def imp(session_factory: Any, settings: Any, operator: Any, tmp_path: Path) -> Importer:
    return Importer(session_factory, settings, operator, tmp_path)


def test_collector_keeps_the_first_problems_and_counts_all() -> None:
    collector = ProblemCollector()
    assert not collector
    collector.extend(FileProblem(f"bad {n}", file="f.csv", line=n) for n in range(1, 1501))
    assert collector and collector.count == 1500
    assert len(collector.items) == MAX_PROBLEMS == 1000
    assert collector.items[-1].line == 1000
    assert collector.messages(2) == "f.csv, line 1: bad 1; f.csv, line 2: bad 2; and 1498 more"


def test_an_import_with_more_problems_than_the_cap_keeps_the_first_and_counts_all(
    imp: Importer,
) -> None:
    rows = "".join(f"{n},not-an-email-{n},Learner {n},student,true\n" for n in range(1200))
    path = imp.file("many.csv", "external_id,email,full_name,role,is_active\n" + rows)
    report = imp("users", path)
    assert report.refused
    assert len(report.errors) == MAX_PROBLEMS
    assert report.error_count == 1200
    assert report.errors[0].line == 2


def test_a_question_bank_with_more_problems_than_the_cap_says_how_many_more() -> None:
    text = "".join(f"Q{n}?\nA. x\nANSWER: Z\n\n" for n in range(MAX_PROBLEMS + 5))
    with pytest.raises(FileRefused) as caught:
        read_questions("bank.aiken", text, fmt="aiken")
    errors = caught.value.errors
    assert len(errors) == MAX_PROBLEMS + 1
    assert errors[-1].message.startswith("and ") and errors[-1].message.endswith(" more problems")
