"""Answers as people give them: typed at a shell (read by the question's type) or a JSON file."""

from __future__ import annotations

from typing import Any

import pytest

from lms_core.errors import ErrorList, FileRefused, ValidationError
from lms_core.quizzes import attempts
from lms_core.quizzes.answers import (
    answer_from_text,
    read_answers_file,
    save_typed_answers,
    typed_answers,
)
from lms_core.quizzes.bank.shapes import QuestionData
from tests.helpers import as_
from tests.quizzes.quizkit import RIGHT, all_types, make_quiz

#: The right answers of ``all_types()`` as someone types them at a shell.
TYPED = {
    1: "1",
    2: "[0, 1]",
    3: "yes",
    4: "  paris ",
    5: "3,14",
    6: '{"0": "meow", "1": "woof"}',
    7: "Because.",
}


@pytest.mark.parametrize(
    ("number", "text", "stored"),
    [
        (1, "2", 2),
        (2, "[2, 0]", [2, 0]),
        (3, "T", True),
        (3, "no", False),
        (3, "maybe", "maybe"),  # kept as text: the answer check says what is wrong
        (4, "[1]", "[1]"),  # a short answer is text, whatever it looks like
        (5, " 3.14 ", "3.14"),
        (6, '{"0": "meow"}', {"0": "meow"}),
        (6, "{not json", "{not json"),
        (7, "true", "true"),  # an essay is text
    ],
)
def test_a_typed_answer_is_read_by_its_question_type(number: int, text: str, stored: Any) -> None:
    question: QuestionData = all_types()[number - 1]
    assert answer_from_text(question, text) == stored


def test_typed_answers_are_stored_as_the_right_answers(
    session: Any, make: Any, operator: Any
) -> None:
    setup = make_quiz(session, make, operator)
    learner = as_(setup.student)
    started = attempts.start_attempt(
        session, actor=learner, quiz_ref=setup.ref, email=setup.student.email
    )
    attempt_id = started.attempt.id
    assert typed_answers(session, attempt_id=attempt_id, typed=TYPED) == {
        **RIGHT,
        4: "  paris ",
    }
    saved = save_typed_answers(session, actor=learner, attempt_id=attempt_id, typed=TYPED)
    assert saved.saved == list(range(1, 8)) and not saved.late
    graded = attempts.submit_attempt(session, actor=learner, attempt_id=attempt_id)
    # Everything right but the essay, which waits for the instructor.
    assert graded.status == "submitted" and graded.points_earned == 6


def test_a_typed_answer_that_does_not_fit_names_its_question(
    session: Any, make: Any, operator: Any
) -> None:
    setup = make_quiz(session, make, operator)
    learner = as_(setup.student)
    attempt_id = attempts.start_attempt(
        session, actor=learner, quiz_ref=setup.ref, email=setup.student.email
    ).attempt.id
    with pytest.raises(ErrorList) as refused:
        save_typed_answers(
            session, actor=learner, attempt_id=attempt_id, typed={3: "maybe", 9: "x"}
        )
    assert [(e.field, e.message) for e in refused.value.errors] == [
        ("question 3", "must be true or false"),
        ("question", "the quiz has no question 9 (it has 1..7)"),
    ]
    with pytest.raises(ValidationError) as one:
        save_typed_answers(session, actor=learner, attempt_id=attempt_id, typed={1: "7"})
    assert one.value.field == "question 1"


def test_an_answers_file_is_an_object_of_question_numbers() -> None:
    assert read_answers_file(b'{"1": 0, "2": [0, 2], "7": "text"}', file="a.json") == {
        1: 0,
        2: [0, 2],
        7: "text",
    }
    with pytest.raises(FileRefused) as broken:
        read_answers_file(b'{"1": 0,\n "2": }', file="a.json")
    (problem,) = broken.value.errors
    assert (problem.file, problem.line, problem.column) == ("a.json", 2, "7")
    with pytest.raises(FileRefused) as not_utf8:
        read_answers_file('{"1": "é"}'.encode("latin-1"), file="a.json")
    assert "is not UTF-8" in not_utf8.value.errors[0].message
    for wrong in (b"[0, 1]", b'{"first": 0}'):
        with pytest.raises(FileRefused) as shape:
            read_answers_file(wrong, file="a.json")
        assert shape.value.errors[0].message == 'must be an object {"QUESTION_N": answer, ...}'
