"""The PostgreSQL record-hash checksum (``pg-record-hash-v4``) sees what the first form (v3)
missed, a value swapped between two rows and a numeric's scale, and v3 archives still
verify as written. PostgreSQL only: SQLite backups checksum pages (test_sqlite_pages.py)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from lms_core.backups import manifest as mf
from lms_core.backups.manifest import MANIFEST_NAME, read_manifest
from tests.backups.conftest import make_site
from tests.cli.helpers import ok_json


def test_swapped_values_and_numeric_scale_change_the_checksum(scratch_url: str) -> None:
    if make_url(scratch_url).get_backend_name() != "postgresql":
        assert mf.fast_method("sqlite") == mf.SQLITE_PAGES  # no record hash there
        return
    engine = create_engine(scratch_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("CREATE TABLE grades (id int PRIMARY KEY, user_id int, score numeric)")
            )
            conn.execute(
                text("INSERT INTO grades SELECT g, g, 1.10 FROM generate_series(1, 1000) g")
            )
            assert mf.fast_method("postgresql") == mf.PG_RECORD_HASH == "pg-record-hash-v4"
            before = mf.table_stats_by(conn, mf.PG_RECORD_HASH)["grades"]
            v3_before = mf.table_stats_by(conn, mf.PG_RECORD_HASH_V3)["grades"]
            v3_missed = 0
            swap = text(
                "UPDATE grades SET user_id = CASE id WHEN :a THEN :b ELSE :a END "
                "WHERE id IN (:a, :b)"
            )
            back = text("UPDATE grades SET user_id = id WHERE id IN (:a, :b)")
            for a in range(1, 41):
                conn.execute(swap, {"a": a, "b": a + 500})  # two rows swap their user
                assert mf.table_stats_by(conn, mf.PG_RECORD_HASH)["grades"] != before
                v3_missed += mf.table_stats_by(conn, mf.PG_RECORD_HASH_V3)["grades"] == v3_before
                conn.execute(back, {"a": a, "b": a + 500})
            assert mf.table_stats_by(conn, mf.PG_RECORD_HASH)["grades"] == before
            assert v3_missed > 0, "the first form's plain sum misses swaps (why v4 exists)"
            conn.execute(text("UPDATE grades SET score = 1.1 WHERE id = 7"))
            assert mf.table_stats_by(conn, mf.PG_RECORD_HASH)["grades"] != before
            assert mf.table_stats_by(conn, mf.PG_RECORD_HASH_V3)["grades"] == v3_before
    finally:
        engine.dispose()


def _with_manifest(archive: Path, target: Path, manifest: dict[str, object]) -> Path:
    with tarfile.open(archive, "r:") as src, tarfile.open(target, "w:") as out:
        for info in src:
            if info.name != MANIFEST_NAME:
                out.addfile(info, src.extractfile(info))
        body = json.dumps(manifest).encode("utf-8")
        info = tarfile.TarInfo(MANIFEST_NAME)
        info.size = len(body)
        out.addfile(info, io.BytesIO(body))
    return target


def test_an_archive_with_v3_checksums_verifies_as_written(scratch_url: str, tmp_path: Path) -> None:
    """An archive written with v3 says so and verifies by v3; the same sums labelled v4 do
    not (the two forms differ, and verify computes the manifest's own)."""
    if make_url(scratch_url).get_backend_name() != "postgresql":
        assert mf.PG_RECORD_HASH_V3 != mf.PG_RECORD_HASH  # SQLite archives never had one
        return
    site = make_site(scratch_url, tmp_path)
    archive = Path(ok_json(site.run("backup", "create", "-o", str(site.backups), "--json"))["path"])
    manifest = read_manifest(archive)
    assert manifest["table_checksum"] == mf.PG_RECORD_HASH
    with site.engine.connect() as conn, conn.begin():
        v3 = {n: s.as_dict() for n, s in mf.table_stats_by(conn, mf.PG_RECORD_HASH_V3).items()}
    manifest["tables"] = v3
    manifest["table_checksum"] = mf.PG_RECORD_HASH_V3
    old = _with_manifest(archive, site.tmp / "v3.tar", manifest)
    assert ok_json(site.run("backup", "verify", str(old), "--json"))["ok"] is True
    manifest["table_checksum"] = mf.PG_RECORD_HASH
    mislabelled = _with_manifest(archive, site.tmp / "v3-as-v4.tar", manifest)
    report = site.run("backup", "verify", str(mislabelled), "--json")
    site.engine.dispose()
    assert report.exit_code != 0 and json.loads(report.stdout)["ok"] is False
