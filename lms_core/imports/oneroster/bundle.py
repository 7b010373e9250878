"""Read a OneRoster 1.1 CSV bundle (a zip, or a folder with manifest.csv) as our three tables.

A student information system exports orgs, terms, courses, classes, users and enrollments;
the LMS wants users, courses and enrollments in its own columns (lms_core.imports.columns).
:func:`read_bundle` maps them (the table is in docs/import-formats.md):

- users: sourcedId -> external_id; givenName + familyName -> full_name; student/teacher/
  administrator -> student/instructor/admin (aides, guardians... skipped and counted);
  enabledUser false or status tobedeleted -> is_active false.
- courses: one per *class* (a course offering); its first teacher enrollment (primary first)
  gives instructor_email; the OneRoster course gives description and category.
- enrollments: student enrollments only (teachers become instructors); tobedeleted -> dropped;
  a disabled user's enrollments are kept (the user cannot sign in) and counted, so that a
  delta enabling the user again finds them (a delta does not resend enrollments).

Every row keeps the OneRoster file and line it came from ("bundle.zip:users.csv", 7), and
each table's ``source_columns`` names the OneRoster column, so errors point into the bundle.
Users, courses and classes are read into memory (only the fields needed: ~100 bytes a user)
because courses need teacher e-mails; the mapped users and enrollments tables stream.

Refused (FileRefused) as a whole: no manifest, a listed file missing, a required column
missing (all files checked, every problem listed), and references that do not resolve
(a class's course, an enrollment's class or user) in bulk files. In delta files a reference
may point at a record sent earlier, so it is left to the database check of the next stage.
"""

from __future__ import annotations

import zipfile
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lms_core.errors import FileProblem, FileRefused
from lms_core.formats.archive import DEFAULT_LIMITS, ArchiveLimits, check_archive, is_zip
from lms_core.formats.sources import SourceRow, Table, open_csv_stream
from lms_core.formats.table import Closing
from lms_core.imports.oneroster import spec
from lms_core.imports.oneroster.files import BundleFiles
from lms_core.imports.oneroster.read import Catalog, read_catalog


@dataclass
class Bundle(Closing):
    """A OneRoster bundle mapped to our users, courses and enrollments tables."""

    file: str
    #: "delta" when any file is sent as delta, else "bulk".
    mode: str
    #: file.<name> of the manifest: "bulk", "delta" or "absent", per OneRoster file.
    file_modes: dict[str, str]
    #: Over every file of the bundle (name and bytes, in name order): the same for a folder
    #: and for the zip of it.
    sha256: str
    users: Table
    courses: Table
    enrollments: Table
    #: What was not imported, by "file:role" (e.g. "users.csv:guardian": 3).
    skipped: Counter[str] = field(default_factory=Counter)
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def close(self) -> None:
        for table in (self.users, self.courses, self.enrollments):
            table.close()
        super().close()


def read_bundle(
    path: Path, *, display_name: str | None = None, limits: ArchiveLimits = DEFAULT_LIMITS
) -> Bundle:
    """Open a OneRoster 1.1 bundle (zip or folder) and map it; see the module docstring."""
    display = display_name or path.name
    files = _open_files(path, display, limits)
    try:
        catalog = read_catalog(files)
        bundle = Bundle(
            file=display,
            mode="delta" if "delta" in catalog.modes.values() else "bulk",
            file_modes=dict(catalog.modes),
            sha256=files.sha256(),
            users=_users_table(files, catalog),
            courses=_courses_table(files, catalog),
            enrollments=_enrollments_table(files, catalog),
            skipped=catalog.skipped,
        )
    except BaseException:
        files.close()
        raise
    bundle._closers.append(files.close)
    return bundle


def _open_files(path: Path, display: str, limits: ArchiveLimits) -> BundleFiles:
    try:
        if path.is_dir():
            return BundleFiles.folder(path, display)
        if path.is_file() and is_zip(path):
            check_archive(path, display=display, limits=limits)
            return BundleFiles.zipped(zipfile.ZipFile(path), display)
    except OSError as exc:
        raise _refused(display, f"the bundle cannot be read ({exc.strerror or exc})") from None
    raise _refused(
        display, "not a OneRoster bundle: give a .zip file or a folder holding manifest.csv"
    )


def _mapped_table(
    files: BundleFiles,
    name: str,
    source: dict[str, str],
    rows: Callable[[Table], Iterator[SourceRow]],
) -> Table:
    """A table of our columns whose rows stream from the OneRoster file ``name``."""
    display = files.display(name)
    table = Table(file=display, columns=list(source), rows=iter(()), sha256=files.digest(name))
    table.source_columns = dict(source)
    if not files.has(name):
        return table

    def generate() -> Generator[SourceRow, None, None]:
        with open_csv_stream(
            files.opener(name),
            display=display,
            required=spec.REQUIRED[name],
            known=spec.OPTIONAL[name],
        ) as raw:
            yield from rows(raw)

    stream = generate()
    table.rows = stream
    table._closers.append(stream.close)
    return table


def _users_table(files: BundleFiles, catalog: Catalog) -> Table:
    def rows(raw: Table) -> Iterator[SourceRow]:
        for row in raw.rows:
            v = row.values
            role = spec.ROLES.get(v["role"].strip().lower())
            if role is None:
                continue  # counted in catalog.skipped on the first pass
            deleted = v.get("status", "").strip().lower() == spec.TO_BE_DELETED
            active = spec.is_true(v["enabledUser"]) and not deleted
            email = v.get("email", "").strip()
            if not email and "@" in v["username"]:
                email = v["username"].strip()
            yield SourceRow(
                file=row.file,
                line=row.line,
                values={
                    "external_id": v["sourcedId"],
                    "email": email,
                    "full_name": spec.full_name(v["givenName"], v["familyName"]),
                    "role": role,
                    "is_active": "true" if active else "false",
                },
            )

    return _mapped_table(files, "users", spec.USER_SOURCE, rows)


def _courses_table(files: BundleFiles, catalog: Catalog) -> Table:
    display = files.display("classes")
    table = Table(
        file=display,
        columns=list(spec.COURSE_SOURCE),
        rows=iter(catalog.course_rows(display)),
        sha256=files.digest("classes"),
    )
    table.source_columns = dict(spec.COURSE_SOURCE)
    return table


def _enrollments_table(files: BundleFiles, catalog: Catalog) -> Table:
    def rows(raw: Table) -> Iterator[SourceRow]:
        for row in raw.rows:
            v = row.values
            if v["role"].strip().lower() != "student":
                continue
            user = v["userSourcedId"].strip()
            if catalog.user_roles.get(user, "student") not in spec.ROLES:
                continue  # an enrollment of a skipped user (counted on the first pass)
            # A disabled user's enrollment is kept (and counted when planned): a later delta
            # that enables the user again does not send the enrollments again.
            deleted = v.get("status", "").strip().lower() == spec.TO_BE_DELETED
            yield SourceRow(
                file=row.file,
                line=row.line,
                values={
                    "user_external_id": user,
                    "course_external_id": v["classSourcedId"].strip(),
                    "status": "dropped" if deleted else "active",
                },
            )

    return _mapped_table(files, "enrollments", spec.ENROLLMENT_SOURCE, rows)


def _refused(display: str, message: str) -> FileRefused:
    return FileRefused([FileProblem(message, file=display)])
