"""CSV reading: encodings, delimiters, quoted line breaks, line numbers, header problems."""

# ruff: noqa: RUF001  (look-alike characters are what these tests are about)

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from lms_core.errors import FileRefused
from lms_core.formats.sources import CELL_LIMIT, SourceRow, open_table

USERS = "external_id,email,full_name,role\n001,anna@example.org,Anna Müller,student\n"


def write(tmp_path: Path, data: bytes, name: str = "users.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def rows(path: Path, **kwargs: object) -> list[SourceRow]:
    with open_table(path, **kwargs) as table:  # type: ignore[arg-type]
        return list(table.rows)


def refused(path: Path, **kwargs: object) -> list[dict[str, object]]:
    with pytest.raises(FileRefused) as caught, open_table(path, **kwargs) as table:  # type: ignore[arg-type]
        list(table.rows)
    return [e.as_dict() for e in caught.value.errors]


@pytest.mark.parametrize(
    "data",
    [
        USERS.encode("utf-8"),
        codecs.BOM_UTF8 + USERS.encode("utf-8"),
        USERS.encode("utf-16"),  # with the platform's BOM
        codecs.BOM_UTF16_LE + USERS.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + USERS.encode("utf-16-be"),
        USERS.replace("\n", "\r\n").encode("utf-8"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16", "utf-16-le-bom", "utf-16-be-bom", "crlf"],
)
def test_accepted_encodings_read_the_same(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path, data)
    with open_table(path, required=["email"]) as table:
        assert table.columns == ["external_id", "email", "full_name", "role"]
        got = list(table.rows)
    assert got == [
        SourceRow(
            file="users.csv",
            line=2,
            values={
                "external_id": "001",
                "email": "anna@example.org",
                "full_name": "Anna Müller",
                "role": "student",
            },
        )
    ]


def test_windows_1252_is_refused_naming_it(tmp_path: Path) -> None:
    text = "email,full_name\nj@example.org,José “Pepe” Núñez – €\n"
    path = write(tmp_path, text.encode("cp1252"))
    [problem] = refused(path)
    assert problem["file"] == "users.csv"
    assert problem["line"] == 2
    message = str(problem["message"])
    assert "not UTF-8" in message
    assert "Windows-1252" in message
    assert "read it as cp1252" in message and "--" not in message  # no CLI option in the core
    assert problem["hint"] == {"code": "choose_encoding", "params": {"encoding": "cp1252"}}
    assert "CSV UTF-8" in message


def test_latin_1_is_refused_then_read_with_encoding(tmp_path: Path) -> None:
    path = write(tmp_path, "email,full_name\nz@example.org,Zoë Ærøskøbing\n".encode("latin-1"))
    [problem] = refused(path)
    assert "Latin-1" in str(problem["message"])
    [row] = rows(path, encoding="latin-1")
    assert row.values["full_name"] == "Zoë Ærøskøbing"


def test_encoding_override_that_does_not_fit_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "email\nä@example.org\n".encode("utf-16"))
    [problem] = refused(path, encoding="utf-8")
    assert "not valid utf-8" in str(problem["message"])
    [problem] = refused(write(tmp_path, b"email\n", "x.csv"), encoding="klingon")
    assert "unknown encoding" in str(problem["message"])


def test_encoding_override_utf8_still_drops_the_bom(tmp_path: Path) -> None:
    path = write(tmp_path, codecs.BOM_UTF8 + b"email\na@example.org\n")
    with open_table(path, encoding="utf-8", required=["email"]) as table:
        assert table.columns == ["email"]
        assert [r.values for r in table.rows] == [{"email": "a@example.org"}]


def test_utf16_without_bom_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "email\na@example.org\n".encode("utf-16-le"))
    [problem] = refused(path)
    assert "NUL" in str(problem["message"])
    assert "utf-16-le" in str(problem["message"])


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiter_is_detected(tmp_path: Path, delimiter: str) -> None:
    text = delimiter.join(["email", "full_name", "role"]) + "\n"
    text += delimiter.join(["a@example.org", '"Smith, Anna; Jr"', "student"]) + "\n"
    [row] = rows(write(tmp_path, text.encode()))
    assert row.values == {
        "email": "a@example.org",
        "full_name": "Smith, Anna; Jr",
        "role": "student",
    }


def test_delimiter_inside_quoted_header_does_not_count(tmp_path: Path) -> None:
    text = '"a;b;c;d",e\n1,2\n'
    with open_table(write(tmp_path, text.encode())) as table:
        assert table.columns == ["a;b;c;d", "e"]


def test_quoted_newlines_count_as_one_row_and_blank_lines_count(tmp_path: Path) -> None:
    text = (
        "email,full_name\n"  # 1
        'a@example.org,"Anna\nMaria\nMüller"\n'  # 2 (three physical lines)
        "\n"  # 3 blank: skipped, but counted as Excel shows it
        "b@example.org,Bob\n"  # 4
        'c@example.org,"Carl\r\nJr"\r\n'  # 5
    )
    got = rows(write(tmp_path, text.encode()))
    assert [(r.line, r.values["email"]) for r in got] == [
        (2, "a@example.org"),
        (4, "b@example.org"),
        (5, "c@example.org"),
    ]
    assert got[0].values["full_name"] == "Anna\nMaria\nMüller"


def test_fewer_cells_are_empty_and_trailing_empty_cells_are_fine(tmp_path: Path) -> None:
    text = "email,full_name,role\na@example.org\nb@example.org,Bob,student,,\n"
    got = rows(write(tmp_path, text.encode()))
    assert got[0].values == {"email": "a@example.org", "full_name": "", "role": ""}
    assert got[1].values["role"] == "student"


def test_extra_cells_refuse_the_row_naming_its_line(tmp_path: Path) -> None:
    text = "email,full_name\na@example.org,Anna\nb@example.org,Smith, Bob\nc@example.org,Carl\n"
    path = write(tmp_path, text.encode())
    assert refused(path) == [
        {
            "file": "users.csv",
            "line": 3,
            "column": None,
            "value": " Bob",
            "message": "this row has 3 cells but the header has 2 columns: is a value with a "
            "comma or semicolon missing its quotes?",
        }
    ]
    with open_table(path) as table:
        table.collect_problems = True
        assert [r.line for r in table.rows] == [2, 4]
        assert [p.line for p in table.problems] == [3]


def test_missing_required_columns_one_problem_each(tmp_path: Path) -> None:
    path = write(tmp_path, b"email,name\na@example.org,Anna\n")
    assert refused(path, required=["email", "full_name", "role"]) == [
        {
            "file": "users.csv",
            "line": 1,
            "column": column,
            "value": None,
            "message": f'the required column "{column}" is missing from the header row',
        }
        for column in ("full_name", "role")
    ]


def test_duplicate_header_names(tmp_path: Path) -> None:
    path = write(tmp_path, b"email,full_name,Email\na@example.org,Anna,b@example.org\n")
    assert refused(path, required=["email"]) == [
        {
            "file": "users.csv",
            "line": 1,
            "column": "Email",
            "value": None,
            "message": 'the column "Email" appears twice (columns 1 and 3); keep one and '
            "delete the other",
        }
    ]


def test_headers_match_our_columns_loosely_and_remember_theirs(tmp_path: Path) -> None:
    data = codecs.BOM_UTF8 + b" Email ;Full Name;ROLE;Shoe size\na@example.org;Anna;student;38\n"
    path = write(tmp_path, data)
    with open_table(path, required=["email", "full_name", "role"]) as table:
        assert table.columns == ["Email", "Full Name", "ROLE", "Shoe size"]
        assert table.source_columns == {
            "email": "Email",
            "full_name": "Full Name",
            "role": "ROLE",
            "Shoe size": "Shoe size",
        }
        assert table.column_for("full_name") == "Full Name"
        [row] = table.rows
    assert row.values == {
        "email": "a@example.org",
        "full_name": "Anna",
        "role": "student",
        "Shoe size": "38",
    }


ALIASES = {"e-mail": "email", "mail": "email", "name": "full_name", "course": "course_slug"}
REQUIRED = ["email", "full_name"]


def test_a_header_may_be_another_name_of_a_column(tmp_path: Path) -> None:
    path = write(tmp_path, b"E-Mail,Name,Course\na@example.org,Anna,intro\n")
    with open_table(path, required=REQUIRED, aliases=ALIASES) as table:
        assert table.source_columns == {"email": "E-Mail", "full_name": "Name", "Course": "Course"}
        assert table.column_for("email") == "E-Mail"  # problems name the user's header
        [row] = table.rows
    # "course" is another name of a column this table does not read: an unknown column.
    assert row.values == {"email": "a@example.org", "full_name": "Anna", "Course": "intro"}


def test_the_column_itself_wins_over_its_other_names(tmp_path: Path) -> None:
    """A file accepted before aliases existed is read exactly as before."""
    path = write(tmp_path, b"name,full_name,email,mail\njdoe,Jane Doe,j@x.org,old@x.org\n")
    [row] = rows(path, required=REQUIRED, aliases=ALIASES)
    assert row.values == {
        "name": "jdoe",
        "full_name": "Jane Doe",
        "email": "j@x.org",
        "mail": "old@x.org",
    }


def test_two_other_names_of_one_column_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, b"mail,full_name,E-mail\na@x.org,Anna,b@x.org\n")
    [problem] = refused(path, required=REQUIRED, aliases=ALIASES)
    assert problem["message"] == 'the columns "mail" and "E-mail" both stand for "email"; keep one'
    assert (problem["line"], problem["column"]) == (1, "E-mail")


