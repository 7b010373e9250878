"""The files of a OneRoster bundle by OneRoster name, whether a folder or a zip.

Display names say where a row came from as the user sees it: "bundle.zip:users.csv" for a
zip, "oneroster/users.csv" for a folder. A zip made from a folder (files inside one top
folder) reads like one with the files at its root; names match case-insensitively.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from lms_core.formats.archive import open_member
from lms_core.imports.oneroster import spec


class BundleFiles:
    """The CSV files of a bundle by OneRoster name ("users"), from a folder or a zip."""

    def __init__(
        self,
        display: str,
        members: dict[str, str],
        opener: Callable[[str], IO[bytes]],
        separator: str,
        close: Callable[[], None] = lambda: None,
    ) -> None:
        self._display = display
        self._members = members  # OneRoster name -> file or member name
        self._open = opener
        self._separator = separator
        self._digests: dict[str, str] = {}
        self.close = close

    @classmethod
    def folder(cls, path: Path, display: str) -> BundleFiles:
        found = {p.name.lower(): p.name for p in path.iterdir() if p.is_file()}
        return cls(display, _by_name(found), lambda name: (path / name).open("rb"), "/")

    @classmethod
    def zipped(cls, archive: zipfile.ZipFile, display: str) -> BundleFiles:
        infos = {i.filename: i for i in archive.infolist() if not i.is_dir()}
        names = list(infos)
        # Files at the root, or inside the one folder the zip was made from.
        prefix = ""
        if not any("/" not in n and n.lower() == "manifest.csv" for n in names):
            tops = {n.split("/", 1)[0] for n in names if "/" in n}
            if len(tops) == 1:
                prefix = tops.pop() + "/"
        found = {
            n[len(prefix) :].lower(): n
            for n in names
            if n.startswith(prefix) and "/" not in n[len(prefix) :]
        }
        return cls(
            display,
            _by_name(found),
            lambda name: open_member(archive, infos[name]),
            ":",
            archive.close,
        )

    def has(self, name: str) -> bool:
        return name in self._members

    def ignore(self, name: str) -> None:
        """Forget a file the manifest declares absent."""
        self._members.pop(name, None)

    def display(self, name: str) -> str:
        member = self._members.get(name, f"{name}.csv")
        return f"{self._display}{self._separator}{member.rsplit('/', 1)[-1]}"

    def opener(self, name: str) -> Callable[[], IO[bytes]]:
        member = self._members[name]
        return lambda: self._open(member)

    def digest(self, name: str) -> str | None:
        if name not in self._members:
            return None
        if name not in self._digests:
            sha = hashlib.sha256()
            with self._open(self._members[name]) as f:
                while chunk := f.read(1 << 20):
                    sha.update(chunk)
            self._digests[name] = sha.hexdigest()
        return self._digests[name]

    def sha256(self) -> str:
        """Over the bundle's files (name and SHA-256 of each), in name order."""
        sha = hashlib.sha256()
        for name in sorted(self._members):
            sha.update(f"{name}.csv:{self.digest(name)}\n".encode())
        return sha.hexdigest()


def _by_name(found: dict[str, str]) -> dict[str, str]:
    """OneRoster name -> actual file name, matching "Users.CSV" as "users"."""
    return {
        name: found[f"{name.lower()}.csv"]
        for name in ("manifest", *spec.FILES)
        if f"{name.lower()}.csv" in found
    }
