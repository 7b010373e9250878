"""lmsctl backup: create, list, verify, restore and prune backup archives (docs/backups.md)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from lmsctl.options import DryRunOpt, JsonOpt, group
from lmsctl.output import fail, print_json, reporting, say
from lmsctl.runtime import runtime

app = group("Backups: create, list, verify (restore drill), restore, prune.")

FileArg = Annotated[
    Path, typer.Argument(help="A backup archive (lms-backup-...tar).", show_default=False)
]


def _admin(ctx: typer.Context, what: str) -> None:
    """Administrators only; works on a site whose database is gone (the operator restoring)."""
    from lms_core.permissions import require_admin

    require_admin(runtime(ctx).schema_actor(), what)


@contextmanager
def _refusals() -> Iterator[None]:
    """A file that is not a backup, or a disk that refuses, as a clean refusal."""
    from lms_core.errors import Conflict

    try:
        yield
    except ValueError as exc:
        raise Conflict(str(exc), field="file") from exc
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise Conflict(f"{where}{exc.strerror or exc}", field="file") from exc


@contextmanager
def _worded() -> Iterator[None]:
    """lms_core says the next step in words; here it gets this command's options."""
    from lms_core.backups.restore import TargetNotEmpty
    from lms_core.backups.verify import NeedsServer
    from lms_core.errors import Conflict

    try:
        yield
    except TargetNotEmpty as exc:
        options = "--force" if exc.field == "to" else "--force, or --files-dir an empty folder"
        raise Conflict(
            f"{exc.message} (run it again with {options})", field=exc.field, value=exc.value
        ) from exc
    except NeedsServer as exc:
        raise Conflict(f"{exc.message} (pass --server URL)", field=exc.field) from exc


@contextmanager
def _bar(show: bool) -> Iterator[Callable[[str, int, int | None], None]]:
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), disable=not show, transient=True) as bar:
        task = bar.add_task("backing up", total=None)

        def tick(stage: str, done: int, total: int | None) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        yield tick


