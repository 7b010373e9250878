"""The HTTP headers every web front door sends with a stored file (back office, JSON API).

An uploaded file is the uploader's content served from our origin: if a browser rendered it
inline, a page or script hidden in it (a polyglot the upload checks missed) would run with the
reader's session. So a file is always a download (``attachment``), its type is the one the
bytes were detected as (never the client's), the browser must not guess another
(``nosniff``), and should it render the file anyway, a sandboxing CSP runs no script and
loads nothing. One function, so no front door can forget a header.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from lms_core.assignments.file_types import ALLOWED, RISKY_EXTENSIONS, TEXT, FileType, extension
from lms_core.assignments.files import Download, sanitize_filename
from lms_core.models import StoredFile

#: What a file of no accepted type (a row from before a type was dropped) is sent as.
OPAQUE = "application/octet-stream"
_BY_MIME = {kind.mime: kind for kind in ALLOWED}
#: Bytes a quoted ``filename="..."`` keeps as they are (RFC 6266 ASCII fallback).
_NOT_PLAIN = re.compile(r"[^A-Za-z0-9 !#$%&'()*+,.;=@\[\]^_`{}~-]")


def _content_type(kind: FileType | None) -> str:
    if kind is None:
        return OPAQUE
    return f"{kind.mime}; charset=utf-8" if kind is TEXT else kind.mime


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact name in UTF-8 (RFC 6266/5987).

    Any name is safe: the path, control characters (CR/LF: no header injection) and leading
    dots go (:func:`sanitize_filename`), quotes and backslashes and non-ASCII become ``_`` in
    the fallback, and the UTF-8 form is percent-encoded.
    """
    name = sanitize_filename(filename)
    fallback = _NOT_PLAIN.sub("_", name)
    encoded = quote(name, safe="!#$&+^`|")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def download_headers(stored: FileType | StoredFile | Download, filename: str) -> dict[str, str]:
    """The headers for sending a stored file: call this, then send the bytes unchanged.

    ``stored`` is the file's detected type, its row or what :func:`files.download` returned;
    the type is looked up among the accepted ones, so a MIME type that is not one of ours
    (never the client's) goes out as ``application/octet-stream``. A name whose extension
    would open as a program or a page (a row from before those were refused) gets the type's
    own extension added; the extension is judged on the cleaned name, as it is sent.
    """
    kind = stored if isinstance(stored, FileType) else _BY_MIME.get(stored.mime_type)
    # The name as it is sent (``page.html.`` and ``page.htm\u200b`` arrive as .html/.htm).
    filename = sanitize_filename(filename)
    if extension(filename) in RISKY_EXTENSIONS:
        filename = f"{filename}.{kind.ext if kind is not None else 'bin'}"
    return {
        "Content-Type": _content_type(kind),
        "Content-Disposition": content_disposition(filename),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "Cache-Control": "private, no-store",
        "Cross-Origin-Resource-Policy": "same-origin",
        # Old Internet Explorer: offer "Save" only, never "Open" in the site's context.
        "X-Download-Options": "noopen",
    }
