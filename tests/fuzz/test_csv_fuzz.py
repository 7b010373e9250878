"""CSV imports under seeded mutations of the example files: exit 0 or 1, never a traceback,
always one JSON document whose errors say where, and the database unchanged on a refusal."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.helpers import ok
from tests.fuzz.conftest import SEED, Fuzzer
from tests.fuzz.mutate import mutate, special_files

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "import"
#: Small files in the shapes the CLI tests use, next to the examples.
USERS = b"external_id,email,full_name,role\nS-1,ann@x.org,Ann,student\nS-2,bob@x.org,Bob,student\n"
#: Three rows with passwords: hashed in-process (the worker pool starts at four).
USERS_PW = (
    b"external_id,email,full_name,role,password,is_active\n"
    b"P-1,pia@x.org,Pia Lind,student,correct horse battery,true\n"
    b"P-2,per@x.org,Per Holm,instructor,Tr0ub4dor&3-staple,false\n"
    b"P-3,pal@x.org,P\xc3\xa5l \xc3\x98ye,student,\xc3\xa6\xc3\xb8\xc3\xa5 long enough pass,yes\n"
)
LESSONS = ("--lessons", str(EXAMPLES / "lessons.csv"))
ENROLLMENTS = (
    b"user_external_id,course_external_id,status\n000101,0042,active\n000102,0043,completed\n"
)

#: (import kind, sample, cases) - about 200 in all.
SAMPLES = [
    ("users", "users.csv", 50),
    ("users", "users-with-mistakes.csv", 20),
    ("users", USERS, 15),
    ("users", USERS_PW, 15),
    ("courses", "courses.csv", 25),
    ("lessons", "lessons.csv", 20),
    ("enrollments", "enrollments.csv", 40),
    ("enrollments", ENROLLMENTS, 20),
]

IDS = [
    "users", "users-with-mistakes", "users-small", "users-passwords",
    "courses", "lessons", "enrollments", "enrollments-by-id",
]  # fmt: skip


@pytest.fixture
def catalogue(cli: Any) -> None:
    """The example users and courses, so courses and enrollments files have something to name."""
    ok(cli("import", "users", str(EXAMPLES / "users.csv"), "--json"))
    ok(cli("import", "courses", str(EXAMPLES / "courses.csv"), *LESSONS, "--json"))


@pytest.mark.parametrize(("kind", "sample", "cases"), SAMPLES, ids=IDS)
def test_mutated_csv_files_are_imported_or_refused_cleanly(
    catalogue: None,
    fuzzer: Callable[[str], Fuzzer],
    scale: Callable[[int], int],
    tmp_path: Path,
    kind: str,
    sample: str | bytes,
    cases: int,
) -> None:
    data = sample if isinstance(sample, bytes) else (EXAMPLES / sample).read_bytes()
    name = sample if isinstance(sample, str) else f"inline-{len(sample)}"
    rng = random.Random(f"{SEED}-{kind}-{name}")  # noqa: S311 - seeded on purpose
    fuzz = fuzzer("csv")
    for n in range(scale(cases)):
        label, mutated = mutate(data, rng)
        path = tmp_path / f"{kind}-{n}.csv"
        path.write_bytes(mutated)
        if kind == "courses":
            args = ["courses", str(path), *LESSONS]
        elif kind == "lessons":
            args = ["courses", str(EXAMPLES / "courses.csv"), "--lessons", str(path)]
        else:
            args = [kind, str(path)]
        fuzz.run(f"{kind} {name} #{n} {label}", "import", *args, "--json")
    fuzz.assert_clean()


def test_edge_files_and_encodings_are_imported_or_refused_cleanly(
    catalogue: None, fuzzer: Callable[[str], Fuzzer], tmp_path: Path
) -> None:
    fuzz = fuzzer("csv")
    header = (EXAMPLES / "users.csv").read_bytes().split(b"\n")[0] + b"\n"
    for label, data in special_files(header):
        path = tmp_path / f"{label}.csv"
        path.write_bytes(data)
        fuzz.run(f"users {label}", "import", "users", str(path), "--json")
    latin = (EXAMPLES / "users.csv").read_text(encoding="utf-8").encode("latin-1", "replace")
    path = tmp_path / "latin.csv"
    path.write_bytes(latin)
    for encoding in [
        "latin-1",
        "cp1252",
        "utf-16",
        "utf-7",
        "rot13",
        "base64",
        "hex",
        "nope",
        "",
        "\x00",
        "utf\x008",
    ]:
        fuzz.run(
            f"users --encoding {encoding!r}",
            "import",
            "users",
            str(path),
            "--encoding",
            encoding,
            "--json",
            usage_ok=True,
        )
    fuzz.assert_clean()


#: Cell values every column meets: out-of-range numbers, limits of length, hidden characters,
#: paths, URLs and addresses that are almost right.
ALWAYS = ["2147483648", "9" * 40, "x" * 256, "a\x00b", " "]
HOSTILE = [
    "-2147483649", "-1", "0", "1e3", "1.5", "NaN", "0x10", "\u0661\u0662", "x" * 255, "é" * 2000,
    "\u202eevil", "a\u200bb", "\ufeffx", "=HYPERLINK(\"http://x\")", "'=x", "@SUM(1)", "../../etc",
    "javascript:alert(1)", "http://" + "a" * 3000 + ".org", "file:///etc/passwd", "UPPER-Case",
    "ä-slug", "a" * 64 + "@x.org", "x@" + "a" * 250 + ".org", '"q"@x.org', "x@xn--80ak6aa92e.com",
    "x@\u0440\u0430ypal.com", "NULL", "true ", " student", "STUDENT", "yes", "\uff54\uff52\uff55\uff45", "\t", "\r",
]  # fmt: skip
TEMPLATES = {
    "users": "users.csv",
    "courses": "courses.csv",
    "lessons": "lessons.csv",
    "enrollments": "enrollments.csv",
}


def _cell_cases(rng: random.Random) -> Iterator[tuple[str, str, bytes]]:
    """(kind, label, file): the example file with one cell of one row replaced."""
    for kind, sample in TEMPLATES.items():
        rows = list(csv.reader(io.StringIO((EXAMPLES / sample).read_text(encoding="utf-8"))))
        for c, column in enumerate(rows[0]):
            for value in [*ALWAYS, *rng.sample(HOSTILE, 2)]:
                changed = [list(row) for row in rows]
                changed[rng.randrange(1, len(rows))][c] = value
                out = io.StringIO()
                csv.writer(out, lineterminator="\n").writerows(changed)
                yield kind, f"{kind}.{column} = {value[:30]!r}", out.getvalue().encode()


def test_hostile_cell_values_in_every_column_are_imported_or_refused_cleanly(
    catalogue: None, fuzzer: Callable[[str], Fuzzer], scale: Callable[[int], int], tmp_path: Path
) -> None:
    fuzz = fuzzer("csv cells")
    rng = random.Random(f"{SEED}-cells")  # noqa: S311 - seeded on purpose
    for n, (kind, label, data) in enumerate(_cell_cases(rng)):
        path = tmp_path / f"cell-{n}.csv"
        path.write_bytes(data)
        if kind == "courses":
            args = ["courses", str(path), *LESSONS]
        elif kind == "lessons":
            args = ["courses", str(EXAMPLES / "courses.csv"), "--lessons", str(path)]
        else:
            args = [kind, str(path)]
        fuzz.run(label, "import", *args, "--json")
    fuzz.assert_clean()
