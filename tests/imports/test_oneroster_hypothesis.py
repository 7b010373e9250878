"""A OneRoster bundle with any cell changed to anything maps or is refused, never crashes."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lms_core.errors import FileProblem, FileRefused
from lms_core.imports.oneroster.bundle import read_bundle

BULK = Path(__file__).resolve().parents[2] / "examples" / "import" / "oneroster"
FILES = sorted(p.name for p in BULK.iterdir())
cell = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "",
            "tobedeleted",
            "teacher",
            "student",
            "guardian",
            "false",
            "true",
            '"',
            "\n",
            "stu-1001",
            "cls-sci7-p2",
            "bulk",
            "delta",
            "absent",
        ]
    ),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    file=st.sampled_from(FILES),
    row=st.integers(min_value=0, max_value=70),
    column=st.integers(min_value=0, max_value=20),
    value=cell,
)
def test_any_cell_changed(file: str, row: int, column: int, value: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "bundle"
        folder.mkdir()
        for name in FILES:
            data = (BULK / name).read_text(encoding="utf-8")
            if name == file:
                rows = list(csv.reader(io.StringIO(data)))
                r = rows[row % len(rows)]
                r[column % len(r)] = value
                out = io.StringIO()
                csv.writer(out).writerows(rows)
                data = out.getvalue()
            (folder / name).write_text(data, encoding="utf-8", errors="surrogatepass")
        try:
            with read_bundle(folder) as bundle:
                for table in (bundle.users, bundle.courses, bundle.enrollments):
                    for mapped in table.rows:
                        assert mapped.line >= 2
                        assert all(isinstance(v, str) for v in mapped.values.values())
        except FileRefused as exc:
            assert exc.errors
            assert all(isinstance(e, FileProblem) for e in exc.errors)
