"""Deterministic shuffling from an attempt's seed: the same order on every resume.

Orders come from ``random.Random`` seeded with a string (``"<seed>:questions"``,
``"<seed>:<question id>"``): string seeds are hashed with SHA-512 by ``random``, so the order
does not depend on ``PYTHONHASHSEED``, the process or the machine. Not for secrets: the seed
only decides the display order.
"""

from __future__ import annotations

import random
from collections.abc import Iterable


def question_order(seed: int, question_ids: Iterable[int]) -> list[int]:
    """The question ids in the order this attempt shows them.

    The ids are sorted first, so the order depends on the seed and the set of questions, not on
    the order the caller loaded them in.
    """
    ids = sorted(question_ids)
    random.Random(f"{seed}:questions").shuffle(ids)  # noqa: S311 - display order, not a secret
    return ids


def option_order(seed: int, question_id: int, n: int) -> list[int]:
    """Display order of a question's ``n`` options: stored indexes, first shown first."""
    order = list(range(n))
    random.Random(f"{seed}:{question_id}").shuffle(order)  # noqa: S311 - display order
    return order
