"""The first pass over a OneRoster bundle: its manifest, and what courses need.

:func:`read_catalog` checks the manifest
and every file's header, then reads orgs, terms, courses and classes into memory and streams
users and enrollments once to learn roles, teacher e-mails and each class's teachers, and to
check that references resolve. The mapped tables (lms_core.imports.oneroster.bundle) stream again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from lms_core.errors import FileProblem, FileRefused
from lms_core.formats.sources import SourceRow, Table, open_csv_stream
from lms_core.imports.oneroster import spec
from lms_core.imports.oneroster.files import BundleFiles

#: Problems listed per file before the rest are summarised in one line.
MAX_PROBLEMS = 200
_ALL_ROLES = frozenset(
    {"administrator", "aide", "guardian", "parent", "proctor", "relative", "student", "teacher"}
)
_ENROLLMENT_ROLES = frozenset({"administrator", "proctor", "student", "teacher", "aide"})


@dataclass(slots=True)
class _Class:
    line: int
    sourced_id: str
    title: str
    code: str
    course: str
    subjects: str
    grades: str
    location: str
    terms: list[str]
    deleted: bool


@dataclass(slots=True)
class _Course:
    title: str
    code: str
    subjects: str


@dataclass
class Catalog:
    """What the first pass learnt; small enough to hold for a district's bundle."""

    modes: dict[str, str] = field(default_factory=dict)
    user_roles: dict[str, str] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    #: Users this bundle disables (enabledUser false, or status tobedeleted).
    inactive: set[str] = field(default_factory=set)
    orgs: set[str] = field(default_factory=set)
    terms: dict[str, str] = field(default_factory=dict)
    courses: dict[str, _Course] = field(default_factory=dict)
    classes: list[_Class] = field(default_factory=list)
    #: class sourcedId -> [(0 if primary else 1, line, teacher sourcedId)]
    teachers: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)
    problems: list[FileProblem] = field(default_factory=list)
    _per_file: Counter[str] = field(default_factory=Counter)

    def problem(self, row: SourceRow, column: str, message: str) -> None:
        self._per_file[row.file] += 1
        if self._per_file[row.file] <= MAX_PROBLEMS:
            value = row.values.get(column)
            self.problems.append(
                FileProblem(message, file=row.file, line=row.line, column=column, value=value)
            )

    def bulk(self, name: str) -> bool:
        return self.modes.get(name) == "bulk"

    def course_rows(self, display: str) -> Iterator[SourceRow]:
        """One course row per class, in classes.csv order."""
        slugs = spec.SlugMaker()
        for cls in self.classes:
            course = self.courses.get(cls.course, _Course("", "", ""))
            teachers = sorted(self.teachers.get(cls.sourced_id, []))
            email = self.emails.get(teachers[0][2], "") if teachers else ""
            subjects = _first(cls.subjects) or _first(course.subjects) or course.code
            yield SourceRow(
                file=display,
                line=cls.line,
                values={
                    "external_id": cls.sourced_id,
                    "slug": slugs.make(cls.code or cls.title),
                    "title": spec.course_title(cls.title, course.title),
                    "description": self._description(cls, course),
                    "instructor_email": email,
                    "category": subjects[:100],
                    "is_published": "false" if cls.deleted else "true",
                },
            )

    def _description(self, cls: _Class, course: _Course) -> str:
        parts = []
        if course.title:
            parts.append(f"{course.title} ({course.code})" if course.code else course.title)
        if cls.grades:
            parts.append(f"grade {cls.grades}")
        parts.extend(self.terms[t] for t in cls.terms if self.terms.get(t))
        if cls.location:
            parts.append(cls.location)
        return ", ".join(parts)


def _first(items: str) -> str:
    return next((s.strip() for s in items.split(",") if s.strip()), "")


def _deleted(values: dict[str, str]) -> bool:
    return values.get("status", "").strip().lower() == spec.TO_BE_DELETED


def read_catalog(files: BundleFiles) -> Catalog:
    """Check manifest and headers, read what courses need, check references; or refuse."""
    catalog = Catalog()
    _read_manifest(files, catalog)
    tables: dict[str, Table] = {}
    refused: list[FileProblem] = []
    try:
        for name in spec.FILES:
            if not files.has(name):
                continue
            try:
                tables[name] = open_csv_stream(
                    files.opener(name),
                    display=files.display(name),
                    required=spec.REQUIRED[name],
                    known=spec.OPTIONAL[name],
                )
            except FileRefused as exc:
                refused.extend(e for e in exc.errors if isinstance(e, FileProblem))
        if refused:
            raise FileRefused(refused)
        readers = {
            "orgs": _orgs,
            "academicSessions": _terms,
            "courses": _courses,
            "classes": _classes,
            "users": _users,
            "enrollments": _enrollments,
        }
        for name, table in tables.items():
            readers[name](table, catalog)
    finally:
        for table in tables.values():
            table.close()
    for file, count in catalog._per_file.items():
        if count > MAX_PROBLEMS:
            catalog.problems.append(
                FileProblem(f"and {count - MAX_PROBLEMS} more problems like these", file=file)
            )
    if catalog.problems:
        raise FileRefused(catalog.problems)
    return catalog


