"""What OneRoster 1.1 CSV files must hold, and how their values map onto ours.

From the IMS OneRoster 1.1 CSV binding: each file's required columns (a file lacking one is
refused, naming the file and the column), the optional columns we read, and the role and
status vocabularies. Kept apart from the reader so the mapping can be read (and documented,
docs/import-formats.md) in one place.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

#: Manifest keys (``file.<name>``) of the files we read, in the order we read them.
FILES: Final = ("orgs", "academicSessions", "courses", "classes", "users", "enrollments")

REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "manifest": ("propertyName", "value"),
    "orgs": ("sourcedId", "name", "type"),
    "academicSessions": ("sourcedId", "title", "type", "startDate", "endDate", "schoolYear"),
    "courses": ("sourcedId", "title", "orgSourcedId"),
    "classes": (
        "sourcedId",
        "title",
        "courseSourcedId",
        "classType",
        "schoolSourcedId",
        "termSourcedIds",
    ),
    "users": (
        "sourcedId",
        "enabledUser",
        "orgSourcedIds",
        "role",
        "username",
        "givenName",
        "familyName",
    ),
    "enrollments": ("sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"),
}

#: Optional columns we use (others are ignored). ``status`` is blank in bulk files and
#: ``active``/``tobedeleted`` in delta files.
OPTIONAL: Final[dict[str, tuple[str, ...]]] = {
    "manifest": (),
    "orgs": ("status", "parentSourcedId"),
    "academicSessions": ("status",),
    "courses": ("status", "courseCode", "grades", "subjects"),
    "classes": ("status", "classCode", "grades", "subjects", "location", "periods"),
    "users": ("status", "email"),
    "enrollments": ("status", "primary"),
}

#: OneRoster user roles we import -> our roles. Others (aide, guardian, parent, relative,
#: proctor) have no account in the LMS and are skipped (counted in ``Bundle.skipped``).
ROLES: Final = {"student": "student", "teacher": "instructor", "administrator": "admin"}

#: Our column -> the OneRoster column it comes from, for error messages.
USER_SOURCE: Final = {
    "external_id": "sourcedId",
    "email": "email",
    "full_name": "givenName",
    "role": "role",
    "is_active": "enabledUser",
}
COURSE_SOURCE: Final = {
    "external_id": "sourcedId",
    "slug": "classCode",
    "title": "title",
    "description": "courseSourcedId",
    # A class's instructor is its teacher enrollment: a missing one is reported on the
    # class's own row, at its sourcedId.
    "instructor_email": "sourcedId",
    "category": "subjects",
    "is_published": "status",
}
ENROLLMENT_SOURCE: Final = {
    "user_external_id": "userSourcedId",
    "course_external_id": "classSourcedId",
    "status": "status",
}

TO_BE_DELETED: Final = "tobedeleted"
MAX_SLUG: Final = 100
MAX_TITLE: Final = 200


def is_true(value: str) -> bool:
    """OneRoster booleans are "true"/"false"; be lenient with case and 1/0, yes/no."""
    return value.strip().lower() not in ("false", "0", "no", "n", "f")


def slugify(text: str) -> str:
    """ "MATH7-P1" -> "math7-p1", "Éducation physique" -> "education-physique"."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[: MAX_SLUG - 6].strip("-") or "class"


class SlugMaker:
    """Unique slugs in file order: the second "math7" becomes "math7-2" (stable for a file)."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def make(self, text: str) -> str:
        base = slugify(text)
        slug, n = base, 1
        while slug in self._used:
            n += 1
            slug = f"{base}-{n}"
        self._used.add(slug)
        return slug


def course_title(class_title: str, course_title: str) -> str:
    """The class title, prefixed with the course's when the class title alone is vague.

    "Mathematics 7 - Period 1" and "English 7, Period 4" (of "English Language Arts 7")
    stay as they are, since they name the subject; "Period 2" of "Life Science 7" becomes
    "Life Science 7: Period 2".
    """
    cls, crs = class_title.strip(), course_title.strip()
    if not crs or crs.casefold() in cls.casefold() or _words(cls) & _words(crs):
        title = cls or crs
    elif not cls:
        title = crs
    else:
        title = f"{crs}: {cls}"
    return title[:MAX_TITLE]


def _words(text: str) -> set[str]:
    """The words of a title that can name a subject (not "of", "7", "P1")."""
    return {w for w in re.findall(r"[^\W\d_]{4,}", text.casefold())}


def full_name(given: str, family: str) -> str:
    """givenName + familyName (the middle name is left out, as rosters and report cards do)."""
    return " ".join(part.strip() for part in (given, family) if part.strip())
