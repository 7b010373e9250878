"""One table's figures in a backup manifest (its own module: the manifest and the SQLite page
checksums both build them, and neither may import the other)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TableStat:
    rows: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "sha256": self.sha256}
