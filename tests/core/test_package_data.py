"""A non-editable install (``pip install .``, a wheel) carries every file the packages read
at run time: the back office's templates and static files, the mail templates, fonts and
migrations. setuptools packs ``.py`` files only, plus what ``[tool.setuptools.package-data]``
lists; a file left out works from a checkout and fails once installed."""

from __future__ import annotations

import tomllib
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[2]
#: Not needed at run time (bytecode caches).
IGNORED = ("__pycache__",)


def _listed(path: PurePosixPath, data: dict[str, list[str]]) -> bool:
    for package, patterns in data.items():
        base = PurePosixPath(*package.split("."))
        if base not in path.parents:
            continue
        inside = path.relative_to(base)
        for pattern in patterns:
            if _match(inside, pattern):
                return True
    return False


def _match(path: PurePosixPath, pattern: str) -> bool:
    """setuptools' glob: ``**`` as any number of folders, none included."""
    import fnmatch

    parts, globs = path.parts, pattern.split("/")

    def match(i: int, j: int) -> bool:
        if j == len(globs):
            return i == len(parts)
        if globs[j] == "**":
            return any(match(k, j + 1) for k in range(i, len(parts) + 1))
        return i < len(parts) and fnmatch.fnmatchcase(parts[i], globs[j]) and match(i + 1, j + 1)

    return match(0, 0)


def test_every_file_the_packages_hold_is_installed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = config["tool"]["setuptools"]
    data: dict[str, list[str]] = setuptools["package-data"]
    roots = [p.rstrip("*") for p in setuptools["packages"]["find"]["include"]]
    missing = []
    for root in roots:
        for file in sorted((ROOT / root).rglob("*")):
            rel = PurePosixPath(file.relative_to(ROOT).as_posix())
            if file.is_dir() or file.suffix in (".py", ".pyc") or set(rel.parts) & set(IGNORED):
                continue
            if not _listed(rel, data):
                missing.append(str(rel))
    assert missing == [], "add these to [tool.setuptools.package-data] in pyproject.toml"


def test_the_double_star_means_any_folder() -> None:
    assert _match(PurePosixPath("templates/admin/imports/plan.html"), "templates/**/*.html")
    assert _match(PurePosixPath("templates/index.html"), "templates/**/*.html")
    assert not _match(PurePosixPath("static/a/b.js"), "static/*")
