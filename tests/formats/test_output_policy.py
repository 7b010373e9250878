"""lms_core.formats.output: the format a file name asks for, and the CSV encoding."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from lms_core.errors import UsageError
from lms_core.formats.output import csv_bytes, csv_file, csv_writer, output_format


def test_the_suffix_decides_and_format_must_agree() -> None:
    assert output_format(Path("g.XLSX"), ("csv", "xlsx")) == "xlsx"
    assert output_format(Path("g.csv"), ("csv", "xlsx"), "csv") == "csv"
    assert output_format(None, ("csv", "xlsx"), default="csv") == "csv"
    assert output_format(Path("grades"), ("csv", "xlsx"), "xlsx") == "xlsx"  # no suffix
    assert output_format(Path("bank.txt"), ("gift", "aiken"), "aiken") == "aiken"
    assert output_format(Path("bank.txt"), ("gift", "aiken"), default="gift") == "gift"
    with pytest.raises(UsageError) as refused:
        output_format(Path("g.pdf"), ("csv", "xlsx", "json"))
    assert refused.value.field == "output" and refused.value.value == "g.pdf"
    assert "name it .csv, .xlsx or .json" in refused.value.message
    with pytest.raises(UsageError, match="does not match"):
        output_format(Path("g.xlsx"), ("csv", "xlsx"), "csv")
    with pytest.raises(UsageError) as bad:
        output_format(None, ("csv", "xlsx"), "ods")
    assert bad.value.field == "format"


def test_csv_files_are_utf8_with_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    with csv_file(path) as stream:
        csv_writer(stream).writerow(["José", "=1+1"])
    assert path.read_bytes() == codecs.BOM_UTF8 + "José,=1+1\r\n".encode()
    assert csv_bytes([["Núñez"]]) == codecs.BOM_UTF8 + "Núñez\r\n".encode()
