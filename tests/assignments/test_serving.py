"""The headers a web front door sends with a stored file: always a download, never sniffed."""

from __future__ import annotations

from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from lms_core.assignments import file_types as ft
from lms_core.assignments.files import Upload, download, upload_file
from lms_core.assignments.serving import download_headers
from lms_core.errors import ValidationError
from lms_core.settings import Settings
from tests import samples
from tests.helpers import as_


def disposition(headers: dict[str, str]) -> tuple[str, str, str]:
    """The disposition type and both file names, read back the way a mail/HTTP parser does."""
    message = Message()
    message["Content-Disposition"] = headers["Content-Disposition"]
    plain = message.get_param("filename", header="Content-Disposition")
    extended = headers["Content-Disposition"].split("filename*=UTF-8''", 1)[1]
    assert isinstance(plain, str)
    return message.get_content_disposition() or "", plain, unquote(extended)


def test_every_file_is_a_sandboxed_download() -> None:
    headers = download_headers(ft.PDF, "report.pdf")
    assert headers == {
        "Content-Type": "application/pdf",
        "Content-Disposition": "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "Cache-Control": "private, no-store",
        "Cross-Origin-Resource-Policy": "same-origin",
        "X-Download-Options": "noopen",
    }
    assert download_headers(ft.TEXT, "a.txt")["Content-Type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    ("name", "plain", "exact"),
    [
        ('say "hi".txt', "say _hi_.txt", 'say "hi".txt'),
        ("evil\r\nSet-Cookie: a=b.txt", "evilSet-Cookie_ a=b.txt", "evilSet-Cookie: a=b.txt"),
        ("Prüfung ü.pdf", "Pr_fung _.pdf", "Prüfung ü.pdf"),
        ("../../etc/passwd", "passwd", "passwd"),
        ("C:\\x\\back\\slash.pdf", "slash.pdf", "slash.pdf"),
        ("日本語.docx", "___.docx", "日本語.docx"),
        ("a;b%20c.txt", "a;b%20c.txt", "a;b%20c.txt"),
    ],
)
def test_any_name_is_a_safe_header(name: str, plain: str, exact: str) -> None:
    headers = download_headers(ft.TEXT, name)
    value = headers["Content-Disposition"]
    assert value.isascii() and "\r" not in value and "\n" not in value
    assert disposition(headers) == ("attachment", plain, exact)


@pytest.mark.parametrize(
    ("name", "sent"),
    [
        ("page.html", "page.html.txt"),
        ("page.html.", "page.html.txt"),
        ("page.html ", "page.html.txt"),
        ("page.html\n", "page.html.txt"),
        ("page.htm\u200b", "page.htm.txt"),
        ("x.svg\u00a0", "x.svg.txt"),
        ("x.SVG\u2003", "x.SVG_.txt"),  # kept, but no longer last
    ],
)
def test_a_runnable_name_gets_the_type_extension(name: str, sent: str) -> None:
    """A row stored before runnable names were refused still downloads as what it is.

    The extension is judged on the name as sent: a trailing dot, space or invisible
    character that the download drops cannot hide ``.html``.
    """
    _, plain, exact = disposition(download_headers(ft.TEXT, name))
    assert plain == sent
    assert exact.endswith(".txt")


@pytest.mark.parametrize("name", ["page.html\u2003", "page.htm\u200b", "x.svg.", "run.JS \u00a0"])
def test_the_upload_check_reads_the_extension_the_same_way(name: str) -> None:
    with pytest.raises(ValidationError, match=r"files named \.(html|htm|svg|js) are refused"):
        ft.check_name(ft.TEXT, name)


def test_the_type_comes_from_the_stored_file_never_from_the_client(
    session: Any, settings: Settings, tmp_path: Path, learner: Any
) -> None:
    fsettings = settings.model_copy(update={"files_dir": tmp_path / "files"})
    stored = upload_file(
        session, actor=as_(learner), settings=fsettings, upload=Upload("photo", samples.GIF)
    )
    got = download(session, actor=as_(learner), settings=fsettings, file_id=stored.id)
    assert download_headers(got, got.filename)["Content-Type"] == "image/gif"
    assert download_headers(stored, stored.original_filename)["Content-Type"] == "image/gif"
    stored.mime_type = "text/html"  # a row altered by hand: not one of our types
    headers = download_headers(stored, "x.txt")
    assert headers["Content-Type"] == "application/octet-stream"
    assert disposition(headers)[1] == "x.txt"