@app.command("create")
def create(
    ctx: typer.Context,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output-dir",
            file_okay=False,
            help="Folder for the archive (default: LMS_BACKUP_DIR, else var/backups).",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Write one archive of the database, the files folder and a manifest of checksums.

    The database is copied with SQLite's online backup API, or pg_dump -Fc; the archive is
    lms-backup-<UTC time>-<kind>.tar, readable by its owner only. Consistent while others write. PostgreSQL needs pg_dump of the server's major version
    or newer.

    Example: lmsctl backup create -o /srv/backups --json
    """
    from lms_core.backups.create import create_backup

    rt = runtime(ctx)
    with reporting(as_json=json_out), _refusals():
        _admin(ctx, "create a backup")
        with _bar(sys.stderr.isatty() and not json_out) as tick:
            made = create_backup(rt.get_settings(), out_dir=out_dir, progress=tick)
    if json_out:
        print_json(made.as_dict())
        return
    data = made.as_dict()
    say(
        f"wrote {made.path} ({data['tables']} tables, {data['rows']} rows, "
        f"{data['files']} files, {made.seconds:.1f} s)"
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    folder: Annotated[
        Path | None,
        typer.Argument(help="Folder to look in (default: the backup folder).", show_default=False),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """List the backup archives in a folder, newest first, with their manifest summary.

    Example: lmsctl backup list /srv/backups --json
    """
    from lms_core.backups.create import backup_dir
    from lms_core.backups.manifest import read_manifest, summary
    from lms_core.backups.retention import backups_in

    rows: list[dict[str, Any]] = []
    with reporting(as_json=json_out), _refusals():
        _admin(ctx, "list backups")
        where = backup_dir(runtime(ctx).get_settings(), folder)
        for backup in backups_in(where):
            row: dict[str, Any] = {"file": backup.path.name, "size": backup.path.stat().st_size}
            try:
                row |= summary(read_manifest(backup.path))
            except ValueError as exc:
                row["error"] = str(exc)
            rows.append(row)
    if json_out:
        print_json(rows)
        return
    for row in rows:
        kind = (row.get("database") or {}).get("kind", "?")
        detail = row.get("error") or (
            f"{kind}, {row['tables']} tables, {row['rows']} rows, {row['files']} files"
        )
        say(f"{row['file']}  {row['size']} bytes  {detail}")
    say(f"{len(rows)} backup(s) in {where}")


@app.command("verify")
def verify(
    ctx: typer.Context,
    file: FileArg,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            help="PostgreSQL server URL for the scratch database (default: the settings').",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Prove an archive restorable: checksums, then a restore into a scratch database.

    Every member's checksum is checked, then the database is restored into a temporary
    SQLite file, or lms_verify_<random> on the PostgreSQL server (dropped after), and
    compared table by table (row counts, checksums) with the manifest.

    Exit 0 with the report; 1 naming every mismatch.

    Example: lmsctl backup verify var/backups/lms-backup-20261206T023000Z-sqlite.tar
    """
    from lms_core.backups.verify import verify_backup

    with reporting(as_json=json_out), _refusals():
        _admin(ctx, "verify a backup")
        settings = runtime(ctx).get_settings()
        with _worded():
            report = verify_backup(file, server_url=server or settings.database_url)
    if json_out:
        print_json(report.as_dict())
        if not report.ok:
            raise typer.Exit(1)
        return
    say(f"{file}: {report.members_checked} members and {report.tables_checked} tables checked")
    if not report.ok:
        fail(
            [{"field": "file", "value": str(file), "message": p} for p in report.problems],
            as_json=False,
        )
    say("OK: the restored copy matches the manifest")


@app.command("restore")
def restore(
    ctx: typer.Context,
    file: FileArg,
    to: Annotated[
        str, typer.Option("--to", help="Database URL to restore into.", show_default=False)
    ],
    files_dir: Annotated[
        Path | None,
        typer.Option("--files-dir", file_okay=False, help="Default: the settings' files_dir."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a target that is not empty.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Restore an archive into a database and the files folder, then compare.

    The target is compared with the manifest table by table, as verify does.

    Refuses a target holding any table, or a files folder holding any file, without --force.
    A SQLite backup restores into SQLite, a PostgreSQL one into PostgreSQL.

    Example: lmsctl backup restore var/backups/lms-backup-20261206T023000Z-sqlite.tar --to sqlite:///var/restored.db
    """
    from lms_core.backups.restore import restore_backup

    with reporting(as_json=json_out), _refusals():
        _admin(ctx, "restore a backup")
        target_files = files_dir or Path(runtime(ctx).get_settings().files_dir)
        with _worded():
            done = restore_backup(file, to_url=to, files_dir=target_files, force=force)
    if json_out:
        print_json(done.as_dict())
        if not done.ok:
            raise typer.Exit(1)
        return
    say(f"restored {file} into {done.target}: {done.tables_checked} tables, {done.files} files")
    if not done.ok:
        fail(
            [{"field": "to", "value": done.target, "message": p} for p in done.problems],
            as_json=False,
        )
    say("OK: the target matches the manifest")


@app.command("prune")
def prune(
    ctx: typer.Context,
    keep_daily: Annotated[
        int, typer.Option("--keep-daily", min=0, help="Keep the newest backup of N days.")
    ] = 7,
    keep_weekly: Annotated[
        int, typer.Option("--keep-weekly", min=0, help="Keep the newest backup of M ISO weeks.")
    ] = 4,
    folder: Annotated[
        Path | None,
        typer.Option("--dir", file_okay=False, help="Default: the backup folder."),
    ] = None,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Delete old backups, keeping the newest of each of the last N days and M weeks.

    Days and weeks count those that have a backup; the newest backup is always kept, and
    files that are not backups are never touched.

    Example: lmsctl backup prune --keep-daily 7 --keep-weekly 4 --dry-run
    """
    from lms_core.backups.create import backup_dir
    from lms_core.backups.retention import prune as do_prune

    with reporting(as_json=json_out), _refusals():
        _admin(ctx, "prune backups")
        where = backup_dir(runtime(ctx).get_settings(), folder)
        plan = do_prune(where, keep_daily=keep_daily, keep_weekly=keep_weekly, dry_run=dry_run)
    data: dict[str, Any] = {
        "dry_run": dry_run,
        "kept": [b.path.name for b in plan.keep],
        "deleted": [b.path.name for b in plan.delete],
    }
    if json_out:
        print_json(data)
        return
    verb = "would delete" if dry_run else "deleted"
    for name in data["deleted"]:
        say(f"{verb} {name}")
    say(f"{len(plan.keep)} kept, {len(plan.delete)} {verb.split()[-1]}")
