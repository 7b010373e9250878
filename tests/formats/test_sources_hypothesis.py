"""Whatever bytes arrive, reading them ends in rows or in FileRefused, never a traceback."""

from __future__ import annotations

import codecs
import tempfile
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lms_core.errors import FileProblem, FileRefused
from lms_core.formats.sources import open_table
from lms_core.imports.oneroster.bundle import read_bundle

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Text made of what breaks CSV readers: quotes, delimiters, line breaks, BOMs, NULs.
csvish = st.lists(
    st.sampled_from([*'abc,;\t"\r\n \x00\ufeffé€Ã©', "email", "role", "001"]), max_size=120
).map("".join)
encodings = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252", "latin-1"])


def read_everything(path: Path, **kwargs: object) -> None:
    try:
        with open_table(path, **kwargs) as table:  # type: ignore[arg-type]
            for row in table.rows:
                assert row.line >= 2
                assert all(isinstance(v, str) for v in row.values.values())
    except FileRefused as exc:
        assert exc.errors
        assert all(isinstance(e, FileProblem) and e.message for e in exc.errors)


@SETTINGS
@given(data=st.binary(max_size=600))
def test_random_bytes(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.csv"
        path.write_bytes(data)
        read_everything(path)
        read_everything(path, required=["email"], encoding="latin-1")


@SETTINGS
@given(text=csvish, encoding=encodings, bom=st.booleans())
def test_random_csvish_text(text: str, encoding: str, bom: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "users.csv"
        data = text.encode(encoding, errors="replace")
        path.write_bytes((codecs.BOM_UTF8 if bom else b"") + data)
        read_everything(path, required=["email"], known=["role"])


@SETTINGS
@given(
    members=st.dictionaries(
        st.sampled_from(
            ["manifest.csv", "users.csv", "[Content_Types].xml", "xl/workbook.xml", "../x"]
        ),
        st.binary(max_size=200),
        max_size=4,
    )
)
def test_random_zips(members: dict[str, bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.xlsx"
        with zipfile.ZipFile(path, "w") as z:
            for name, data in members.items():
                z.writestr(name, data)
        read_everything(path)
        try:
            with read_bundle(path) as bundle:
                for table in (bundle.users, bundle.courses, bundle.enrollments):
                    list(table.rows)
        except FileRefused as exc:
            assert exc.errors
