"""Naming the encoding of a file that is not UTF-8, so the refusal says what to do."""

# ruff: noqa: RUF001  (look-alike characters are what these tests are about)

from __future__ import annotations

import io
from pathlib import Path

import pytest

from lms_core.errors import FileRefused
from lms_core.formats.encoding import detect, likely_encoding, sha256_file


@pytest.mark.parametrize(
    ("text", "codec", "option", "name"),
    [
        (
            "email,name\na@x.fr,Hélène Béranger\nb@x.fr,François Lefèvre\n",
            "cp1252",
            "cp1252",
            "Latin-1",
        ),
        ("email,name\nj@x.es,José “Pepe” Núñez – 5 €\n", "cp1252", "cp1252", "Windows-1252"),
        (
            "email,name\na@x.pl,Łukasz Wójcik\nb@x.pl,Zażółć gęślą jaźń\n",
            "cp1250",
            "cp1250",
            "Windows-1250",
        ),
        ("email,name\na@x.ru,Иван Петров\nb@x.ru,Мария Сидорова\n", "cp1251", "cp1251", "Cyrillic"),
        (
            "email,name\na@x.de,Jürgen Müller\nb@x.de,Bärbel Groß\n",
            "mac_roman",
            "mac_roman",
            "Mac Roman",
        ),
        ("email,name\na@x.jp,山田太郎\nb@x.jp,鈴木花子\n", "shift_jis", "cp932", "Shift-JIS"),
    ],
)
def test_likely_encoding(text: str, codec: str, option: str, name: str) -> None:
    guess = likely_encoding(text.encode(codec))
    assert guess is not None
    friendly, given = guess
    assert given == option
    assert name in friendly
    # The suggested --encoding reads the file back as it was written.
    assert text.encode(codec).decode(given) == text


def test_binary_data_has_no_likely_encoding() -> None:
    assert likely_encoding(bytes(range(256)) * 8) is None


def test_detect_reports_digest_size_and_codec(tmp_path: Path) -> None:
    data = "\ufeffemail\nzoë@example.org\n".encode()
    path = tmp_path / "u.csv"
    path.write_bytes(data)
    found = detect(lambda: io.BytesIO(data), display="u.csv")
    assert found.encoding == "utf-8-sig"
    assert found.size == len(data)
    assert found.sha256 == sha256_file(path)


def test_error_far_into_the_file_names_its_line() -> None:
    data = b"email\n" + b"a@example.org\n" * 200_000 + "b@example.org,Jos\xe9\n".encode("latin-1")
    with pytest.raises(FileRefused) as caught:
        detect(lambda: io.BytesIO(data), display="big.csv")
    [problem] = caught.value.errors
    assert problem.as_dict()["line"] == 200_002
