"""Column headers people read: ``created_at`` is "Created", ``pdf_sha256`` is "PDF SHA-256".

Flask-Admin titles a column it has no label for (``Created At``, ``Pdf Sha256``) and names the
raw columns in the search box's placeholder (``question_text, title``). Each area lists its
columns once; :func:`human_labels` gives every name of those lists a label, the area's own
words winning. Only what is shown changes: CSV/JSON exports keep the seed's field names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: Words written otherwise than in lower case.
WORDS: Mapping[str, str] = {
    "id": "ID",
    "url": "URL",
    "pdf": "PDF",
    "sha256": "SHA-256",
    "email": "e-mail",
    "ms": "ms",
}
#: Names whose words alone say too little.
COMMON: Mapping[str, str] = {
    "run_at": "Next run",
    "lease_until": "Lease until",
    "deadline_at": "Deadline",
    "due_date": "Due",
    "max_attempts": "Attempts allowed",
    "points_possible": "Points possible",
    "order_index": "#",
    "actor_label": "Actor",
    "entity_type": "Entity",
    "entity_id": "Entity ID",
}


def human(name: str) -> str:
    """``created_at`` -> ``Created``, ``is_published`` -> ``Published``,
    ``duration_minutes`` -> ``Duration (minutes)``, ``course.slug`` -> ``Course slug``."""
    if name in COMMON:
        return COMMON[name]
    parts = [p for p in name.replace(".", "_").split("_") if p]
    if len(parts) > 1 and parts[0] == "is":
        parts = parts[1:]
    if len(parts) > 1 and parts[-1] == "at":
        parts = parts[:-1]
    unit = ""
    if len(parts) > 1 and parts[-1] in ("minutes", "percent", "percentage"):
        unit = " (minutes)" if parts[-1] == "minutes" else " (%)"
        parts = parts[:-1]
    text = " ".join(WORDS.get(p, p) for p in parts) + unit
    return text[:1].upper() + text[1:]


def human_labels(*names: Iterable[Any], own: Mapping[str, str] | None = None) -> dict[str, str]:
    """A label for every column name of ``names`` (lists of names, filters and attributes
    are skipped), ``own`` (the area's words) winning."""
    labels: dict[str, str] = {}
    for group in names:
        for name in group or ():
            key = name if isinstance(name, str) else getattr(name, "key", None)
            if isinstance(key, str):
                labels[key] = human(key)
    labels.update(own or {})
    return labels
