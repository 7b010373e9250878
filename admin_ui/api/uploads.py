"""Reading an upload's ``multipart/form-data`` body once its caller is authorized.

Until then every API body is limited to the JSON size (:mod:`admin_ui.api.blueprint`), so
an anonymous client cannot make the server take in a submission's worth of megabytes. Here
the limit becomes a submission's (every file at the size limit), and each file part is
written to a temporary file (on disk past 512 KB) that refuses the byte past the per-file
limit and refuses a part past the most files a submission holds, so nothing oversize is
read whole, and nothing is read into memory before it has passed those checks.
"""

from __future__ import annotations

from tempfile import SpooledTemporaryFile
from typing import IO, Any

from flask import request
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.formparser import FormDataParser

from lms_core.assignments.fields import FILES_MAX
from lms_core.errors import ValidationError
from lms_core.settings import Settings

#: Past this, a part's bytes go to a file on disk rather than memory.
SPOOL_BYTES = 512 * 1024
#: The most parts beyond the files: the text (or an import's options), and a few a client may add.
EXTRA_PARTS = 10


def max_upload_body(settings: Settings) -> int:
    """An upload's largest body: the most files a submission holds, each at the size limit
    (each file is then checked against that limit, with a message)."""
    return (settings.max_upload_mb * FILES_MAX + 1) * 1024 * 1024


class _CappedFile(SpooledTemporaryFile):  # type: ignore[type-arg]
    """A part's temporary file that refuses the byte past the per-file limit."""

    def __init__(self, limit_mb: int, name: str, setting: str) -> None:
        super().__init__(max_size=SPOOL_BYTES, mode="w+b")
        self._limit_mb = limit_mb
        self._setting = setting
        self._name = name
        self._limit = limit_mb * 1024 * 1024
        self._written = 0

    def write(self, data: Any) -> int:
        self._written += len(data)
        if self._written > self._limit:
            raise ValidationError(
                f"{self._name} is more than the {self._limit_mb} MB allowed ({self._setting})",
                field="file",
                value=self._name,
            )
        return int(super().write(data))


def read_upload_form(
    settings: Settings,
    *,
    limit_mb: int | None = None,
    max_files: int = FILES_MAX,
    setting: str = "LMS_MAX_UPLOAD_MB",
) -> tuple[MultiDict[str, str], MultiDict[str, FileStorage]]:
    """This request's form fields and files, read under an upload's limits: a submission's
    by default; an import passes its own (``limit_mb`` a file, ``max_files``, and the
    ``setting`` or limit a refusal names)."""
    parts = 0
    per_file = settings.max_upload_mb if limit_mb is None else limit_mb

    def stream_factory(
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        nonlocal parts
        parts += 1
        if parts > max_files:
            raise ValidationError(
                f"at most {max_files} files per {'submission' if limit_mb is None else 'import'}",
                field="file",
                value=parts,
            )
        return _CappedFile(per_file, filename or "upload", setting)

    request.max_content_length = (
        max_upload_body(settings) if limit_mb is None else (limit_mb * max_files + 1) * 1024 * 1024
    )
    parser = FormDataParser(
        stream_factory,
        max_form_memory_size=request.max_form_memory_size,
        max_content_length=request.max_content_length,
        max_form_parts=max_files + EXTRA_PARTS,
        cls=MultiDict,
    )
    _stream, form, files = parser.parse(
        request.stream, request.mimetype, request.content_length, request.mimetype_params
    )
    return form, files
