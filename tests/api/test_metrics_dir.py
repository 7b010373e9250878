"""The metrics folder check (admin_ui/api/metrics_dir.py): only prometheus_client's files are
emptied; the data folder, the files folder, or a folder holding anything else is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from admin_ui.api.metrics_dir import MetricsFolderError, prepare_folder
from lms_core.settings import Settings

OWN = ["counter_12.db", "histogram_12.db", "summary_3.db", "gauge_livesum_12.db", "gauge_all_7.db"]


def _settings(tmp_path: Path, database: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{database}", files_dir=tmp_path / "files")


def test_only_prometheus_files_are_emptied(tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    for name in OWN:
        (folder / name).write_bytes(b"x")
    prepare_folder(folder, _settings(tmp_path, tmp_path / "db" / "lms.db"), empty=True)
    assert list(folder.iterdir()) == []


def test_a_missing_folder_is_made(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "metrics"
    prepare_folder(folder, _settings(tmp_path, tmp_path / "lms.db"), empty=False)
    assert folder.is_dir()


@pytest.mark.parametrize("name", ["lms.db", "notes.txt", "counter_x.db", "other_1.db"])
def test_a_folder_holding_anything_else_is_refused_and_kept(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / name).write_bytes(b"keep me")
    (folder / "counter_1.db").write_bytes(b"x")
    with pytest.raises(MetricsFolderError, match=name.replace(".", r"\.")):
        prepare_folder(folder, _settings(tmp_path, tmp_path / "db" / "lms.db"), empty=True)
    assert sorted(p.name for p in folder.iterdir()) == sorted({name, "counter_1.db"})


def test_the_database_folder_is_refused_even_before_the_database_exists(tmp_path: Path) -> None:
    with pytest.raises(MetricsFolderError, match="database's folder"):
        prepare_folder(tmp_path, _settings(tmp_path, tmp_path / "lms.db"), empty=True)


def test_the_files_folder_and_inside_it_are_refused(tmp_path: Path) -> None:
    settings = _settings(tmp_path, tmp_path / "db" / "lms.db")
    for folder in (settings.files_dir, settings.files_dir / "metrics"):
        with pytest.raises(MetricsFolderError, match="LMS_FILES_DIR"):
            prepare_folder(folder, settings, empty=True)
