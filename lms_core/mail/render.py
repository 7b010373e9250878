"""E-mail templates: a subject, a plain-text body and an HTML body per kind of mail.

Each template ``<name>`` is three files under ``templates/``: ``<name>.subject.txt``,
``<name>.txt`` and ``<name>.html`` (which extends ``_base.html``). HTML is autoescaped (a
learner called ``<script>`` is shown, not run, by a mail client); text and subject are not,
so they read as written. A context that lacks a variable a template uses is a bug, and
raises (``StrictUndefined``) instead of mailing a blank.

The environment is built on first use, never at import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATE_DIR = Path(__file__).parent / "templates"

#: Every template and the context it needs besides ``base_url``, ``site_name`` and ``email``.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "invitation": ("full_name", "link", "valid_days"),
    "password_reset": ("full_name", "link", "valid_hours"),
    "email_verification": ("full_name", "link", "valid_days"),
    "enrollment": ("full_name", "course_title", "course_link"),
    "course_completion": ("full_name", "course_title"),
    "certificate_issued": ("full_name", "course_title", "number", "verify_link"),
    "test": (),
    "import_result": ("full_name", "file_name", "outcome", "summary"),
    "scheduled_report": ("full_name", "schedule", "report", "file_name", "rows", "slot"),
}

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The template environment, built (and Jinja2 imported) on the first mail."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
    )


def site_host(base_url: str) -> str:
    """The host name of the site's public address (``lms.example.org``)."""
    return urlsplit(base_url).hostname or "localhost"


def render(template: str, context: dict[str, Any], *, base_url: str) -> Rendered:
    """``template`` rendered with ``context`` (plus ``base_url`` and ``site_name``).

    The subject is one line (any run of white space, a line break in a course title too,
    becomes one space): a header can carry no line break.
    """
    if template not in TEMPLATES:
        raise ValueError(f"unknown mail template {template!r}; known: {', '.join(TEMPLATES)}")
    env = environment()
    base = base_url.rstrip("/")
    values = {"base_url": base, "site_name": site_host(base), **context}
    subject = _SPACES.sub(" ", env.get_template(f"{template}.subject.txt").render(values)).strip()
    values["subject"] = subject
    return Rendered(
        subject=subject,
        text=env.get_template(f"{template}.txt").render(values),
        html=env.get_template(f"{template}.html").render(values),
    )


# --- Links, built in one place: the web front door serves these paths. ---------------------


def set_password_link(base_url: str, raw_token: str) -> str:
    return f"{base_url.rstrip('/')}/set-password/{raw_token}"


def reset_password_link(base_url: str, raw_token: str) -> str:
    return f"{base_url.rstrip('/')}/reset-password/{raw_token}"


def verify_email_link(base_url: str, raw_token: str) -> str:
    return f"{base_url.rstrip('/')}/verify-email/{raw_token}"


def certificate_link(base_url: str, number: str) -> str:
    return f"{base_url.rstrip('/')}/verify/{number}"
