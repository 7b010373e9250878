"""lmsctl files: upload, list, download, delete, and refusals that change nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lms_core.models import StoredFile
from tests import samples
from tests.cli.helpers import count, ok, ok_json, refused, refused_json
from tests.conftest import Cli


@pytest.fixture
def small_cli(settings: Any, session_factory: Any, tmp_path: Path) -> Cli:
    """lmsctl with its own files directory and a 1 MB upload limit."""
    return Cli(
        settings.model_copy(update={"files_dir": tmp_path / "files", "max_upload_mb": 1}),
        session_factory,
    )


def _file(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_upload_list_download_delete(
    small_cli: Cli, make: Any, session: Any, tmp_path: Path
) -> None:
    teacher = make.user("instructor")
    course = make.course(instructor=teacher, lessons=1, published=True)
    learner = make.user()
    make.enroll(learner, course)
    pdf = _file(tmp_path, "syllabus.pdf", samples.PDF)
    data = ok_json(
        small_cli("files", "upload", pdf, "--course", course.slug, "--json", as_=teacher.email)
    )
    assert data["mime_type"] == "application/pdf" and data["course"] == course.slug
    listed = ok_json(
        small_cli("files", "list", "--course", course.slug, "--json", as_=learner.email)
    )
    assert [f["id"] for f in listed] == [data["id"]]
    out = tmp_path / "copy.pdf"
    result = ok(small_cli("files", "download", str(data["id"]), "-o", str(out), as_=learner.email))
    assert out.read_bytes() == samples.PDF and "syllabus.pdf" in result.stdout
    refused(small_cli("files", "delete", str(data["id"]), as_=learner.email), "as")
    ok(small_cli("files", "delete", str(data["id"]), as_=teacher.email))
    assert count(session, StoredFile) == 0


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("invoice.pdf", samples.EXE, "windows executable"),
        ("essay.docx", samples.ZIP, "not an office document"),
        ("page.pdf", samples.HTML, "markup"),
        ("empty.txt", b"", "is empty"),
    ],
)
def test_refused_uploads_change_nothing(
    small_cli: Cli, unchanged: Any, tmp_path: Path, name: str, data: bytes, says: str
) -> None:
    path = _file(tmp_path, name, data)
    with unchanged():
        refused(small_cli("files", "upload", path), "file", contains=says)
    assert not (tmp_path / "files").exists() or not any((tmp_path / "files").rglob("*.*"))


def test_oversize_upload(small_cli: Cli, unchanged: Any, tmp_path: Path) -> None:
    path = _file(tmp_path, "big.txt", b"x" * (1024 * 1024 + 10))
    with unchanged():
        error = refused_json(small_cli("files", "upload", path, "--json"), "file")
    assert "more than the 1 MB allowed" in error["message"]


def test_path_tricks_in_names_stay_names(small_cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    path = _file(folder, "..%2F..%2Fetc%2Fpasswd.txt", samples.TEXT)
    data = ok_json(small_cli("files", "upload", path, "--json"))
    assert data["original_filename"] == "..%2F..%2Fetc%2Fpasswd.txt".lstrip(".")
    stored = list((tmp_path / "files").rglob("*.txt"))
    assert len(stored) == 1 and stored[0].name == f"{data['sha256']}.txt"


def test_download_of_someone_elses_file_is_not_found(
    small_cli: Cli, make: Any, tmp_path: Path
) -> None:
    owner, stranger = make.user(), make.user()
    path = _file(tmp_path, "mine.txt", samples.TEXT)
    data = ok_json(small_cli("files", "upload", path, "--json", as_=owner.email))
    out = tmp_path / "x.txt"
    refused(
        small_cli("files", "download", str(data["id"]), "-o", str(out), as_=stranger.email),
        "file_id",
    )
    assert not out.exists()
