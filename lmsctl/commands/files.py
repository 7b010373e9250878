"""lmsctl files: upload, list, delete, download."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lmsctl.options import JsonlOpt, JsonOpt, group
from lmsctl.output import emit_rows, listing_format, report_change, reporting
from lmsctl.runtime import acting, runtime

app = group("Uploaded files: course material and submission attachments.")

FileIdArg = Annotated[int, typer.Argument(help="The file's id (see `files list`).", min=1)]
CourseOpt = Annotated[
    str | None, typer.Option("--course", help="The course's slug (course material).")
]
LIST_COLUMNS = ("id", "original_filename", "mime_type", "file_size", "course", "uploaded_by")


@app.command("upload")
def upload(
    ctx: typer.Context,
    path: Annotated[
        Path,
        typer.Argument(help="The file to upload.", exists=True, dir_okay=False, show_default=False),
    ],
    course: CourseOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Upload a file; its type is decided by its content, and the size is limited.

    Accepted: PDF, PNG, JPEG, GIF, WebP, DOCX, XLSX, PPTX, ODT and plain UTF-8 text, up to
    LMS_MAX_UPLOAD_MB (25 MB by default). With --course the file is course material, which the
    course's learners may download.

    Example: lmsctl files upload syllabus.pdf --course intro-to-python
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.assignments.files import file_row, read_upload, upload_file

        settings = rt.get_settings()
        received = read_upload(path, settings)
    with acting(ctx, as_json=json_out) as (session, actor):
        row = file_row(
            session,
            upload_file(
                session, actor=actor, settings=settings, upload=received, course_slug=course
            ),
        )
    report_change(
        f"uploaded {row['original_filename']} as file {row['id']} "
        f"({row['mime_type']}, {row['file_size']} bytes)",
        row,
        as_json=json_out,
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    course: CourseOpt = None,
    jsonl_out: JsonlOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """List the files you may download (admins: every file).

    Example: lmsctl files list --course intro-to-python --json
    """
    from lms_core.assignments.files import file_row, files_query
    from lms_core.pagination import iter_rows

    for_scripts = listing_format(json_out, jsonl_out)
    with acting(ctx, as_json=for_scripts, write=False) as (session, actor):
        stmt = files_query(session, actor=actor, course_slug=course)
        emit_rows(
            (file_row(session, f) for f in iter_rows(session, stmt)),
            LIST_COLUMNS,
            as_json=json_out,
            jsonl=jsonl_out,
        )


@app.command("delete")
def delete(ctx: typer.Context, file_id: FileIdArg, json_out: JsonOpt = False) -> None:
    """Delete a file; its content goes once no other file shares it.

    Example: lmsctl files delete 42
    """
    rt = runtime(ctx)
    from lms_core.assignments.files import delete_file

    with acting(ctx, as_json=json_out) as (session, actor):
        stored = delete_file(session, actor=actor, settings=rt.get_settings(), file_id=file_id)
        name = stored.original_filename
    report_change(
        f"deleted file {file_id} ({name})",
        {"id": file_id, "original_filename": name, "deleted": True},
        as_json=json_out,
    )


@app.command("download")
def download(
    ctx: typer.Context,
    file_id: FileIdArg,
    output: Annotated[
        Path,
        typer.Option(
            "-o", "--output", help="Where to write it.", dir_okay=False, show_default=False
        ),
    ],
    json_out: JsonOpt = False,
) -> None:
    """Copy a file you may download to -o FILE.

    Example: lmsctl --as learner@example.org files download 42 -o syllabus.pdf
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        import shutil

        from lms_core.assignments.files import download as download_service
        from lms_core.formats.atomic import atomic_binary

        with rt.unit_of_work(write=False) as (session, actor):
            got = download_service(
                session, actor=actor, settings=rt.get_settings(), file_id=file_id
            )
        with open(got.path, "rb") as source, atomic_binary(output) as target:
            shutil.copyfileobj(source, target)
    report_change(
        f"wrote {output} ({got.filename}, {got.size} bytes)",
        {
            "id": file_id,
            "original_filename": got.filename,
            "mime_type": got.mime_type,
            "size": got.size,
            "output": str(output),
        },
        as_json=json_out,
    )