def test_a_missing_column_names_its_other_names(tmp_path: Path) -> None:
    path = write(tmp_path, b"address,full_name\na@x.org,Anna\n")
    [problem] = refused(path, required=REQUIRED, aliases=ALIASES)
    assert problem["message"] == (
        'the required column "email" is missing from the header row '
        "(nor another name for it: e-mail, mail)"
    )


def test_unnamed_columns_are_ignored(tmp_path: Path) -> None:
    [row] = rows(write(tmp_path, b"email,,\na@example.org,x,y\n"))
    assert row.values == {"email": "a@example.org"}


def test_header_after_blank_lines_keeps_excel_numbering(tmp_path: Path) -> None:
    path = write(tmp_path, b"\n\nemail\na@example.org\n")
    with open_table(path, required=["email", "role"]) if False else open_table(path) as table:
        assert [r.line for r in table.rows] == [4]
    [problem] = refused(path, required=["role"])
    assert problem["line"] == 3


@pytest.mark.parametrize("data", [b"", b"   \n\n", codecs.BOM_UTF8, codecs.BOM_UTF16_LE])
def test_empty_file_is_refused(tmp_path: Path, data: bytes) -> None:
    [problem] = refused(write(tmp_path, data))
    assert "empty" in str(problem["message"])


def test_header_only_file_has_no_rows(tmp_path: Path) -> None:
    with open_table(write(tmp_path, b"email,full_name\n"), required=["email"]) as table:
        assert list(table.rows) == []


