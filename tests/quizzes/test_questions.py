"""A quiz's questions: import a bank (append, replace in place, dry run, refusal), warnings,
remove and renumber."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from lms_core.errors import Conflict, FileProblem, FileRefused, ValidationError
from lms_core.models import Question
from lms_core.quizzes import questions as qs
from lms_core.quizzes import quizzes
from lms_core.quizzes.bank.shapes import QuestionData
from tests.helpers import audit_log
from tests.quizzes.quizkit import all_types, make_quiz

GIFT = """\
::one:: 2 + 2? {=4 ~3}

A description item: not a question.

::two:: Python is a snake. {T}
"""


def test_import_appends_and_replace_keeps_ids_position_by_position(session, make, operator):
    setup = make_quiz(session, make, operator)
    before = qs.ordered_questions(session, setup.quiz.id)
    ids = [q.id for q in before]
    result = qs.import_questions(
        session, actor=operator, quiz_ref=setup.ref, questions=all_types()[:2]
    )
    assert (result.added, result.total) == (2, 9)
    assert [q.order_index for q in qs.ordered_questions(session, setup.quiz.id)] == list(
        range(1, 10)
    )
    fixed = all_types()[:3]
    fixed[0].options = [
        {"text": "3", "weight": 100, "feedback": None},
        {"text": "4", "weight": 0, "feedback": None},
    ]
    result = qs.import_questions(
        session, actor=operator, quiz_ref=setup.ref, questions=fixed, replace=True
    )
    assert (result.updated, result.removed, result.added, result.total) == (3, 6, 0, 3)
    after = qs.ordered_questions(session, setup.quiz.id)
    assert [q.id for q in after] == ids[:3]
    assert after[0].options[0]["weight"] == 100
    assert [e.after["replace"] for e in audit_log(session, "quiz.import_questions")] == [
        False,
        False,
        True,
    ]


def test_dry_run_import_writes_nothing(session, make, operator):
    setup = make_quiz(session, make, operator)
    result = qs.import_questions(
        session, actor=operator, quiz_ref=setup.ref, questions=all_types(), dry_run=True
    )
    assert result.added == 7 and result.total == 14
    assert len(qs.ordered_questions(session, setup.quiz.id)) == 7


def test_an_invalid_question_refuses_the_whole_import(session, make, operator):
    setup = make_quiz(session, make, operator)
    bad = QuestionData(question_text="", question_type="multiple_choice", options=[], line=4)
    with pytest.raises(FileRefused) as refused:
        qs.import_questions(
            session,
            actor=operator,
            quiz_ref=setup.ref,
            questions=[*all_types(), bad],
            source="x.gift",
        )
    problem = refused.value.errors[0]
    assert problem.as_dict()["file"] == "x.gift" and problem.line == 4
    assert len(qs.ordered_questions(session, setup.quiz.id)) == 7


def test_remove_question_renumbers(session, make, operator):
    setup = make_quiz(session, make, operator)
    gone = qs.remove_question(session, actor=operator, quiz_ref=setup.ref, number=2)
    assert gone.question_type == "multiple_response"
    rows = [qs.question_row(q) for q in qs.ordered_questions(session, setup.quiz.id)]
    assert [r["number"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r["question_type"] for r in rows][:2] == ["multiple_choice", "true_false"]
    with pytest.raises(ValidationError):
        qs.remove_question(session, actor=operator, quiz_ref=setup.ref, number=7)
    assert session.get(Question, gone.id) is None
    assert (
        audit_log(session, "quiz.remove_question")[0].before["question_type"] == "multiple_response"
    )


def test_the_last_question_of_a_published_quiz_stays(session, make, operator):
    setup = make_quiz(session, make, operator, questions=all_types()[:1])
    with pytest.raises(Conflict):
        qs.remove_question(session, actor=operator, quiz_ref=setup.ref, number=1)
    assert quizzes.show_quiz(session, actor=operator, quiz_ref=setup.ref)["points"] == float(
        Decimal(1)
    )


def test_parse_bank_reports_what_it_skipped() -> None:
    notes: list[FileProblem] = []
    parsed = qs.parse_bank(GIFT.encode(), file="b.gift", fmt="gift", warnings=notes)
    assert [q.title for q in parsed] == ["one", "two"]
    (note,) = notes
    assert (note.file, note.line, note.column) == ("b.gift", 3, 1)
    assert "description item" in note.message
    # Without a list, nothing changes for the callers that do not care.
    assert len(qs.parse_bank(GIFT.encode(), file="b.gift")) == 2


def test_replace_names_the_questions_whose_content_changed(
    session: Any, make: Any, operator: Any
) -> None:
    setup = make_quiz(session, make, operator)
    same = qs.import_questions(
        session, actor=operator, quiz_ref=setup.ref, questions=all_types(), replace=True
    )
    assert (same.updated, same.changed) == (7, [])
    fixed = all_types()
    fixed[2].correct_answer = False
    fixed[3].options = [*fixed[3].options, {"text": "Paname", "weight": 50, "feedback": None}]
    plan = qs.import_questions(
        session,
        actor=operator,
        quiz_ref=setup.ref,
        questions=fixed,
        replace=True,
        dry_run=True,
    )
    assert (plan.updated, plan.changed) == (7, [3, 4])
    applied = qs.import_questions(
        session, actor=operator, quiz_ref=setup.ref, questions=fixed, replace=True
    )
    assert applied.changed == [3, 4]
    again = qs.import_questions(
        session, actor=operator, quiz_ref=setup.ref, questions=fixed, replace=True
    )
    assert again.changed == []


def test_a_replace_says_what_it_did_to_each_question(
    session: Any, make: Any, operator: Any
) -> None:
    setup = make_quiz(session, make, operator)
    fixed = [*all_types(), *all_types()[:1]]
    fixed[2].correct_answer = False
    result = qs.import_questions(
        session, actor=operator, quiz_ref=setup.ref, questions=fixed, replace=True, dry_run=True
    )
    assert [result.change_of(n) for n in range(1, 9)] == [
        "same",
        "same",
        "changed",
        "same",
        "same",
        "same",
        "same",
        "new",
    ]