def _read_manifest(files: BundleFiles, catalog: Catalog) -> None:
    display = files.display("manifest")
    if not files.has("manifest"):
        raise FileRefused(
            [
                FileProblem(
                    "there is no manifest.csv: this is not a OneRoster 1.1 bundle (a zip or a "
                    "folder of OneRoster CSV files with their manifest.csv)",
                    file=display,
                )
            ]
        )
    props: dict[str, tuple[str, int]] = {}
    with open_csv_stream(
        files.opener("manifest"), display=display, required=spec.REQUIRED["manifest"]
    ) as manifest:
        for row in manifest.rows:
            props[row.values["propertyName"].strip()] = (row.values["value"].strip(), row.line)
    problems: list[FileProblem] = []
    version, line = props.get("oneroster.version", ("1.1", 0))
    if version not in ("1.0", "1.1"):
        problems.append(
            FileProblem(
                f"this bundle is OneRoster {version}; export it as OneRoster 1.1 CSV",
                file=display,
                line=line,
                column="value",
                value=version,
            )
        )
    for name in spec.FILES:
        given, line = props.get(f"file.{name}", ("", 0))
        mode = given.lower() or ("bulk" if files.has(name) else "absent")
        if mode not in ("bulk", "delta", "absent"):
            problems.append(
                FileProblem(
                    f'file.{name} must be "bulk", "delta" or "absent"',
                    file=display,
                    line=line,
                    column="value",
                    value=given,
                )
            )
        elif mode != "absent" and not files.has(name):
            problems.append(
                FileProblem(
                    f"the manifest lists file.{name} as {mode}, but {name}.csv is not in the "
                    "bundle",
                    file=display,
                    line=line or None,
                    column="value",
                    value=given,
                )
            )
        elif mode == "absent":
            files.ignore(name)
        catalog.modes[name] = mode
    if problems:
        raise FileRefused(problems)


def _orgs(table: Table, catalog: Catalog) -> None:
    for row in table.rows:
        catalog.orgs.add(row.values["sourcedId"].strip())


def _terms(table: Table, catalog: Catalog) -> None:
    for row in table.rows:
        catalog.terms[row.values["sourcedId"].strip()] = row.values["title"].strip()


def _courses(table: Table, catalog: Catalog) -> None:
    for row in table.rows:
        v = row.values
        if catalog.bulk("orgs") and v["orgSourcedId"].strip() not in catalog.orgs:
            catalog.problem(row, "orgSourcedId", "no org with this sourcedId in orgs.csv")
        catalog.courses[v["sourcedId"].strip()] = _Course(
            v["title"].strip(), v.get("courseCode", "").strip(), v.get("subjects", "")
        )


def _classes(table: Table, catalog: Catalog) -> None:
    for row in table.rows:
        v = row.values
        course = v["courseSourcedId"].strip()
        if catalog.bulk("courses") and course not in catalog.courses:
            catalog.problem(row, "courseSourcedId", "no course with this sourcedId in courses.csv")
        if catalog.bulk("orgs") and v["schoolSourcedId"].strip() not in catalog.orgs:
            catalog.problem(row, "schoolSourcedId", "no org with this sourcedId in orgs.csv")
        terms = [t.strip() for t in v["termSourcedIds"].split(",") if t.strip()]
        if catalog.bulk("academicSessions") and any(t not in catalog.terms for t in terms):
            catalog.problem(
                row,
                "termSourcedIds",
                "no academic session with this sourcedId in academicSessions.csv",
            )
        catalog.classes.append(
            _Class(
                line=row.line,
                sourced_id=v["sourcedId"].strip(),
                title=v["title"].strip(),
                code=v.get("classCode", "").strip(),
                course=course,
                subjects=v.get("subjects", ""),
                grades=v.get("grades", "").strip(),
                location=v.get("location", "").strip(),
                terms=terms,
                deleted=_deleted(v),
            )
        )


def _users(table: Table, catalog: Catalog) -> None:
    base = table.file.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    for row in table.rows:
        v = row.values
        role = v["role"].strip().lower()
        sourced_id = v["sourcedId"].strip()
        catalog.user_roles[sourced_id] = role  # known even with a bad role: no knock-on errors
        if not spec.is_true(v["enabledUser"]) or _deleted(v):
            catalog.inactive.add(sourced_id)
        if role not in _ALL_ROLES:
            catalog.problem(
                row,
                "role",
                "unknown OneRoster role: use student, teacher, administrator, aide, guardian, "
                "parent, proctor or relative",
            )
            continue
        if role not in spec.ROLES:
            catalog.skipped[f"{base}:{role}"] += 1
        elif role != "student":
            email = v.get("email", "").strip() or (v["username"] if "@" in v["username"] else "")
            catalog.emails[sourced_id] = email.strip()


def _enrollments(table: Table, catalog: Catalog) -> None:
    base = table.file.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    classes = {c.sourced_id for c in catalog.classes}
    for row in table.rows:
        v = row.values
        role = v["role"].strip().lower()
        cls, user = v["classSourcedId"].strip(), v["userSourcedId"].strip()
        broken = False
        if role not in _ENROLLMENT_ROLES:
            catalog.problem(row, "role", "unknown enrollment role: use student or teacher")
            broken = True
        if catalog.bulk("classes") and cls not in classes:
            catalog.problem(row, "classSourcedId", "no class with this sourcedId in classes.csv")
            broken = True
        if catalog.bulk("users") and user not in catalog.user_roles:
            catalog.problem(row, "userSourcedId", "no user with this sourcedId in users.csv")
            broken = True
        if broken:
            continue
        if catalog.user_roles.get(user, "student") not in spec.ROLES:
            catalog.skipped[f"{base}:{role}"] += 1
        elif role == "teacher":
            if not _deleted(v):
                primary = 0 if spec.is_true(v.get("primary", "false") or "false") else 1
                catalog.teachers.setdefault(cls, []).append((primary, row.line, user))
        elif role != "student":
            catalog.skipped[f"{base}:{role}"] += 1
