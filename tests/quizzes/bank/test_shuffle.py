"""Shuffling is a permutation, the same on every call (every resume), and seed-dependent."""

from __future__ import annotations

import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from lms_core.quizzes.shuffle import option_order, question_order

seeds = st.integers(0, 2**63 - 1)


@given(seeds, st.lists(st.integers(1, 10**6), unique=True, max_size=30))
def test_question_order_is_a_stable_permutation_whatever_the_input_order(seed, ids):
    order = question_order(seed, ids)
    assert sorted(order) == sorted(ids)
    assert question_order(seed, ids) == order
    assert question_order(seed, list(reversed(ids))) == order


@given(seeds, st.integers(1, 10**6), st.integers(0, 30))
def test_option_order_is_a_stable_permutation(seed, question_id, n):
    order = option_order(seed, question_id, n)
    assert sorted(order) == list(range(n))
    assert option_order(seed, question_id, n) == order


def test_different_seeds_and_questions_give_different_orders():
    ids = list(range(1, 21))
    assert len({tuple(question_order(seed, ids)) for seed in range(50)}) > 45
    assert len({tuple(option_order(7, qid, 6)) for qid in range(50)}) > 30


def test_orders_do_not_depend_on_the_process_hash_seed():
    code = (
        "from lms_core.quizzes.shuffle import question_order, option_order;"
        "print(question_order(12345, range(10)), option_order(12345, 9, 5))"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": str(h)},
        ).stdout
        for h in (1, 2)
    }
    assert runs == {f"{question_order(12345, range(10))} {option_order(12345, 9, 5)}\n"}
