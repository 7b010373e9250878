"""OneRoster 1.1 bundles: the example in examples/import read end to end, zip and folder,
delta mode, and the problems that refuse a bundle (file, line and column asserted)."""

from __future__ import annotations

import shutil
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from lms_core.errors import FileRefused
from lms_core.imports.columns import COURSE_COLUMNS, ENROLLMENT_COLUMNS, USER_COLUMNS
from lms_core.imports.oneroster.bundle import Bundle, read_bundle
from lms_core.imports.oneroster.spec import SlugMaker, course_title, slugify

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "import"
BULK = EXAMPLES / "oneroster"
DELTA = EXAMPLES / "oneroster-delta"


def copy(tmp_path: Path, source: Path = BULK) -> Path:
    return Path(shutil.copytree(source, tmp_path / source.name))


def zipped(folder: Path, target: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for path in sorted(folder.iterdir()):
            z.write(path, prefix + path.name)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def refused(path: Path) -> list[dict[str, object]]:
    with pytest.raises(FileRefused) as caught, read_bundle(path) as bundle:
        for table in (bundle.users, bundle.courses, bundle.enrollments):
            list(table.rows)
    return [e.as_dict() for e in caught.value.errors]


def read_all(bundle: Bundle) -> tuple[list, list, list]:  # type: ignore[type-arg]
    return list(bundle.users.rows), list(bundle.courses.rows), list(bundle.enrollments.rows)


def test_example_bundle_end_to_end() -> None:
    with read_bundle(BULK) as bundle:
        assert bundle.mode == "bulk"
        assert bundle.file_modes["users"] == "bulk"
        assert bundle.file_modes["orgs"] == "bulk"
        users, courses, enrollments = read_all(bundle)
        assert set(bundle.users.columns) <= set(USER_COLUMNS)
        assert set(bundle.courses.columns) <= set(COURSE_COLUMNS)
        assert set(bundle.enrollments.columns) <= set(ENROLLMENT_COLUMNS)
        assert bundle.skipped == Counter(
            {
                "users.csv:aide": 1,
                "users.csv:guardian": 1,
                "enrollments.csv:aide": 1,
            }
        )
        assert bundle.users.source_columns["external_id"] == "sourcedId"
        assert bundle.enrollments.source_columns["course_external_id"] == "classSourcedId"
    assert Counter(u.values["role"] for u in users) == {"student": 20, "instructor": 3, "admin": 1}
    admin = users[0]
    assert (admin.file, admin.line) == ("oneroster/users.csv", 2)
    assert admin.values == {
        "external_id": "adm-3001",
        "email": "margaret.white@lusd.example.org",
        "full_name": "Margaret White",
        "role": "admin",
        "is_active": "true",
    }
    disabled = next(u for u in users if u.values["external_id"] == "stu-1017")
    assert disabled.values["is_active"] == "false"  # enabledUser=false
    assert (
        next(u for u in users if u.values["external_id"] == "stu-1020").values["full_name"]
        == "Zoë Müller"
    )

    assert [c.values["external_id"] for c in courses] == [
        "cls-math7-p1",
        "cls-math7-p3",
        "cls-sci7-p2",
        "cls-ela7-p4",
    ]
    by_id = {c.values["external_id"]: c for c in courses}
    p3 = by_id["cls-math7-p3"]
    assert (p3.file, p3.line) == ("oneroster/classes.csv", 3)
    # Two teachers: the primary one (José García) is the instructor, not the first listed.
    assert p3.values["instructor_email"] == "jose.garcia@lusd.example.org"
    sci = by_id["cls-sci7-p2"].values
    assert sci == {
        "external_id": "cls-sci7-p2",
        "slug": "sci7-p2",
        "title": "Life Science 7: Period 2",
        "description": "Life Science 7 (SCI7), grade 07, Fall 2026, Lab B",
        "instructor_email": "oystein.larsen@lusd.example.org",
        "category": "Science",
        "is_published": "true",
    }
    ela = by_id["cls-ela7-p4"].values
    assert ela["slug"] == "english-7-period-4"  # no classCode: from the title
    assert ela["title"] == "English 7, Period 4"  # names its subject: no course prefix

    # 60 rows: 5 teacher and 1 aide enrollments are not imported. The 2 of a disabled student
    # (stu-1017, enabledUser=false) are: a delta that enables the user will not resend them.
    assert len(enrollments) == 54
    kept = [e for e in enrollments if e.values["user_external_id"] == "stu-1017"]
    assert [e.values["status"] for e in kept] == ["active", "active"]
    assert {e.values["status"] for e in enrollments} == {"active"}
    first = enrollments[0]
    assert (first.file, first.line) == ("oneroster/enrollments.csv", 8)
    assert first.values == {
        "user_external_id": "stu-1001",
        "course_external_id": "cls-math7-p1",
        "status": "active",
    }


@pytest.mark.parametrize("prefix", ["", "lusd-2026/"])
def test_zip_reads_like_the_folder(tmp_path: Path, prefix: str) -> None:
    archive = zipped(BULK, tmp_path / "bundle.zip", prefix)
    with read_bundle(BULK) as folder, read_bundle(archive) as zipped_bundle:
        assert zipped_bundle.sha256 == folder.sha256
        f_users, f_courses, f_enrollments = read_all(folder)
        z_users, z_courses, z_enrollments = read_all(zipped_bundle)
    assert [u.values for u in z_users] == [u.values for u in f_users]
    assert [c.values for c in z_courses] == [c.values for c in f_courses]
    assert [e.values for e in z_enrollments] == [e.values for e in f_enrollments]
    assert z_users[0].file == "bundle.zip:users.csv"
    assert z_courses[0].file == "bundle.zip:classes.csv"
    assert z_enrollments[0].line == f_enrollments[0].line


def test_sha256_changes_with_any_file(tmp_path: Path) -> None:
    folder = copy(tmp_path)
    with read_bundle(BULK) as before:
        edit(folder / "orgs.csv", "Lincoln Middle School", "Lincoln Middle")
        with read_bundle(folder) as after:
            assert after.sha256 != before.sha256


def test_delta_bundle() -> None:
    with read_bundle(DELTA) as bundle:
        assert bundle.mode == "delta"
        assert bundle.file_modes["classes"] == "absent"
        users, courses, enrollments = read_all(bundle)
    assert courses == []
    assert [(u.values["external_id"], u.values["is_active"]) for u in users] == [
        ("stu-1003", "true"),
        ("stu-1009", "false"),  # tobedeleted
        ("stu-1021", "true"),
    ]
    assert users[0].values["full_name"] == "Chloé Martin-Leroy"
    assert [(e.values["user_external_id"], e.values["status"]) for e in enrollments] == [
        ("stu-1009", "dropped"),
        ("stu-1009", "dropped"),
        ("stu-1009", "dropped"),
        ("stu-1021", "active"),
        ("stu-1021", "active"),
    ]


def test_tobedeleted_class_is_unpublished(tmp_path: Path) -> None:
    folder = copy(tmp_path)
    edit(folder / "classes.csv", "cls-sci7-p2,,,", "cls-sci7-p2,tobedeleted,2026-10-01,")
    with read_bundle(folder) as bundle:
        courses = {c.values["external_id"]: c.values for c in bundle.courses.rows}
    assert courses["cls-sci7-p2"]["is_published"] == "false"
    assert courses["cls-math7-p1"]["is_published"] == "true"


def test_class_without_teacher_has_no_instructor(tmp_path: Path) -> None:
    folder = copy(tmp_path)
    edit(
        folder / "enrollments.csv",
        "cls-sci7-p2,org-lincoln-ms,tch-2002,teacher",
        "cls-sci7-p2,org-lincoln-ms,tch-2002,proctor",
    )
    with read_bundle(folder) as bundle:
        courses = {c.values["external_id"]: c for c in bundle.courses.rows}
        assert bundle.skipped["enrollments.csv:proctor"] == 1
    assert courses["cls-sci7-p2"].values["instructor_email"] == ""
    assert courses["cls-sci7-p2"].line == 4


def test_missing_required_columns_name_file_and_column(tmp_path: Path) -> None:
    folder = copy(tmp_path)
    edit(folder / "users.csv", ",givenName,", ",firstName,")
    edit(folder / "classes.csv", "courseSourcedId", "course")
    problems = refused(folder)
    assert problems == [
        {
            "file": "oneroster/classes.csv",
            "line": 1,
            "column": "courseSourcedId",
            "value": None,
            "message": 'the required column "courseSourcedId" is missing from the header row',
        },
        {
            "file": "oneroster/users.csv",
            "line": 1,
            "column": "givenName",
            "value": None,
            "message": 'the required column "givenName" is missing from the header row',
        },
    ]


def test_unknown_optional_columns_are_ignored(tmp_path: Path) -> None:
    folder = copy(tmp_path)
    text = (folder / "users.csv").read_text(encoding="utf-8").splitlines()
    text = [line + (",metadata.shoeSize" if i == 0 else ",42") for i, line in enumerate(text)]
    (folder / "users.csv").write_text("\n".join(text) + "\n", encoding="utf-8")
    with read_bundle(folder) as bundle:
        assert len(list(bundle.users.rows)) == 24


def test_broken_references_are_problems_with_file_line_column(tmp_path: Path) -> None:
    folder = copy(tmp_path)
    edit(folder / "classes.csv", "Period 2,07,crs-sci7,", "Period 2,07,crs-sci8,")
    edit(
        folder / "enrollments.csv",
        "cls-math7-p3,org-lincoln-ms,stu-1014",
        "cls-math7-p3,org-lincoln-ms,stu-9999",
    )
    edit(folder / "enrollments.csv", "enr-5021,,,cls-math7-p3,", "enr-5021,,,cls-math9-p3,")
    problems = refused(folder)
    assert problems == [
        {
            "file": "oneroster/classes.csv",
            "line": 4,
            "column": "courseSourcedId",
            "value": "crs-sci8",
            "message": "no course with this sourcedId in courses.csv",
        },
        {
            "file": "oneroster/enrollments.csv",
            "line": 21,
            "column": "userSourcedId",
            "value": "stu-9999",
            "message": "no user with this sourcedId in users.csv",
        },
        {
            "file": "oneroster/enrollments.csv",
            "line": 22,
            "column": "classSourcedId",
            "value": "cls-math9-p3",
            "message": "no class with this sourcedId in classes.csv",
        },
    ]


def test_delta_references_may_point_outside_the_bundle() -> None:
    # stu-1009's classes are not in the delta bundle (they were sent in bulk earlier).
    with read_bundle(DELTA) as bundle:
        assert len(list(bundle.enrollments.rows)) == 5


def test_unknown_role_is_a_problem(tmp_path: Path) -> None:
    folder = copy(tmp_path)
    edit(folder / "users.csv", "org-lincoln-ms,teacher,olarsen", "org-lincoln-ms,techer,olarsen")
    [problem] = refused(folder)
    assert problem["file"] == "oneroster/users.csv"
    assert (problem["line"], problem["column"], problem["value"]) == (4, "role", "techer")


def test_manifest_problems(tmp_path: Path) -> None:
    folder = copy(tmp_path)
    (folder / "orgs.csv").unlink()
    [problem] = refused(folder)
    assert problem == {
        "file": "oneroster/manifest.csv",
        "line": 13,
        "column": "value",
        "value": "bulk",
        "message": "the manifest lists file.orgs as bulk, but orgs.csv is not in the bundle",
    }
    (folder / "manifest.csv").unlink()
    [problem] = refused(folder)
    assert problem["file"] == "oneroster/manifest.csv"
    assert "not a OneRoster 1.1 bundle" in str(problem["message"])


def test_oneroster_1_2_is_refused(tmp_path: Path) -> None:
    folder = copy(tmp_path)
    edit(folder / "manifest.csv", "oneroster.version,1.1", "oneroster.version,1.2")
    [problem] = refused(folder)
    assert (problem["line"], problem["value"]) == (3, "1.2")
    assert "OneRoster 1.1" in str(problem["message"])


def test_absent_files_are_ignored_even_when_present(tmp_path: Path) -> None:
    folder = copy(tmp_path)
    edit(folder / "manifest.csv", "file.orgs,bulk", "file.orgs,absent")
    (folder / "orgs.csv").write_text("garbage\n", encoding="utf-8")
    with read_bundle(folder) as bundle:
        assert bundle.file_modes["orgs"] == "absent"
        assert len(list(bundle.courses.rows)) == 4


def test_not_a_bundle(tmp_path: Path) -> None:
    stray = tmp_path / "users.csv"
    stray.write_text("a\n", encoding="utf-8")
    [problem] = refused(stray)
    assert "not a OneRoster bundle" in str(problem["message"])
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.csv", bytes(4 << 20))
    [problem] = refused(bomb)
    assert "zip bomb" in str(problem["message"])


def test_slugs_and_titles() -> None:
    assert slugify("MATH7-P1") == "math7-p1"
    assert slugify("Éducation physique / 5e") == "education-physique-5e"
    assert slugify("***") == "class"
    assert len(slugify("x" * 300)) <= 94
    maker = SlugMaker()
    assert [maker.make(t) for t in ["Art", "art", "Art 2", "ART"]] == [
        "art",
        "art-2",
        "art-2-2",
        "art-3",
    ]
    assert course_title("Algebra I - Period 1", "Algebra I") == "Algebra I - Period 1"
    assert course_title("Period 2", "Biology") == "Biology: Period 2"
    assert course_title("", "Biology") == "Biology"
    assert course_title("Bio - P3", "Biology") == "Biology: Bio - P3"
    assert course_title("Intro Biology lab", "Biology") == "Intro Biology lab"


def test_damaged_member_is_refused(tmp_path: Path) -> None:
    archive = zipped(BULK, tmp_path / "bundle.zip")
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as z:
        info = z.getinfo("users.csv")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(start + 50, start + 120):
        data[i] ^= 0x5A
    archive.write_bytes(bytes(data))
    [problem] = refused(archive)
    assert problem["file"] == "bundle.zip:users.csv"
    assert "damaged" in str(problem["message"])