def test_runaway_quote_is_refused_with_the_line_it_starts(tmp_path: Path) -> None:
    body = "".join(f"u{i}@example.org,User {i}\n" for i in range(20_000))
    text = 'email,full_name\na@example.org,"Anna\n' + body
    [problem] = refused(write(tmp_path, text.encode()))
    assert problem["line"] == 2
    assert "quote" in str(problem["message"])


def test_a_long_cell_is_read_only_in_a_column_allowed_it(tmp_path: Path) -> None:
    """``long_cells`` lifts the 128 KB cap for the columns it names, to their own cap."""
    long = "x" * (CELL_LIMIT + 10)
    path = write(tmp_path, f"slug,content,title\na,{long},T\nb,short,T\n".encode())
    [first, _] = rows(path, known=["content"], long_cells={"content": 2 * CELL_LIMIT})
    assert first.values["content"] == long
    # Another column, or the same file without long_cells, keeps the 128 KB cap: the limit
    # is the reader's own, whatever csv.field_size_limit another reader raised it to.
    for known, caps in ((["content"], {"title": 2 * CELL_LIMIT}), (["content"], None)):
        [problem] = refused(path, known=known, long_cells=caps)
        assert (problem["line"], problem["file"]) == (2, "users.csv")
        assert "over 128 KB long" in str(problem["message"])
    [problem] = refused(path, known=["content"], long_cells={"content": CELL_LIMIT + 5})
    assert f"over {CELL_LIMIT + 5:,} characters long" in str(problem["message"])


def test_a_runaway_quote_in_a_long_column_stops_at_its_cap(tmp_path: Path) -> None:
    body = "".join(f"s{i},Lesson {i},T\n" for i in range(30_000))
    path = write(tmp_path, ('slug,content,title\na,"Runaway,T\n' + body).encode())
    [problem] = refused(path, known=["content"], long_cells={"content": 300_000})
    assert problem["line"] == 2
    assert "over 300,000 characters long: a quote" in str(problem["message"])


def test_missing_file_and_old_xls_are_refused(tmp_path: Path) -> None:
    [problem] = refused(tmp_path / "nope.csv")
    assert problem["file"] == "nope.csv"
    assert "does not exist" in str(problem["message"])
    xls = write(tmp_path, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "old.xls")
    [problem] = refused(xls)
    assert ".xls" in str(problem["message"])


def test_sha256_and_display_name(tmp_path: Path) -> None:
    import hashlib

    data = USERS.encode()
    path = write(tmp_path, data)
    with open_table(path, display_name="upload 3.csv") as table:
        assert table.sha256 == hashlib.sha256(data).hexdigest()
        assert table.file == "upload 3.csv"
        assert next(table.rows).file == "upload 3.csv"


def test_streams_a_big_file_lazily(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write("email,full_name\n")
        for i in range(50_000):
            f.write(f"u{i}@example.org,User {i}\n")
    with open_table(path) as table:
        first = next(table.rows)
        assert first.line == 2
        count = 1 + sum(1 for _ in table.rows)
    assert count == 50_000


def test_formula_guard_of_our_exports_is_undone(tmp_path: Path) -> None:
    from lms_core.formats.safe_cells import safe_cell

    names = ['=HYPERLINK("http://x")', "+33 1 23", "-5", "@home", "'quoted'", "O'Neill", "'"]
    text = "email,full_name\n" + "".join(
        f'u{i}@example.org,"{str(safe_cell(n)).replace(chr(34), chr(34) * 2)}"\n'
        for i, n in enumerate(names)
    )
    got = [r.values["full_name"] for r in rows(write(tmp_path, text.encode()))]
    assert got == names
